"""POST /grafana/query targets -> time series ``{target, datapoints: [[value, ms]]}`` or tables.

Buckets are ``intervalMs`` wide (widened so that at most ``maxDataPoints`` fit the range, and at
least one second), aligned on the epoch; whole-hour steps read the hourly rollups. Empty buckets
are omitted (Grafana fills gaps). Filters come from the target's payload and the dashboard's ad-hoc
filters (operator ``=``; other operators are ignored).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from collector.grafana.catalog import DIMENSIONS, METRICS, Metric
from store.aggregates import (
    Buckets,
    Dimension,
    EventAgg,
    EventAggQuery,
    PercentileQuery,
    SessionAgg,
    SessionAggQuery,
)
from store.analytics import AnalyticsRange, agent_analytics, llm_analytics, tool_analytics
from store.interface import Store
from store.model import SessionQuery

__all__ = ("QueryError", "TargetRequest", "run_target")

MIN_STEP_US: Final = 1_000_000
DEFAULT_POINTS: Final = 1000
MAX_POINTS: Final = 10_000       # a panel is a few thousand pixels wide at most
TABLE_ROWS: Final = 500


class QueryError(ValueError):
    """A target the data source cannot answer (unknown metric, bad payload): 400 with the message."""


@dataclass(frozen=True, slots=True)
class TargetRequest:
    ref_id: str
    metric: str
    from_us: int
    to_us: int
    interval_ms: int | None = None
    max_points: int | None = None
    filters: Mapping[str, str] = field(default_factory=dict)   # agent, model, provider, event_type, tool
    group_by: str | None = None
    table: bool = False

    @property
    def step_us(self) -> int:
        span = max(1, self.to_us - self.from_us)
        step = max(MIN_STEP_US, (self.interval_ms or 0) * 1000)
        points = min(self.max_points, MAX_POINTS) if self.max_points and self.max_points > 0 else DEFAULT_POINTS
        return max(step, -(-span // points))


def _value(metric: Metric, a: EventAgg) -> float | None:
    v = metric.value
    if v == "count":
        return a.event_count
    if v == "errors":
        return a.error_count
    if v == "error_rate":
        return a.error_count / a.event_count if a.event_count else 0.0
    if v == "cost":
        return a.cost_usd
    if v == "input":
        return a.input_tokens
    if v == "output":
        return a.output_tokens
    if v == "tokens":
        return a.input_tokens + a.output_tokens
    return a.duration_sum / a.duration_count if a.duration_count else None   # avg_duration


Point = tuple[str | None, int, float | None]


def _series(ref_id: str, metric: Metric, points: Sequence[Point], table: bool,
            group: str | None) -> list[dict[str, Any]]:
    """[(group value, bucket us, value)] -> one time series per group, or one table."""
    if table:
        columns = [{"text": "Time", "type": "time"}]
        if group:
            columns.append({"text": group, "type": "string"})
        columns.append({"text": metric.name, "type": "number"})
        rows = [[b // 1000, *([g or ""] if group else []), v] for g, b, v in points if v is not None]
        return [{"type": "table", "refId": ref_id, "columns": columns, "rows": rows}]
    series: dict[str | None, list[list[float | int]]] = {}
    for g, b, v in points:
        if v is not None:
            series.setdefault(g, []).append([v, b // 1000])
    return [{"target": (g or "(none)") if group else metric.name, "refId": ref_id, "datapoints": dps}
            for g, dps in series.items()]


def _dims_query(t: TargetRequest, metric: Metric) -> tuple[tuple[Dimension, ...], dict[str, Any]]:
    allowed = set(metric.group_by)
    if t.group_by and t.group_by != "none" and t.group_by not in allowed:
        raise QueryError(f"metric {metric.name!r} cannot be grouped by {t.group_by!r}: use "
                         f"{', '.join(sorted(allowed)) or 'nothing'}")
    group: tuple[Dimension, ...] = (DIMENSIONS[t.group_by],) if t.group_by and t.group_by != "none" else ()  # type: ignore[assignment]
    filters = {DIMENSIONS[k]: v for k, v in t.filters.items() if k in DIMENSIONS and k != "event_type"}
    return group, filters


def _event_types(t: TargetRequest, metric: Metric) -> tuple[str, ...] | None:
    """The metric's event types narrowed by an event_type filter (None: nothing can match)."""
    wanted = t.filters.get("event_type")
    if wanted is None:
        return metric.event_types
    if metric.event_types and wanted not in metric.event_types:
        return None
    return (wanted,)


