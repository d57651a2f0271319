"""Typed application keys: every shared object of the service hangs off the app under one of these."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from collector.config import Settings
from collector.ingest.pipeline import IngestPipeline
from collector.jobs.service import Jobs
from collector.metrics import Metrics
from collector.stream.bus import StreamBus
from store.interface import Store

__all__ = (
    "clock_key",
    "jobs_key",
    "metrics_key",
    "pipeline_key",
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

# per request: the caller's tenant, set by the auth middleware (never taken from the body)
tenant_key = web.RequestKey("tenant", str)

# the scheduled jobs (retention, alerts, webhooks) and the live-stream bus (collector.jobs.wiring)
jobs_key = web.AppKey("jobs", Jobs)
stream_key = web.AppKey("stream", StreamBus)
