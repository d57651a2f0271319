"""Turn aggregation rows into results the same way on both backends (percentiles, totals, agents)."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
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

__all__ = ("PercentileFold", "agent_stats", "analytics_result", "percentile_rows", "session_aggs")


def session_aggs(found: Iterable[Sequence[Any]]) -> tuple[list[SessionAgg], list[SessionAgg]]:
    """Rows of (kind, bucket, agent, sessions, agents, counters...) -> (per-bucket rows, the totals row)."""
    buckets: list[SessionAgg] = []
    totals: list[SessionAgg] = []
    for r in found:
        if not r[5]:          # a group without events (only possible for the totals of an empty range)
            continue
        (totals if r[0] else buckets).append(SessionAgg(
            bucket_us=None if r[1] is None else int(r[1]), agent_id=r[2], sessions=int(r[3]), agents=int(r[4]),
            event_count=int(r[5]), tool_call_count=int(r[6] or 0), error_count=int(r[7] or 0),
            latency_sum=float(r[8] or 0), latency_count=int(r[9] or 0), cost_usd=float(r[10] or 0),
            cost_count=int(r[11] or 0), input_tokens=int(r[12]), output_tokens=int(r[13]),
            cache_read_tokens=int(r[14]), cache_write_tokens=int(r[15]),
        ))
    return buckets, totals


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


class PercentileFold:
    """Percentiles from rows of (bucket, *group values, duration) sorted by group, then duration.

    Fed in chunks (SQLite streams them); holds only the current group's values.
    """

    def __init__(self, query: PercentileQuery) -> None:
        self.query = query
        self.n_keys = len(query.group_by)
        self.key: tuple[Any, ...] | None = None
        self.values: array[float] = array("d")
        self.rows: list[PercentileRow] = []

    def feed(self, rows: Iterable[Sequence[Any]]) -> None:
        n = self.n_keys
        for r in rows:
            key = tuple(r[:1 + n])
            if key != self.key:
                self._close()
                self.key = key
            self.values.append(float(r[1 + n]))

    def _close(self) -> None:
        if self.key is None or not self.values:
            return
        vs, count = self.values, len(self.values)
        picked = []
        for p in self.query.percentiles:
            low, fraction = percentile_rank(count, p)
            picked.append(interpolate(vs[low], vs[low + 1] if low + 1 < count else None, fraction))
        bucket = None if self.key[0] is None else int(self.key[0])
        self.rows.append(PercentileRow(bucket, tuple(k if k else None for k in self.key[1:]), count, tuple(picked)))
        self.values = array("d")

    def result(self) -> list[PercentileRow]:
        self._close()
        self.key = None
        return self.rows


def percentile_rows(found: Sequence[Sequence[Any]], query: PercentileQuery) -> list[PercentileRow]:
    """Rows of (bucket, *group values, n, [percentile values]) -> PercentileRows (PostgreSQL's path)."""
    n = len(query.group_by)
    return [
        PercentileRow(None if r[0] is None else int(r[0]), tuple(k if k else None for k in r[1:1 + n]), int(r[1 + n]),
                      tuple(float(v) for v in r[2 + n]))
        for r in found
    ]


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