# metrics the session rollup can answer per agent: value from a SessionAgg, None when nothing counted
_PER_AGENT: Final[dict[str, Callable[[SessionAgg], float | None]]] = {
    "events": lambda a: a.event_count,
    "errors": lambda a: a.error_count,
    "error_rate": lambda a: a.error_count / a.event_count if a.event_count else 0.0,
    "cost_usd": lambda a: a.cost_usd if a.cost_count else None,
    "input_tokens": lambda a: a.input_tokens if a.cost_count else None,
    "output_tokens": lambda a: a.output_tokens if a.cost_count else None,
    "total_tokens": lambda a: a.input_tokens + a.output_tokens if a.cost_count else None,
    "tool_calls": lambda a: a.tool_call_count or None,
    "tool_latency": lambda a: a.latency_sum / a.latency_count if a.latency_count else None,
}


async def _per_agent(store: Store, tenant: str, t: TargetRequest, metric: Metric) -> list[dict[str, Any]]:
    """Per-agent figures from the session rollup (the type rollup has no agent dimension)."""
    by_agent = t.group_by == "agent"
    rows = await store.aggregate_sessions(tenant, SessionAggQuery(
        t.from_us, t.to_us, buckets=Buckets(step_us=t.step_us), by_agent=by_agent, agent_id=t.filters.get("agent")))
    value = _PER_AGENT[metric.name]
    points: list[Point] = [(r.agent_id if by_agent else None, r.bucket_us or 0, value(r)) for r in rows]
    return _series(t.ref_id, metric, points, t.table, "agent" if by_agent else None)


async def _events(store: Store, tenant: str, t: TargetRequest, metric: Metric) -> list[dict[str, Any]]:
    if (metric.name in _PER_AGENT and (t.group_by == "agent" or "agent" in t.filters)
            and set(t.filters) <= {"agent"}):
        return await _per_agent(store, tenant, t, metric)
    group, filters = _dims_query(t, metric)
    types = _event_types(t, metric)
    if types is None:
        return _series(t.ref_id, metric, [], t.table, t.group_by if group else None)
    buckets = Buckets(step_us=t.step_us)
    if metric.kind == "percentile":
        pct = metric.percentile or 0.5
        rows = await store.duration_percentiles(tenant, PercentileQuery(
            t.from_us, t.to_us, types, (pct,), buckets=buckets, group_by=group, **filters))
        points: list[Point] = [(r.keys[0] if group else None, r.bucket_us or 0, r.values[0]) for r in rows]
    else:
        aggs = await store.aggregate_events(tenant, EventAggQuery(
            t.from_us, t.to_us, buckets=buckets, group_by=group, event_types=types, **filters))
        points = [(a.keys[0] if group else None, a.bucket_us or 0, _value(metric, a)) for a in aggs]
    return _series(t.ref_id, metric, points, t.table, t.group_by if group else None)


async def _sessions(store: Store, tenant: str, t: TargetRequest, metric: Metric) -> list[dict[str, Any]]:
    group, _ = _dims_query(t, metric)
    rows = await store.aggregate_sessions(tenant, SessionAggQuery(
        t.from_us, t.to_us, buckets=Buckets(step_us=t.step_us), by_agent=bool(group),
        agent_id=t.filters.get("agent")))
    points: list[Point] = [(r.agent_id if group else None, r.bucket_us or 0, float(r.sessions)) for r in rows]
    return _series(t.ref_id, metric, points, t.table, "agent" if group else None)


