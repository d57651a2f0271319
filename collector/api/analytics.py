"""GET /api/analytics and its costs, llm, tools and agents breakdowns (api.md §5, upstream §5.8)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

from aiohttp import web

from collector.appkeys import clock_key, store_key
from collector.httputil import ApiError, json_response, parse_bool, parse_time_param, tenant_of
from store.analytics import AnalyticsRange, agent_analytics, cost_analytics, llm_analytics, tool_analytics
from store.model import AnalyticsParams, AnalyticsResult, Granularity

__all__ = (
    "RANGES",
    "analytics",
    "analytics_agents",
    "analytics_costs",
    "analytics_llm",
    "analytics_range",
    "analytics_tools",
)

HOUR_US: Final = 3_600_000_000
# ``range`` is used only when ``from`` is absent; an unknown value means 24h (as upstream)
RANGES: Final = {"1h": 1, "6h": 6, "24h": 24, "3d": 72, "7d": 168, "30d": 720}
GRANULARITIES: Final = ("hour", "day", "week")


def analytics_range(request: web.Request, *, granularity: str) -> AnalyticsRange:
    """from/to/range/granularity/agentId/model/provider/excludeMetrics of an analytics request."""
    qs: Mapping[str, str] = request.query
    raw = qs.get("granularity") or granularity
    if raw not in GRANULARITIES:
        raise ApiError(400, "Invalid granularity. Use: hour, day, week")
    to_us = parse_time_param(qs, "to")
    if to_us is None:
        to_us = request.app[clock_key]()
    from_us = parse_time_param(qs, "from")
    if from_us is None:
        from_us = to_us - RANGES.get(qs.get("range", ""), 24) * HOUR_US
    if from_us > to_us:
        raise ApiError(400, "Invalid range: 'from' is after 'to'")
    return AnalyticsRange(
        from_us, to_us, cast(Granularity, raw), agent_id=qs.get("agentId") or None, model=qs.get("model") or None,
        provider=qs.get("provider") or None, exclude_metrics=parse_bool(qs.get("excludeMetrics")),
    )


def _result_json(result: AnalyticsResult) -> dict[str, Any]:
    t = result.totals
    return {
        "buckets": [
            {"timestamp": b.timestamp, "eventCount": b.event_count, "toolCallCount": b.tool_call_count,
             "errorCount": b.error_count, "avgLatencyMs": b.avg_latency_ms, "totalCostUsd": b.total_cost_usd,
             "uniqueSessions": b.unique_sessions}
            for b in result.buckets
        ],
        "totals": {"eventCount": t.event_count, "toolCallCount": t.tool_call_count, "errorCount": t.error_count,
                   "avgLatencyMs": t.avg_latency_ms, "totalCostUsd": t.total_cost_usd,
                   "uniqueSessions": t.unique_sessions, "uniqueAgents": t.unique_agents},
    }


async def analytics(request: web.Request) -> web.Response:
    r = analytics_range(request, granularity="hour")
    params = AnalyticsParams(r.from_us, r.to_us, r.granularity, r.agent_id, r.exclude_metrics)
    return json_response(_result_json(await request.app[store_key].get_analytics(tenant_of(request), params)))


async def analytics_costs(request: web.Request) -> web.Response:
    r = analytics_range(request, granularity="day")
    return json_response(await cost_analytics(request.app[store_key], tenant_of(request), r))


async def analytics_llm(request: web.Request) -> web.Response:
    r = analytics_range(request, granularity="hour")
    return json_response(await llm_analytics(request.app[store_key], tenant_of(request), r))


async def analytics_tools(request: web.Request) -> web.Response:
    r = analytics_range(request, granularity="hour")
    return json_response(await tool_analytics(request.app[store_key], tenant_of(request), r))


async def analytics_agents(request: web.Request) -> web.Response:
    r = analytics_range(request, granularity="hour")
    return json_response(await agent_analytics(request.app[store_key], tenant_of(request), r))
