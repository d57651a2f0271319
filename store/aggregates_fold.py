"""Turn aggregation rows into results the same way on both backends (percentiles, totals, agents)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from store.aggregates import (
    AgentSessionStats,
    PercentileQuery,
    PercentileRow,
    SessionAgg,
    format_bucket,
    interpolate,
    percentile_rank,
)
from store.model import AnalyticsBucket, AnalyticsResult, AnalyticsTotals
from store.timefmt import parse_rfc3339

__all__ = ("agent_stats", "analytics_result", "percentile_rows")


def _avg(total: float, count: int) -> float:
    return total / count if count else 0.0


def analytics_result(buckets: Sequence[SessionAgg], totals: Sequence[SessionAgg]) -> AnalyticsResult:
    """GET /api/analytics from per-bucket rows and the single totals row (none when no events)."""
    out = tuple(
        AnalyticsBucket(
            timestamp=format_bucket(b.bucket_us or 0), event_count=b.event_count, tool_call_count=b.tool_call_count,
            error_count=b.error_count, avg_latency_ms=_avg(b.latency_sum, b.latency_count),
            total_cost_usd=b.cost_usd, unique_sessions=b.sessions,
        )
        for b in buckets
    )
    if not totals:
        return AnalyticsResult(out, AnalyticsTotals(0, 0, 0, 0.0, 0.0, 0, 0))
    t = totals[0]
    return AnalyticsResult(out, AnalyticsTotals(
        event_count=t.event_count, tool_call_count=t.tool_call_count, error_count=t.error_count,
        avg_latency_ms=_avg(t.latency_sum, t.latency_count), total_cost_usd=t.cost_usd,
        unique_sessions=t.sessions, unique_agents=t.agents,
    ))


def percentile_rows(found: Sequence[Sequence[Any]], query: PercentileQuery) -> list[PercentileRow]:
    """Rows of (bucket, *group values, n, i, value) at the needed ranks -> one PercentileRow per group."""
    n_keys = len(query.group_by)
    groups: dict[tuple[Any, ...], tuple[int, dict[int, float]]] = {}
    for r in found:
        key = tuple(r[:1 + n_keys])
        n, i, value = int(r[1 + n_keys]), int(r[2 + n_keys]), float(r[3 + n_keys])
        entry = groups.setdefault(key, (n, {}))
        entry[1][i] = value
    out: list[PercentileRow] = []
    for key, (n, ranked) in groups.items():
        values = []
        for p in query.percentiles:
            low, fraction = percentile_rank(n, p)
            values.append(interpolate(ranked[low], ranked.get(low + 1), fraction))
        bucket = None if key[0] is None else int(key[0])
        out.append(PercentileRow(bucket, tuple(v if v else None for v in key[1:]), n, tuple(values)))
    out.sort(key=lambda row: (row.bucket_us or 0, tuple(k or "" for k in row.keys)))
    return out


def agent_stats(totals: Sequence[Sequence[Any]], ended: Sequence[Sequence[Any]]) -> list[AgentSessionStats]:
    """Per-agent sums from the sessions table plus the mean duration of its ended sessions."""
    durations: dict[str, tuple[int, float]] = {}
    for agent, started_ts, ended_at in ended:
        try:
            ended_us = parse_rfc3339(str(ended_at))
        except ValueError:
            continue
        count, total = durations.get(agent, (0, 0.0))
        durations[agent] = (count + 1, total + (ended_us - int(started_ts)) / 1000)
    out = []
    for agent, sessions, events, errors, cost in totals:
        count, total = durations.get(agent, (0, 0.0))
        out.append(AgentSessionStats(
            agent_id=agent, session_count=int(sessions), event_count=int(events or 0), error_count=int(errors or 0),
            cost_usd=float(cost or 0), ended_count=count, duration_sum_ms=total,
        ))
    out.sort(key=lambda a: (-a.session_count, a.agent_id))
    return out