def _table(ref_id: str, columns: list[tuple[str, str]], rows: list[list[Any]]) -> list[dict[str, Any]]:
    return [{"type": "table", "refId": ref_id, "columns": [{"text": c, "type": k} for c, k in columns],
             "rows": rows[:TABLE_ROWS]}]


async def _tables(store: Store, tenant: str, t: TargetRequest) -> list[dict[str, Any]]:
    f = t.filters
    r = AnalyticsRange(t.from_us, t.to_us, agent_id=f.get("agent"), model=f.get("model"), provider=f.get("provider"))
    num, txt = "number", "string"
    if t.metric in ("tools_table", "failing_tools"):
        tools = (await tool_analytics(store, tenant, r))["tools"]
        if t.metric == "failing_tools":
            tools = sorted((x for x in tools if x["errorCount"]), key=lambda x: (-x["errorCount"], x["toolName"]))
        return _table(t.ref_id, [("Tool", txt), ("Calls", num), ("Errors", num), ("Error rate", num),
                                 ("Avg duration (ms)", num), ("P95 duration (ms)", num)],
                      [[x["toolName"], x["callCount"], x["errorCount"], x["errorRate"], x["avgDurationMs"],
                        x["p95DurationMs"]] for x in tools])
    if t.metric == "models_table":
        models = (await llm_analytics(store, tenant, r))["byModel"]
        return _table(t.ref_id, [("Provider", txt), ("Model", txt), ("Calls", num), ("Cost (USD)", num),
                                 ("Input tokens", num), ("Output tokens", num), ("Avg latency (ms)", num),
                                 ("P50 latency (ms)", num), ("P95 latency (ms)", num)],
                      [[m["provider"], m["model"], m["calls"], m["costUsd"], m["inputTokens"], m["outputTokens"],
                        m["avgLatencyMs"], m["p50LatencyMs"], m["p95LatencyMs"]] for m in models])
    if t.metric == "agents_table":
        agents = (await agent_analytics(store, tenant, r))["agents"]
        return _table(t.ref_id, [("Agent", txt), ("Sessions", num), ("Events", num), ("Errors", num),
                                 ("Error rate", num), ("Cost (USD)", num), ("Avg duration (ms)", num)],
                      [[a["agentId"], a["sessionCount"], a["totalEvents"], a["totalErrors"], a["errorRate"],
                        a["totalCostUsd"], a["avgDurationMs"]] for a in agents])
    page = await store.query_sessions(tenant, SessionQuery(agent_id=f.get("agent"), from_us=t.from_us,
                                                           to_us=t.to_us, limit=TABLE_ROWS))
    return _table(t.ref_id, [("Started", "time"), ("Session", txt), ("Agent", txt), ("Status", txt),
                             ("Events", num), ("Errors", num), ("Cost (USD)", num)],
                  [[_ms(s.started_at), s.id, s.agent_id, "idle" if s.idle else s.status, s.event_count,
                    s.error_count, s.total_cost_usd] for s in page.sessions])


def _ms(text: str) -> int | None:
    from store.timefmt import parse_rfc3339

    try:
        return parse_rfc3339(text) // 1000
    except ValueError:
        return None


async def run_target(store: Store, tenant: str, t: TargetRequest) -> list[dict[str, Any]]:
    metric = METRICS.get(t.metric)
    if metric is None:
        raise QueryError(f"unknown metric {t.metric!r}: POST /grafana/metrics lists them")
    if metric.kind == "table":
        return await _tables(store, tenant, t)
    if metric.kind == "sessions":
        return await _sessions(store, tenant, t, metric)
    return await _events(store, tenant, t, metric)
