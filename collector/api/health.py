"""GET /api/health (with a database check), GET /api/stats and GET /metrics."""

from __future__ import annotations

from aiohttp import web

from collector import __version__
from collector.api.serialize import stats_json
from collector.appkeys import metrics_key, store_key
from collector.httputil import json_response, tenant_of
from collector.metrics import CONTENT_TYPE
from store.errors import StoreError

__all__ = ("health", "metrics", "stats")


async def health(request: web.Request) -> web.Response:
    try:
        latency = await request.app[store_key].ping()
    except StoreError:
        return json_response(
            {"status": "degraded", "version": __version__, "db": {"ok": False, "latencyMs": None}}, status=503,
        )
    return json_response({"status": "ok", "version": __version__, "db": {"ok": True, "latencyMs": round(latency, 3)}})


async def stats(request: web.Request) -> web.Response:
    return json_response(stats_json(await request.app[store_key].get_stats(tenant_of(request))))


async def metrics(request: web.Request) -> web.Response:
    body = request.app[metrics_key].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
