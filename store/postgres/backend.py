"""PostgresStore: the Store contract on PostgreSQL (asyncpg pool), safe for many replicas on one database."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from store import records, rowcodec
from store.aggregates import rollup_countable
from store.interface import CommitCallback
from store.model import (
    Agent,
    AgentPatch,
    AlertWindowStats,
    EventPage,
    EventQuery,
    InsertResult,
    NewEvent,
    Session,
    SessionPage,
    SessionPatch,
    SessionQuery,
    StorageStats,
    StoredEvent,
    VerifiedTimeline,
)
from store.postgres import queries as q
from store.postgres import rows
from store.postgres.admin import AdminMixin
from store.postgres.analytics import AnalyticsMixin
from store.postgres.connections import PgConnections
from store.postgres.connections import migrate_database as _migrate
from store.postgres.ingest import insert_events
from store.postgres.leader import LeaderLocks
from store.postgres.notify import CommitListener
from store.spans import NewSpan
from store.timefmt import parse_rfc3339_or
from store.timeline import TimelineReads, verified_timeline

__all__ = ("PostgresStore", "migrate_database")


class PostgresStore(AnalyticsMixin, AdminMixin, TimelineReads):
    """The Store protocol on PostgreSQL. Build it with ``await PostgresStore.open(url)``."""

    dialect = "postgresql"

    def __init__(
        self, conns: PgConnections, *, origin: str, session_idle_minutes: float, clock_us: Callable[[], int],
        new_id: Callable[[], str],
    ) -> None:
        self._c = conns
        self.pool = conns.pool  # the asyncpg pool, for raw SQL in tests and operator tooling
        self.origin = origin  # identifies this store's notifications and connections (application_name)
        self._idle_us = int(session_idle_minutes * 60_000_000)
        self._clock_us = clock_us
        self._new_id = new_id
        self._leader = LeaderLocks(conns.url, f"leader:{origin}")
        self._listener = CommitListener(conns.url, origin)

    @classmethod
    async def open(
        cls, url: str, *, session_idle_minutes: float = 30, clock_us: Callable[[], int] | None = None,
        new_id: Callable[[], str] | None = None, pool_min: int = 2, pool_max: int = 10, migrate: bool = True,
    ) -> PostgresStore:
        """Apply pending migrations (unless ``migrate=False``) and open the pool.

        A bad URL or an unreachable server raises ``Unavailable`` with the reason (password hidden).
        """
        from store.ids import default_id_factory

        origin = uuid.uuid4().hex[:12]
        conns = await PgConnections.open(url, pool_min=pool_min, pool_max=pool_max, migrate=migrate, origin=origin)
        return cls(
            conns, origin=origin, session_idle_minutes=session_idle_minutes,
            clock_us=clock_us or (lambda: time.time_ns() // 1000), new_id=new_id or default_id_factory(),
        )

    async def close(self) -> None:
        if self._c.closed:
            return
        await self._listener.stop()
        await self._leader.close()
        await self._c.close()

    async def ping(self) -> float:
        start = time.perf_counter()
        await self._c.ping()
        return (time.perf_counter() - start) * 1000

    # ------------------------------------------------------------------ writes

    async def insert_events(self, events: Sequence[NewEvent], spans: Sequence[NewSpan] = ()) -> InsertResult:
        return await insert_events(self._c, events, spans, origin=self.origin)

    async def upsert_session(self, tenant: str, patch: SessionPatch) -> Session:
        values = rows.session_patch_values(patch)
        now_us = self._clock_us()
        if patch.started_at is not None:
            values["started_ts"] = parse_rfc3339_or(patch.started_at, now_us)

        async def work(conn: asyncpg.Connection) -> None:
            if await conn.fetchrow(q.SELECT_SESSION_FOR_UPDATE, tenant, patch.id) is None:
                started_at = patch.started_at or self._now_iso()
                started_ts = parse_rfc3339_or(started_at, now_us)
                status = await conn.execute(q.INSERT_SESSION_DEFAULTS,
                    tenant, patch.id, patch.agent_id or "", patch.agent_name, started_at, started_ts,
                    patch.ended_at, patch.status or "active", patch.event_count or 0, patch.tool_call_count or 0,
                    patch.error_count or 0, float(patch.total_cost_usd or 0.0), patch.llm_call_count or 0,
                    patch.total_input_tokens or 0, patch.total_output_tokens or 0,
                    values.get("tags", "[]"), started_at, started_ts, tenant,
                )
                inserted = status.endswith(" 1")
            else:
                inserted = False
            if not inserted and values:  # it existed (or a concurrent writer just created it)
                sql = q.update_fields(q.UPDATE_SESSION_FIELDS, list(values))
                await conn.execute(sql, *values.values(), tenant, patch.id)
            if patch.tags is not None:
                await conn.execute(q.DELETE_SESSION_TAGS, tenant, patch.id)
                await conn.executemany(q.INSERT_SESSION_TAG, [(tenant, patch.id, t) for t in patch.tags])

        await self._c.transaction(work)
        session = await self.get_session(tenant, patch.id)
        assert session is not None
        return session

    async def upsert_agent(self, tenant: str, patch: AgentPatch) -> Agent:
        values = rows.agent_patch_values(patch)
        now_us = self._clock_us()
        if patch.last_seen_at is not None:
            values["last_seen_at"] = patch.last_seen_at
            values["last_seen_ts"] = parse_rfc3339_or(patch.last_seen_at, now_us)

        async def work(conn: asyncpg.Connection) -> None:
            inserted = False
            if await conn.fetchrow(q.SELECT_AGENT_FOR_UPDATE, tenant, patch.id) is None:
                seen = patch.last_seen_at or self._now_iso()
                seen_ts = parse_rfc3339_or(seen, now_us)
                status = await conn.execute(
                    q.INSERT_AGENT_DEFAULTS, tenant, patch.id, patch.name or patch.id, patch.description,
                    seen, seen_ts, seen, seen_ts, tenant,
                )
                inserted = status.endswith(" 1")
            if not inserted and values:
                sql = q.update_fields(q.UPDATE_AGENT_FIELDS, list(values))
                await conn.execute(sql, *values.values(), tenant, patch.id)

        await self._c.transaction(work)
        agent = await self.get_agent(tenant, patch.id)
        assert agent is not None
        return agent

    # ------------------------------------------------------------------ events

    async def query_events(self, tenant: str, query: EventQuery) -> EventPage:
        p = q.Params(tenant)
        where = q.event_filters(query, p)
        count_args = list(p.values)
        page_sql = q.select_events(where, query.order, p, query.limit, query.offset)

        async def work(conn: asyncpg.Connection) -> EventPage:
            found = tuple(rows.stored_event(r) for r in await conn.fetch(page_sql, *p.values))
            if query.offset == 0 and len(found) < query.limit:
                total = len(found)  # the whole result is on this page
            else:
                total = await _count(conn, tenant, query, where, count_args)
            return EventPage(found, total, query.offset + len(found) < total)

        return await self._c.snapshot(work)

    async def count_events(self, tenant: str, query: EventQuery) -> int:
        p = q.Params(tenant)
        where = q.event_filters(query, p)
        return await self._c.read(lambda conn: _count(conn, tenant, query, where, p.values))

    async def get_event(self, tenant: str, event_id: str) -> StoredEvent | None:
        row = await self._c.fetchrow(q.SELECT_EVENT, tenant, event_id)
        return rows.stored_event(row) if row else None

    async def get_events_by_ids(self, tenant: str, event_ids: Sequence[str]) -> list[StoredEvent]:
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return []
        return [rows.stored_event(r) for r in await self._c.fetch(q.SELECT_EVENTS_BY_IDS, tenant, ids)]

    async def get_session_timeline(
        self, tenant: str, session_id: str, *, limit: int | None = None, after: str | None = None,
    ) -> list[StoredEvent]:
        async def work(conn: asyncpg.Connection) -> list[asyncpg.Record]:
            if after is not None:
                pos = await conn.fetchrow(q.SELECT_EVENT_POSITION, tenant, session_id, after)
                if pos is None:
                    return []
                return list(await conn.fetch(q.SELECT_TIMELINE_AFTER, tenant, session_id, pos[0], pos[1], limit))
            if limit is not None:
                return list(await conn.fetch(q.SELECT_TIMELINE_LIMIT, tenant, session_id, limit))
            return list(await conn.fetch(q.SELECT_TIMELINE, tenant, session_id))

        return [rows.stored_event(r) for r in await self._c.read(work)]

    async def get_verified_timeline(
        self, tenant: str, session_id: str, *, max_events: int,
    ) -> VerifiedTimeline | None:
        # One REPEATABLE READ snapshot: a concurrent append cannot make the head and the rows disagree.
        async def work(conn: asyncpg.Connection) -> VerifiedTimeline | None:
            srow = await conn.fetchrow(q.SELECT_SESSION, tenant, session_id)
            if srow is None:
                return None
            anchors = [records.chain_anchor(a) for a in await conn.fetch(q.SELECT_ANCHORS, tenant, session_id)]

            async def read_all() -> list[StoredEvent]:
                return [rows.stored_event(r) for r in await conn.fetch(q.SELECT_TIMELINE, tenant, session_id)]

            async def read_chunk(after_seq: int, limit: int) -> list[StoredEvent]:
                found = await conn.fetch(q.SELECT_CHAIN_CHUNK, tenant, session_id, after_seq, limit)
                return [rows.stored_event(r) for r in found]

            return await verified_timeline(
                rows.session_state(srow), anchors, max_events=max_events, read_all=read_all, read_chunk=read_chunk,
            )

        return await self._c.snapshot(work)

    # ------------------------------------------------------------------ sessions, agents

    def _idle_before(self) -> int:
        return self._clock_us() - self._idle_us

    async def query_sessions(self, tenant: str, query: SessionQuery) -> SessionPage:
        idle_before = self._idle_before()
        p = q.Params(tenant)
        where = q.session_filters(query, idle_before, p)
        count_args = list(p.values)
        page_sql = q.select_sessions(where, p, query.limit, query.offset)

        async def work(conn: asyncpg.Connection) -> SessionPage:
            found = tuple(
                rowcodec.session_from_state(rows.session_state(r), idle_before)
                for r in await conn.fetch(page_sql, *p.values)
            )
            if query.offset == 0 and len(found) < query.limit:
                total = len(found)
            else:
                total = int(await conn.fetchval(q.count_sessions(where), *count_args))
            return SessionPage(found, total, query.offset + len(found) < total)

        return await self._c.snapshot(work)

    async def count_sessions(self, tenant: str, query: SessionQuery) -> int:
        p = q.Params(tenant)
        where = q.session_filters(query, self._idle_before(), p)
        return int(await self._c.fetchval(q.count_sessions(where), *p.values))

    async def get_session(self, tenant: str, session_id: str) -> Session | None:
        row = await self._c.fetchrow(q.SELECT_SESSION, tenant, session_id)
        return rowcodec.session_from_state(rows.session_state(row), self._idle_before()) if row else None

    async def list_agents(self, tenant: str) -> list[Agent]:
        return [rowcodec.agent_from_row(rows.seq(r)) for r in await self._c.fetch(q.SELECT_AGENTS, tenant)]

    async def get_agent(self, tenant: str, agent_id: str) -> Agent | None:
        row = await self._c.fetchrow(q.SELECT_AGENT, tenant, agent_id)
        return rowcodec.agent_from_row(rows.seq(row)) if row else None

    # ------------------------------------------------------------------ analytics, stats

    async def get_alert_window_stats(
        self, tenant: str, from_us: int, to_us: int, *, agent_id: str | None, tags: Sequence[str] | None,
    ) -> AlertWindowStats:
        args: list[Any] = [tenant, from_us, to_us]
        if agent_id is not None:
            args.append(agent_id)
        if tags:
            args.append(list(tags))
        row = await self._c.fetchrow(q.alert_window_stats(agent_id is not None, bool(tags)), *args)
        return rowcodec.alert_window_stats(rows.seq(row) if row else None)

    async def get_stats(self, tenant: str) -> StorageStats:
        async def work(conn: asyncpg.Connection) -> StorageStats:
            r = await conn.fetchrow(q.SELECT_STATS, tenant)
            size = await conn.fetchval(q.SELECT_DB_SIZE)
            assert r is not None
            return StorageStats(int(r[0]), int(r[1]), int(r[2]), r[3], r[4], int(size or 0))

        return await self._c.read(work)

    # ------------------------------------------------------------------ many replicas

    async def listen_commits(self, callback: CommitCallback) -> Callable[[], Awaitable[None]]:
        self._c.check_open()
        await self._listener.add(callback)

        async def stop() -> None:
            await self._listener.remove(callback)

        return stop

    async def is_leader(self, name: str) -> bool:
        self._c.check_open()
        return await self._leader.is_leader(name)


async def migrate_database(url: str) -> list[str]:
    """Apply pending migrations to the PostgreSQL database at ``url`` and return their names."""
    return await _migrate(url)


async def _count(conn: asyncpg.Connection, tenant: str, query: EventQuery, where: str, args: list[object]) -> int:
    """Matching events: summed from the per-type rollup when the filters allow, else counted."""
    if rollup_countable(query):
        p = q.Params(tenant)
        return int(await conn.fetchval(q.count_events_rollup(query, p), *p.values))
    return int(await conn.fetchval(q.count_events(where), *args))
