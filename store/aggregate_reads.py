"""Aggregation and span reads both backends answer alike: split the range, run one statement, decode its rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from store import records
from store.aggregates import (
    Buckets,
    EventAgg,
    EventAggQuery,
    SessionAgg,
    SessionAggQuery,
    SessionCost,
    event_split,
    split_range,
)
from store.aggregates_fold import analytics_result, session_aggs
from store.model import AnalyticsParams, AnalyticsResult
from store.spans import SpanScan, StoredSpan

__all__ = ("AggregateReads", "AggregateSql")

Range = tuple[int, int]


class AggregateSql(Protocol):
    """The statement builders (and constants) of a backend's queries module that these reads use."""

    SELECT_SPAN_RESOURCES: str

    def session_agg(
        self, tenant: str, q: SessionAggQuery, full: Range | None, raw: Sequence[Range], *, with_totals: bool = False,
    ) -> tuple[str, list[object]]: ...

    def event_agg(
        self, tenant: str, q: EventAggQuery, full: Range | None, raw: Sequence[Range],
    ) -> tuple[str, list[object]]: ...

    def top_sessions_by_cost(
        self, tenant: str, q: SessionAggQuery, full: Range | None, raw: Sequence[Range], limit: int,
    ) -> tuple[str, list[object]]: ...

    def scan_spans(self, tenant: str, scan: SpanScan) -> tuple[str, list[object]]: ...


class AggregateReads:
    """Store methods over ``_sql`` (the backend's queries module) and ``_rows`` (its way to run a read)."""

    _sql: ClassVar[AggregateSql]

    async def _rows(self, sql: str, args: Sequence[object]) -> list[Sequence[Any]]:
        """Every row of one read statement; each backend runs it on its own connections."""
        raise NotImplementedError

    async def aggregate_sessions(self, tenant: str, query: SessionAggQuery) -> list[SessionAgg]:
        return (await self._sessions(tenant, query, with_totals=False))[0]

    async def _sessions(
        self, tenant: str, query: SessionAggQuery, *, with_totals: bool,
    ) -> tuple[list[SessionAgg], list[SessionAgg]]:
        full, raw = split_range(query.from_us, query.to_us, query.buckets)
        if full is None and not raw:
            return [], []
        sql, args = self._sql.session_agg(tenant, query, full, raw, with_totals=with_totals)
        return session_aggs(await self._rows(sql, args))

    async def aggregate_events(self, tenant: str, query: EventAggQuery) -> list[EventAgg]:
        full, raw = event_split(query)
        if full is None and not raw:
            return []
        sql, args = self._sql.event_agg(tenant, query, full, raw)
        n = len(query.group_by)
        return [records.event_agg(r, n) for r in await self._rows(sql, args) if r[1 + n]]

    async def top_sessions_by_cost(self, tenant: str, query: SessionAggQuery, limit: int) -> list[SessionCost]:
        full, raw = split_range(query.from_us, query.to_us, Buckets())
        if full is None and not raw:
            return []
        sql, args = self._sql.top_sessions_by_cost(tenant, query, full, raw, limit)
        return [SessionCost(r[0], float(r[1] or 0), int(r[2])) for r in await self._rows(sql, args)]

    async def get_analytics(self, tenant: str, params: AnalyticsParams) -> AnalyticsResult:
        query = SessionAggQuery(params.from_us, params.to_us, Buckets(params.granularity), agent_id=params.agent_id,
                                exclude_metrics=params.exclude_metrics)
        buckets, totals = await self._sessions(tenant, query, with_totals=True)   # one statement
        return analytics_result(buckets, totals)

    async def scan_spans(self, tenant: str, scan: SpanScan) -> list[StoredSpan]:
        sql, args = self._sql.scan_spans(tenant, scan)
        return [records.stored_span(r) for r in await self._rows(sql, args)]

    async def list_span_resources(self, tenant: str, since_ns: int, limit: int) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in await self._rows(self._sql.SELECT_SPAN_RESOURCES, (tenant, since_ns, limit))]
