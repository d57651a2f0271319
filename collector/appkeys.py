"""Typed application keys: every shared object of the service hangs off the app under one of these."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from collector.config import Settings
from collector.ingest.pipeline import IngestPipeline
from collector.jobs.service import Jobs
from collector.keys import Authenticator, Principal
from collector.metrics import Metrics
from collector.stream.bus import StreamBus
from store.interface import Store

__all__ = (
    "auth_renderers_key",
    "authenticator_key",
    "clock_key",
    "jobs_key",
    "metrics_key",
    "pipeline_key",
    "principal_key",
    "settings_key",
    "store_key",
    "stream_key",
    "tenant_key",
)

settings_key = web.AppKey("settings", Settings)
store_key = web.AppKey("store", Store)
pipeline_key = web.AppKey("pipeline", IngestPipeline)
metrics_key = web.AppKey("metrics", Metrics)
# unix microseconds; tests inject a controlled clock
clock_key: web.AppKey[Callable[[], int]] = web.AppKey("clock")
authenticator_key = web.AppKey("authenticator", Authenticator)
# path prefix -> renders an auth failure (request, status, message) in that protocol's error format;
# the OTLP receiver registers one for /v1/ (google.rpc.Status in the request's encoding)
auth_renderers_key: web.AppKey[dict[str, Callable[[web.Request, int, str], web.StreamResponse]]] = web.AppKey(
    "auth_renderers"
)

# per request: the caller's tenant, set by the auth middleware (never taken from the body)
tenant_key = web.RequestKey("tenant", str)
# per request: who is calling (key id, tenant, role, scopes), set by the auth middleware
principal_key = web.RequestKey("principal", Principal)

# the scheduled jobs (retention, alerts, webhooks) and the live-stream bus (collector.jobs.wiring)
jobs_key = web.AppKey("jobs", Jobs)
stream_key = web.AppKey("stream", StreamBus)
