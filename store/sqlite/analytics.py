"""SQLiteStore's analytics and spans half: rollup upkeep in the ingest transaction, aggregations, span reads."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar

from store import records
from store.aggregate_reads import AggregateReads, AggregateSql
from store.aggregates import (
    AgentSessionStats,
    PercentileQuery,
    PercentileRow,
    span_cutoff_ns,
)
from store.aggregates_fold import PercentileFold, agent_stats
from store.model import StoredEvent
from store.spans import StoredSpan
from store.sqlite import queries as q
from store.sqlite import rows, writes
from store.sqlite.connections import SQLiteConnections

__all__ = ("AnalyticsMixin", "after_retention")

_IN_CHUNK = 500
_SPAN_DELETE_BATCH = 5000
_FETCH = 10_000


async def after_retention(conns: SQLiteConnections, tenant: str, cutoff_us: int, batch_size: int) -> None:
    """Events up to ``cutoff_us`` are gone: fix the rollups and delete the spans that started by then."""
    await conns.run_write(partial(writes.fix_rollups_after_retention, tenant=tenant, cutoff_us=cutoff_us))
    per = batch_size or _SPAN_DELETE_BATCH
    while await conns.run_write(partial(writes.delete_spans_batch, tenant=tenant, cutoff_ns=span_cutoff_ns(cutoff_us),
                                        batch_size=per)) >= per:
        pass


class AnalyticsMixin(AggregateReads):
    """Aggregations (rollups + the events at the range's edges) and the span reads of the Tempo API."""

    _c: SQLiteConnections
    _sql: ClassVar[AggregateSql] = q

    async def _rows(self, sql: str, args: Sequence[object]) -> list[Sequence[Any]]:
        async with self._c.read() as db, db.execute(sql, args) as cur:
            return list(await cur.fetchall())

    async def duration_percentiles(self, tenant: str, query: PercentileQuery) -> list[PercentileRow]:
        if query.from_us > query.to_us or not query.percentiles:
            return []
        sql, args = q.duration_values(tenant, query)
        fold = PercentileFold(query)
        async with self._c.read() as db, db.execute(sql, args) as cur:
            while chunk := await cur.fetchmany(_FETCH):
                fold.feed(chunk)
        return fold.result()

    async def agent_session_stats(self, tenant: str, from_us: int, to_us: int) -> list[AgentSessionStats]:
        async with self._c.read() as db:
            async with db.execute(q.AGENT_SESSION_TOTALS, (tenant, from_us, to_us)) as cur:
                totals = list(await cur.fetchall())
            async with db.execute(q.AGENT_ENDED_SESSIONS, (tenant, from_us, to_us)) as cur:
                ended = list(await cur.fetchall())
        return agent_stats(totals, ended)

    # ------------------------------------------------------------------ spans

    async def get_trace_spans(self, tenant: str, trace_ids: Sequence[str]) -> list[StoredSpan]:
        found: list[StoredSpan] = []
        ids = list(dict.fromkeys(trace_ids))
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i:i + _IN_CHUNK]
            found.extend(records.stored_span(r) for r in await self._rows(
                q.in_marks(q.SELECT_TRACE_SPANS, len(chunk)), (tenant, *chunk)))
        found.sort(key=lambda s: (s.trace_id, s.start_ns, s.span_id))
        return found

    async def get_trace_events(
        self, tenant: str, session_ids: Sequence[str], from_us: int, to_us: int, limit: int,
    ) -> list[StoredEvent]:
        ids = list(dict.fromkeys(session_ids))[:_IN_CHUNK]
        if not ids:
            return []
        sql = q.in_marks(q.SELECT_TRACE_EVENTS, len(ids))
        return [rows.stored_event(r) for r in await self._rows(sql, (tenant, *ids, from_us, to_us, limit))]
