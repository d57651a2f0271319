"""The analytics breakdowns (costs, LLM, tools, agents) composed from the store's aggregation primitives.

Each function answers one /api/analytics/* route in its JSON shape (upstream AgentLens §5.8, plus
the LLM and tool latency percentiles). Costs everywhere are ``cost_tracked`` + ``llm_response``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from store.aggregates import Buckets, EventAgg, EventAggQuery, PercentileQuery, SessionAggQuery, format_bucket
from store.interface import Store
from store.model import Granularity

__all__ = ("AnalyticsRange", "agent_analytics", "cost_analytics", "llm_analytics", "tool_analytics")

COST_TYPES = ("cost_tracked", "llm_response")
TOOL_TYPES = ("tool_call", "tool_response", "tool_error")
TOP_SESSIONS = 100
PERCENTILES = (0.5, 0.95)


@dataclass(frozen=True, slots=True)
class AnalyticsRange:
    from_us: int
    to_us: int
    granularity: Granularity = "hour"
    agent_id: str | None = None
    model: str | None = None
    provider: str | None = None
    exclude_metrics: bool = False

    def events(self, event_types: tuple[str, ...], **extra: Any) -> EventAggQuery:
        return EventAggQuery(self.from_us, self.to_us, event_types=event_types, agent_id=self.agent_id,
                             model=self.model, provider=self.provider, exclude_metrics=self.exclude_metrics, **extra)

    def percentiles(self, event_types: tuple[str, ...], group_by: tuple[Any, ...]) -> PercentileQuery:
        return PercentileQuery(self.from_us, self.to_us, event_types, PERCENTILES, group_by=group_by,
                               agent_id=self.agent_id, model=self.model, provider=self.provider,
                               exclude_metrics=self.exclude_metrics)


def _avg(total: float, count: int) -> float:
    return total / count if count else 0.0


def _sum(rows: Iterable[EventAgg]) -> dict[str, Any]:
    t: dict[str, Any] = {"count": 0, "errors": 0, "cost": 0.0, "input": 0, "output": 0, "cache_read": 0,
                         "cache_write": 0, "dur_sum": 0.0, "dur_count": 0}
    for r in rows:
        t["count"] += r.event_count
        t["errors"] += r.error_count
        t["cost"] += r.cost_usd
        t["input"] += r.input_tokens
        t["output"] += r.output_tokens
        t["cache_read"] += r.cache_read_tokens
        t["cache_write"] += r.cache_write_tokens
        t["dur_sum"] += r.duration_sum
        t["dur_count"] += r.duration_count
    return t


def _group(rows: Iterable[EventAgg], key: Any) -> dict[Any, list[EventAgg]]:
    out: dict[Any, list[EventAgg]] = {}
    for r in rows:
        out.setdefault(key(r), []).append(r)
    return out


async def cost_analytics(store: Store, tenant: str, r: AnalyticsRange) -> dict[str, Any]:
    # per agent (and per agent over time) from the session rollup; per model and tool from the type rollup
    sessions_query = SessionAggQuery(r.from_us, r.to_us, Buckets(r.granularity), by_agent=True, agent_id=r.agent_id,
                                     exclude_metrics=r.exclude_metrics)
    agent_rows = [a for a in await store.aggregate_sessions(tenant, sessions_query) if a.cost_count]
    models = await store.aggregate_events(tenant, r.events(COST_TYPES, group_by=("model",)))
    tools = await store.aggregate_events(tenant, r.events(COST_TYPES + TOOL_TYPES, group_by=("tool_name",),
                                                          has_tool_name=True))
    sessions = await store.top_sessions_by_cost(tenant, replace(sessions_query, buckets=Buckets(), by_agent=False),
                                                TOP_SESSIONS)
    by_agent: dict[str, dict[str, Any]] = {}
    over_time: dict[int, dict[str, Any]] = {}
    for a in agent_rows:
        agent = a.agent_id or ""
        entry = by_agent.setdefault(agent, {"agentId": agent, "totalCostUsd": 0.0, "totalInputTokens": 0,
                                            "totalOutputTokens": 0, "totalTokens": 0, "cacheReadTokens": 0,
                                            "cacheWriteTokens": 0, "eventCount": 0})
        entry["totalCostUsd"] += a.cost_usd
        entry["totalInputTokens"] += a.input_tokens
        entry["totalOutputTokens"] += a.output_tokens
        entry["totalTokens"] += a.input_tokens + a.output_tokens
        entry["cacheReadTokens"] += a.cache_read_tokens
        entry["cacheWriteTokens"] += a.cache_write_tokens
        entry["eventCount"] += a.cost_count
        bucket = over_time.setdefault(a.bucket_us or 0, {"bucket": format_bucket(a.bucket_us or 0),
                                                         "totalCostUsd": 0.0, "eventCount": 0, "byAgent": {}})
        bucket["totalCostUsd"] += a.cost_usd
        bucket["eventCount"] += a.cost_count
        bucket["byAgent"][agent] = bucket["byAgent"].get(agent, 0.0) + a.cost_usd
    total = _sum(models)
    return {
        "byAgent": sorted(by_agent.values(), key=lambda a: (-a["totalCostUsd"], a["agentId"])),
        "byModel": sorted(({"model": m.keys[0] or "unknown", "totalCostUsd": m.cost_usd, "eventCount": m.event_count}
                           for m in models), key=lambda m: (-m["totalCostUsd"], m["model"])),
        "bySession": [{"sessionId": s.session_id, "totalCostUsd": s.cost_usd, "eventCount": s.cost_count}
                      for s in sessions],
        "byTool": sorted(({"toolName": t.keys[0], "totalCostUsd": t.cost_usd, "eventCount": t.event_count}
                          for t in tools), key=lambda x: (-x["totalCostUsd"], -x["eventCount"], x["toolName"])),
        "overTime": [over_time[k] for k in sorted(over_time)],
        "totals": {"totalCostUsd": total["cost"], "totalInputTokens": total["input"],
                   "totalOutputTokens": total["output"], "totalTokens": total["input"] + total["output"]},
    }


async def llm_analytics(store: Store, tenant: str, r: AnalyticsRange) -> dict[str, Any]:
    types = ("llm_response",)
    rows = await store.aggregate_events(tenant, r.events(types, buckets=Buckets(r.granularity),
                                                          group_by=("provider", "model")))
    per_model = await store.duration_percentiles(tenant, r.percentiles(types, ("provider", "model")))
    overall = await store.duration_percentiles(tenant, r.percentiles(types, ()))
    latency = {tuple(p.keys): p.values for p in per_model}
    by_model = []
    for (provider, model), group in _group(rows, lambda x: tuple(x.keys)).items():
        t = _sum(group)
        p50, p95 = latency.get((provider, model), (None, None))
        by_model.append({"provider": provider, "model": model, "calls": t["count"], "costUsd": t["cost"],
                         "inputTokens": t["input"], "outputTokens": t["output"],
                         "avgLatencyMs": _avg(t["dur_sum"], t["dur_count"]), "p50LatencyMs": p50,
                         "p95LatencyMs": p95})
    by_time = []
    for bucket, group in _group(rows, lambda x: x.bucket_us).items():
        t = _sum(group)
        by_time.append({"bucket": format_bucket(bucket or 0), "calls": t["count"], "costUsd": t["cost"],
                        "inputTokens": t["input"], "outputTokens": t["output"],
                        "avgLatencyMs": _avg(t["dur_sum"], t["dur_count"])})
    total = _sum(rows)
    p50, p95 = overall[0].values if overall else (None, None)
    return {
        "summary": {"totalCalls": total["count"], "totalCostUsd": total["cost"],
                    "totalInputTokens": total["input"], "totalOutputTokens": total["output"],
                    "avgLatencyMs": _avg(total["dur_sum"], total["dur_count"]),
                    "avgCostPerCall": _avg(total["cost"], total["count"]), "p50LatencyMs": p50, "p95LatencyMs": p95},
        "byModel": sorted(by_model, key=lambda m: (-m["calls"], m["provider"] or "", m["model"] or "")),
        "byTime": by_time,
    }


async def tool_analytics(store: Store, tenant: str, r: AnalyticsRange) -> dict[str, Any]:
    q = replace(r, model=None, provider=None)
    rows = await store.aggregate_events(tenant, q.events(TOOL_TYPES, group_by=("tool_name", "event_type"),
                                                          has_tool_name=True))
    durations = await store.duration_percentiles(
        tenant, q.percentiles(("tool_response", "tool_error"), ("tool_name",)))
    latency = {p.keys[0]: p.values for p in durations}
    tools = []
    for tool, group in _group(rows, lambda x: x.keys[0]).items():
        calls = sum(g.event_count for g in group)
        errors = sum(g.event_count for g in group if g.keys[1] == "tool_error")
        timed = [g for g in group if g.keys[1] in ("tool_response", "tool_error")]
        p50, p95 = latency.get(tool, (None, None))
        tools.append({"toolName": tool, "callCount": calls, "errorCount": errors, "errorRate": _avg(errors, calls),
                      "avgDurationMs": _avg(sum(g.duration_sum for g in timed), sum(g.duration_count for g in timed)),
                      "p50DurationMs": p50, "p95DurationMs": p95})
    return {"tools": sorted(tools, key=lambda t: (-t["callCount"], t["toolName"] or ""))}


async def agent_analytics(store: Store, tenant: str, r: AnalyticsRange) -> dict[str, Any]:
    agents = await store.agent_session_stats(tenant, r.from_us, r.to_us)
    return {"agents": [
        {"agentId": a.agent_id, "sessionCount": a.session_count, "totalEvents": a.event_count,
         "totalErrors": a.error_count, "errorRate": _avg(a.error_count, a.event_count), "totalCostUsd": a.cost_usd,
         "avgDurationMs": _avg(a.duration_sum_ms, a.ended_count)}
        for a in agents if r.agent_id is None or a.agent_id == r.agent_id
    ]}
