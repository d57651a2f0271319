"""SQLiteStore: the Store contract on one SQLite file (single writer, read-only reader pool)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite

from store import records, rowcodec
from store.aggregates import rollup_countable
from store.interface import CommitCallback
from store.model import (
    Agent,
    AgentPatch,
    AlertHistoryEntry,
    AlertHistoryPage,
    AlertRule,
    AlertRuleInput,
    AlertRulePatch,
    AlertWindowStats,
    ApiKey,
    EventPage,
    EventQuery,
    InsertResult,
    NewEvent,
    RetentionResult,
    Session,
    SessionPage,
    SessionPatch,
    SessionQuery,
    StorageStats,
    StoredEvent,
    VerifiedTimeline,
)
from store.retention import delete_expired, retention_totals
from store.spans import NewSpan
from store.sqlite import queries as q
from store.sqlite import rows, writes
from store.sqlite.analytics import AnalyticsMixin, after_retention
from store.sqlite.connections import SQLiteConnections
from store.timefmt import format_ms, parse_rfc3339_or
from store.timeline import TimelineReads, verified_timeline
from store.wire import event_wire, span_wire

__all__ = ("SQLiteStore",)


class SQLiteStore(AnalyticsMixin, TimelineReads):
    """The Store protocol on SQLite. Build it with ``await SQLiteStore.open(path)``."""

    dialect = "sqlite"

    def __init__(
        self, conns: SQLiteConnections, *, session_idle_minutes: float, clock_us: Callable[[], int],
        new_id: Callable[[], str],
    ) -> None:
        self._c = conns
        self._idle_us = int(session_idle_minutes * 60_000_000)
        self._clock_us = clock_us
        self._new_id = new_id

    @classmethod
    async def open(
        cls, path: str | Path, *, session_idle_minutes: float = 30, clock_us: Callable[[], int] | None = None,
        new_id: Callable[[], str] | None = None, migrate: bool = True, writer_process: bool = False,
    ) -> SQLiteStore:
        """Open (creating and migrating) the file; ``writer_process`` runs the writer in a child process."""
        from store.ids import default_id_factory

        conns = await SQLiteConnections.open(Path(path), migrate=migrate, writer_process=writer_process)
        return cls(
            conns, session_idle_minutes=session_idle_minutes,
            clock_us=clock_us or (lambda: time.time_ns() // 1000), new_id=new_id or default_id_factory(),
        )

    @property
    def path(self) -> Path:
        return self._c.path

    async def close(self) -> None:
        await self._c.close()

    async def _one(self, sql: str, args: Sequence[object]) -> Sequence[Any] | None:
        """The first row of one read statement (``_rows`` gives them all), or ``None``."""
        async with self._c.read() as db, db.execute(sql, args) as cur:
            return await cur.fetchone()

    async def ping(self) -> float:
        start = time.perf_counter()
        await self._one(q.SELECT_ONE, ())
        return (time.perf_counter() - start) * 1000

    # ------------------------------------------------------------------ writes

    async def insert_events(self, events: Sequence[NewEvent], spans: Sequence[NewSpan] = ()) -> InsertResult:
        if not events and not spans:
            return InsertResult((), 0, 0, ())
        return await self._c.run_write(partial(
            writes.insert_events, wire=event_wire(events), span_rows=span_wire(spans),
        ))

    async def upsert_session(self, tenant: str, patch: SessionPatch) -> Session:
        now_us = self._clock_us()
        values = rows.session_patch_values(patch)
        started_at = patch.started_at or format_ms(now_us)
        started_ts = parse_rfc3339_or(started_at, now_us)
        if patch.started_at is not None:  # the normalized column orders and filters by startedAt
            values["started_ts"] = started_ts
        await self._c.run_write(partial(
            writes.upsert_session, tenant=tenant, patch=patch, values=values, started_at=started_at,
            started_ts=started_ts,
        ))
        session = await self.get_session(tenant, patch.id)
        assert session is not None
        return session

    async def upsert_agent(self, tenant: str, patch: AgentPatch) -> Agent:
        now_us = self._clock_us()
        values = rows.agent_patch_values(patch)
        seen = patch.last_seen_at or format_ms(now_us)
        seen_ts = parse_rfc3339_or(seen, now_us)
        if patch.last_seen_at is not None:
            values["last_seen_at"] = patch.last_seen_at
            values["last_seen_ts"] = seen_ts
        await self._c.run_write(partial(
            writes.upsert_agent, tenant=tenant, patch=patch, values=values, seen=seen, seen_ts=seen_ts,
        ))
        agent = await self.get_agent(tenant, patch.id)
        assert agent is not None
        return agent

    # ------------------------------------------------------------------ events

    async def query_events(self, tenant: str, query: EventQuery) -> EventPage:
        where, params = q.event_filters(query)
        async with self._c.snapshot() as db:  # the page and its total from the same state
            page_args = (tenant, *params, query.limit, query.offset)
            async with db.execute(q.select_events(where, query.order), page_args) as cur:
                events = tuple(rows.stored_event(r) for r in await cur.fetchall())
            if query.offset == 0 and len(events) < query.limit:
                total = len(events)  # the whole result is on this page
            else:
                total = await self._count(db, tenant, query, where, params)
        return EventPage(events, total, query.offset + len(events) < total)

    async def count_events(self, tenant: str, query: EventQuery) -> int:
        where, params = q.event_filters(query)
        async with self._c.read() as db:
            return await self._count(db, tenant, query, where, params)

    @staticmethod
    async def _count(db: aiosqlite.Connection, tenant: str, query: EventQuery, where: str, params: list[object]) -> int:
        if rollup_countable(query):
            sql, args = q.count_events_rollup(query)
        else:
            sql, args = q.count_events(where), params
        async with db.execute(sql, (tenant, *args)) as cur:
            return int((await cur.fetchone() or (0,))[0])

    async def get_event(self, tenant: str, event_id: str) -> StoredEvent | None:
        row = await self._one(q.SELECT_EVENT, (tenant, event_id))
        return rows.stored_event(row) if row else None

    async def get_events_by_ids(self, tenant: str, event_ids: Sequence[str]) -> list[StoredEvent]:
        found: list[StoredEvent] = []
        async with self._c.read() as db:
            for chunk in writes.chunks(list(dict.fromkeys(event_ids))):
                async with db.execute(q.in_marks(q.SELECT_EVENTS_BY_IDS, len(chunk)), (tenant, *chunk)) as cur:
                    found.extend(rows.stored_event(r) for r in await cur.fetchall())
        found.sort(key=lambda e: (e.ts_us, e.id))
        return found

    async def get_session_timeline(
        self, tenant: str, session_id: str, *, limit: int | None = None, after: str | None = None,
    ) -> list[StoredEvent]:
        params: tuple[Any, ...]
        async with self._c.read() as db:
            if after is not None:
                async with db.execute(q.SELECT_EVENT_POSITION, (tenant, session_id, after)) as cur:
                    pos = await cur.fetchone()
                if pos is None:
                    return []
                sql, params = q.SELECT_TIMELINE_AFTER, (tenant, session_id, pos[0], pos[0], pos[1], limit or -1)
            elif limit is not None:
                sql, params = q.SELECT_TIMELINE_LIMIT, (tenant, session_id, limit)
            else:
                sql, params = q.SELECT_TIMELINE, (tenant, session_id)
            async with db.execute(sql, params) as cur:
                return [rows.stored_event(r) for r in await cur.fetchall()]

    async def get_verified_timeline(
        self, tenant: str, session_id: str, *, max_events: int,
    ) -> VerifiedTimeline | None:
        # One read transaction: a concurrent append or retention batch cannot make the head,
        # the anchors and the rows disagree.
        async with self._c.snapshot() as db:
            async with db.execute(q.SELECT_SESSION, (tenant, session_id)) as cur:
                srow = await cur.fetchone()
            if srow is None:
                return None
            async with db.execute(q.SELECT_ANCHORS, (tenant, session_id)) as cur:
                anchors = [records.chain_anchor(a) for a in await cur.fetchall()]

            async def read_all() -> list[StoredEvent]:
                async with db.execute(q.SELECT_TIMELINE, (tenant, session_id)) as cur:
                    return [rows.stored_event(r) for r in await cur.fetchall()]

            async def read_chunk(after_seq: int, limit: int) -> list[StoredEvent]:
                async with db.execute(q.SELECT_CHAIN_CHUNK, (tenant, session_id, after_seq, limit)) as cur:
                    return [rows.stored_event(r) for r in await cur.fetchall()]

            return await verified_timeline(
                rows.session_state(srow), anchors, max_events=max_events, read_all=read_all, read_chunk=read_chunk,
            )

    # ------------------------------------------------------------------ sessions, agents

    def _now_iso(self) -> str:
        """The store clock as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (one reading, never mixed)."""
        return format_ms(self._clock_us())

    def _idle_before(self) -> int:
        return self._clock_us() - self._idle_us

    async def query_sessions(self, tenant: str, query: SessionQuery) -> SessionPage:
        idle_before = self._idle_before()
        where, params = q.session_filters(query, idle_before)
        async with self._c.read() as db:
            async with db.execute(q.select_sessions(where), (tenant, *params, query.limit, query.offset)) as cur:
                found = tuple(
                    rowcodec.session_from_state(rows.session_state(r), idle_before) for r in await cur.fetchall()
                )
            async with db.execute(q.count_sessions(where), (tenant, *params)) as cur:
                total = int((await cur.fetchone() or (0,))[0])
        return SessionPage(found, total, query.offset + len(found) < total)

    async def count_sessions(self, tenant: str, query: SessionQuery) -> int:
        where, params = q.session_filters(query, self._idle_before())
        return int((await self._one(q.count_sessions(where), (tenant, *params)) or (0,))[0])

    async def get_session(self, tenant: str, session_id: str) -> Session | None:
        row = await self._one(q.SELECT_SESSION, (tenant, session_id))
        return rowcodec.session_from_state(rows.session_state(row), self._idle_before()) if row else None

    async def list_agents(self, tenant: str) -> list[Agent]:
        return [rowcodec.agent_from_row(r) for r in await self._rows(q.SELECT_AGENTS, (tenant,))]

    async def get_agent(self, tenant: str, agent_id: str) -> Agent | None:
        row = await self._one(q.SELECT_AGENT, (tenant, agent_id))
        return rowcodec.agent_from_row(row) if row else None

    # ------------------------------------------------------------------ analytics, stats

    async def get_alert_window_stats(
        self, tenant: str, from_us: int, to_us: int, *, agent_id: str | None, tags: Sequence[str] | None,
    ) -> AlertWindowStats:
        args: list[Any] = [tenant, from_us, to_us]
        if agent_id is not None:
            args.append(agent_id)
        args.extend(tags or ())
        sql = q.alert_window_stats(agent_id is not None, len(tags or ()))
        return rowcodec.alert_window_stats(await self._one(sql, args))

    async def get_stats(self, tenant: str) -> StorageStats:
        async with self._c.read() as db:
            async with db.execute(q.SELECT_STATS, {"t": tenant}) as cur:
                r = await cur.fetchone()
            async with db.execute(q.SELECT_DB_SIZE) as cur:
                size = await cur.fetchone()
        assert r is not None
        return StorageStats(int(r[0]), int(r[1]), int(r[2]), r[3], r[4], int(size[0]) if size else 0)

    # ------------------------------------------------------------------ alert rules and history

    async def create_alert_rule(self, tenant: str, rule: AlertRuleInput) -> AlertRule:
        now = self._now_iso()
        stored = records.new_alert_rule(tenant, rule, rule_id=self._new_id(), now=now)
        await self._c.run_write(partial(writes.insert_alert_rule, row=rows.alert_rule_row(stored)))
        return stored

    async def update_alert_rule(self, tenant: str, rule_id: str, patch: AlertRulePatch) -> AlertRule:
        return await self._c.run_write(partial(
            writes.update_alert_rule, tenant=tenant, rule_id=rule_id, patch=patch, now=self._now_iso(),
        ))

    async def delete_alert_rule(self, tenant: str, rule_id: str) -> None:
        await self._c.run_write(partial(writes.delete_alert_rule, tenant=tenant, rule_id=rule_id))

    async def list_alert_rules(self, tenant: str) -> list[AlertRule]:
        return [rows.alert_rule(r) for r in await self._rows(q.SELECT_ALERT_RULES, (tenant,))]

    async def get_alert_rule(self, tenant: str, rule_id: str) -> AlertRule | None:
        row = await self._one(q.SELECT_ALERT_RULE, (tenant, rule_id))
        return rows.alert_rule(row) if row else None

    async def insert_alert_history(self, tenant: str, entry: AlertHistoryEntry) -> None:
        triggered_ts = parse_rfc3339_or(entry.triggered_at, self._clock_us())
        await self._c.run_write(partial(
            writes.insert_alert_history, tenant=tenant, entry=entry, triggered_ts=triggered_ts,
        ))

    async def resolve_alert_history(self, tenant: str, entry_id: str, resolved_at: str) -> None:
        await self._c.run_write(partial(
            writes.resolve_alert_history, tenant=tenant, entry_id=entry_id, resolved_at=resolved_at,
        ))

    async def list_alert_history(
        self, tenant: str, *, rule_id: str | None = None, limit: int = 50, offset: int = 0,
    ) -> AlertHistoryPage:
        page_sql, count_sql = q.alert_history_page(rule_id is not None)
        args: tuple[Any, ...] = (tenant, rule_id) if rule_id is not None else (tenant,)
        async with self._c.read() as db:
            async with db.execute(page_sql, (*args, limit, offset)) as cur:
                entries = tuple(rows.alert_history_entry(r) for r in await cur.fetchall())
            async with db.execute(count_sql, args) as cur:
                total = int((await cur.fetchone() or (0,))[0])
        return AlertHistoryPage(entries, total, offset + len(entries) < total)

    # ------------------------------------------------------------------ api keys and settings

    async def create_api_key(self, key: ApiKey) -> None:
        await self._c.run_write(partial(writes.insert_api_key, key=key))

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        row = await self._one(q.SELECT_API_KEY_BY_HASH, (key_hash,))
        return rows.api_key(row) if row else None

    async def list_api_keys(self, tenant: str | None) -> list[ApiKey]:
        sql, args = (q.SELECT_API_KEYS_ALL, ()) if tenant is None else (q.SELECT_API_KEYS_TENANT, (tenant,))
        return [rows.api_key(r) for r in await self._rows(sql, args)]

    async def revoke_api_key(self, tenant: str | None, key_id: str, when: int) -> ApiKey:
        return await self._c.run_write(partial(writes.revoke_api_key, tenant=tenant, key_id=key_id, when=when))

    async def touch_api_key(self, key_id: str, when: int) -> None:
        await self._c.run_write(partial(writes.touch_api_key, key_id=key_id, when=when))

    async def count_api_keys(self) -> int:
        return int((await self._one(q.COUNT_USABLE_API_KEYS, (int(time.time()),)) or (0,))[0])

    async def get_settings(self, tenant: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in await self._rows(q.SELECT_SETTINGS, (tenant,))}

    async def put_settings(self, tenant: str, values: Mapping[str, str]) -> None:
        await self._c.run_write(partial(writes.put_settings, tenant=tenant, values=dict(values)))

    # ------------------------------------------------------------------ many replicas

    async def listen_commits(self, callback: CommitCallback) -> Callable[[], Awaitable[None]]:
        async def stop() -> None:
            return None

        return stop  # one process per SQLite file: nothing is committed elsewhere

    async def is_leader(self, name: str) -> bool:
        return True

    # ------------------------------------------------------------------ maintenance

    async def list_tenants(self) -> list[str]:
        return sorted({str(r[0]) for r in await self._rows(q.SELECT_TENANTS, ())})

    async def apply_retention(self, tenant: str, cutoff_us: int, *, batch_size: int = 5000) -> RetentionResult:
        result = await delete_expired(  # one short transaction per batch: ingest commits in between
            lambda: self._c.run_write(partial(
                writes.delete_expired_batch, tenant=tenant, cutoff_us=cutoff_us, batch_size=batch_size,
                now=self._now_iso(),
            )),
            lambda chunk: self._c.run_write(partial(writes.delete_empty_sessions, tenant=tenant, session_ids=chunk)),
            cutoff_us=cutoff_us, session_chunk=writes.IN_CHUNK,
        )
        await after_retention(self._c, tenant, cutoff_us, batch_size)  # rollups and spans follow the events
        return result

    async def record_retention_run(
        self, *, started_at: str, cutoff: str, results: Sequence[tuple[str, RetentionResult]], duration_ms: float,
    ) -> None:
        await self._c.run_write(partial(
            writes.record_retention_run, started_at=started_at, cutoff=cutoff, totals=retention_totals(results),
            duration_ms=duration_ms, details=rowcodec.retention_details(results),
        ))

    async def list_retention_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return [rowcodec.retention_run(r) for r in await self._rows(q.SELECT_RETENTION_RUNS, (limit,))]


async def migrate_database(path: str | Path) -> list[str]:
    """Apply pending migrations to the SQLite file at ``path`` and return their names."""
    from store.sqlite.connections import migrate_file

    return await migrate_file(Path(path))
