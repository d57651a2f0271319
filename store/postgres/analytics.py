"""PostgresStore's analytics and spans half: rollup upkeep in the ingest transaction, aggregations, span reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import asyncpg

from store import records
from store.aggregate_reads import AggregateReads, AggregateSql
from store.aggregates import (
    HOUR_US,
    AgentSessionStats,
    PercentileQuery,
    PercentileRow,
    rollup_rows,
    span_cutoff_ns,
)
from store.aggregates_fold import agent_stats, percentile_rows
from store.model import StoredEvent
from store.plan import EventRow
from store.postgres import queries as q
from store.postgres import rows
from store.postgres.connections import PgConnections
from store.spans import NewSpan, StoredSpan

__all__ = ("AnalyticsMixin", "after_retention", "write_rollups_and_spans")

_SPAN_DELETE_BATCH = 5000
_MAX_TRACE_SESSIONS = 500


async def write_rollups_and_spans(
    conn: asyncpg.Connection, event_rows: Sequence[EventRow], spans: Sequence[NewSpan],
) -> None:
    """Inside the insert transaction: rollup increments (sorted keys), then spans (sorted keys)."""
    if event_rows:
        session_rows, type_rows = rollup_rows(event_rows)
        await conn.execute(q.UPSERT_ROLLUP_SESSIONS, *rows.columns(session_rows))
        await conn.execute(q.UPSERT_ROLLUP_TYPES, *rows.columns(type_rows))
    if not spans:
        return
    resources: dict[tuple[str, str], tuple[str, int]] = {}
    unique: dict[tuple[str, str, str], NewSpan] = {}
    for s in spans:
        unique.setdefault((s.tenant_id, s.trace_id, s.span_id), s)
        key = (s.tenant_id, s.resource_key)
        seen = resources.get(key)
        if seen is None or s.start_ns > seen[1]:
            resources[key] = (s.resource_json, s.start_ns)
    ordered = sorted(resources.items())
    await conn.execute(q.UPSERT_SPAN_RESOURCES, [k[0] for k, _ in ordered], [k[1] for k, _ in ordered],
                       [v[0] for _, v in ordered], [v[1] for _, v in ordered])
    span_rows = [(
        s.tenant_id, s.trace_id, s.span_id, s.parent_span_id, s.session_id, s.agent_id, s.service_name, s.name,
        s.kind, s.start_ns, s.end_ns, s.duration_ns, s.status_code, s.resource_key, s.body_json,
    ) for _, s in sorted(unique.items())]
    await conn.execute(q.INSERT_SPANS, *rows.columns(span_rows))


async def after_retention(conns: PgConnections, tenant: str, cutoff_us: int, batch_size: int) -> None:
    """Events up to ``cutoff_us`` are gone: fix the rollups and delete the spans that started by then."""
    hour = cutoff_us - cutoff_us % HOUR_US

    async def rollups(conn: asyncpg.Connection) -> None:
        await conn.execute(q.DELETE_ROLLUP_SESSIONS_UNTIL, tenant, hour)
        await conn.execute(q.DELETE_ROLLUP_TYPES_UNTIL, tenant, hour)
        await conn.execute(q.RECOMPUTE_ROLLUP_SESSIONS, tenant, hour, hour + HOUR_US)
        await conn.execute(q.RECOMPUTE_ROLLUP_TYPES, tenant, hour, hour + HOUR_US)

    await conns.transaction(rollups)
    cutoff_ns = span_cutoff_ns(cutoff_us)
    size = batch_size or _SPAN_DELETE_BATCH

    async def spans_batch(conn: asyncpg.Connection) -> int:
        status = await conn.execute(q.DELETE_SPANS_BATCH, tenant, cutoff_ns, size)
        deleted = int(status.rsplit(" ", 1)[-1])
        if deleted < size:
            await conn.execute(q.DELETE_STALE_SPAN_RESOURCES, tenant, cutoff_ns)
        return deleted

    while await conns.transaction(spans_batch) >= size:
        pass


class AnalyticsMixin(AggregateReads):
    """Aggregations (rollups + the events at the range's edges) and the span reads of the Tempo API."""

    _c: PgConnections
    _sql: ClassVar[AggregateSql] = q

    async def _rows(self, sql: str, args: Sequence[object]) -> list[Sequence[Any]]:
        return [rows.seq(r) for r in await self._c.fetch(sql, *args)]

    async def duration_percentiles(self, tenant: str, query: PercentileQuery) -> list[PercentileRow]:
        if query.from_us > query.to_us or not query.percentiles:
            return []
        sql, args = q.duration_percentiles(tenant, query)
        return percentile_rows([list(r) for r in await self._c.fetch(sql, *args)], query)

    async def agent_session_stats(self, tenant: str, from_us: int, to_us: int) -> list[AgentSessionStats]:
        async def work(conn: asyncpg.Connection) -> list[AgentSessionStats]:
            totals = await conn.fetch(q.AGENT_SESSION_TOTALS, tenant, from_us, to_us)
            ended = await conn.fetch(q.AGENT_ENDED_SESSIONS, tenant, from_us, to_us)
            return agent_stats([list(r) for r in totals], [list(r) for r in ended])

        return await self._c.snapshot(work)

    # ------------------------------------------------------------------ spans

    async def get_trace_spans(self, tenant: str, trace_ids: Sequence[str]) -> list[StoredSpan]:
        ids = list(dict.fromkeys(trace_ids))
        if not ids:
            return []
        found = [records.stored_span(r) for r in await self._c.fetch(q.SELECT_TRACE_SPANS, tenant, ids)]
        found.sort(key=lambda s: (s.trace_id, s.start_ns, s.span_id))
        return found

    async def get_trace_events(
        self, tenant: str, session_ids: Sequence[str], from_us: int, to_us: int, limit: int,
    ) -> list[StoredEvent]:
        ids = list(dict.fromkeys(session_ids))[:_MAX_TRACE_SESSIONS]
        if not ids:
            return []
        found = await self._c.fetch(q.SELECT_TRACE_EVENTS, tenant, ids, from_us, to_us, limit)
        return [rows.stored_event(r) for r in found]
