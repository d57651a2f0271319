"""insert_events on PostgreSQL: lock the batch's sessions, plan with store.plan, write, NOTIFY, commit.

Several collector processes may append to the same session at once. Inside one READ COMMITTED
transaction each writer (1) inserts a placeholder row for every session of its batch that does
not exist yet (``ON CONFLICT DO NOTHING``, keys in sorted order), (2) locks all the batch's
session rows with ``SELECT ... ORDER BY tenant, id FOR UPDATE`` -- one global order, so no
deadlock -- and only then (3) reads the stored ids and agents, plans, and writes. A second writer
of the same session waits at step 1 or 2 and, its next statement taking a fresh snapshot, sees
the first writer's events and chain head: the chain stays linear and ids stay unique. The rare
race the locks do not cover (one client id sent to two different sessions by two processes at
once) ends in a primary-key violation; the transaction is then simply run again and the id is
found as a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from store.model import InsertResult, NewEvent
from store.plan import EVENT_COLUMNS, AgentState, InsertPlan, SessionState, plan_insert
from store.postgres import queries as q
from store.postgres import rows
from store.postgres.analytics import write_rollups_and_spans
from store.postgres.connections import PgConnections
from store.postgres.notify import CHANNEL, notify_payloads
from store.spans import NewSpan

__all__ = ("insert_events",)

_CHAIN_CONSTRAINTS = frozenset({"events_pkey", "idx_events_session_id"})


def _raced(exc: BaseException) -> bool:
    """A concurrent writer stored the same event id (or chain position) first: run again."""
    return isinstance(exc, asyncpg.UniqueViolationError) and exc.constraint_name in _CHAIN_CONSTRAINTS


async def insert_events(
    conns: PgConnections, events: Sequence[NewEvent], spans: Sequence[NewSpan] = (), *, origin: str,
) -> InsertResult:
    if not events:
        if spans:
            await conns.transaction(lambda conn: write_rollups_and_spans(conn, (), spans))
        return InsertResult((), 0, 0, ())
    first_of_session: dict[tuple[str, str], NewEvent] = {}
    dedupe: set[tuple[str, str]] = set()
    agent_keys: set[tuple[str, str]] = set()
    for ev in events:
        first_of_session.setdefault((ev.tenant_id, ev.session_id), ev)
        agent_keys.add((ev.tenant_id, ev.agent_id))
        if ev.dedupe:
            dedupe.add((ev.tenant_id, ev.id))
    session_keys = sorted(first_of_session)
    firsts = [first_of_session[k] for k in session_keys]
    s_tenants, s_ids = [k[0] for k in session_keys], [k[1] for k in session_keys]
    a_tenants, a_ids = [k[0] for k in sorted(agent_keys)], [k[1] for k in sorted(agent_keys)]
    d_tenants, d_ids = [k[0] for k in sorted(dedupe)], [k[1] for k in sorted(dedupe)]

    async def work(conn: asyncpg.Connection) -> InsertPlan:
        created = {
            (r[0], r[1]) for r in await conn.fetch(
                q.INSERT_SESSION_PLACEHOLDERS, s_tenants, s_ids, [e.agent_id for e in firsts],
                [e.timestamp for e in firsts], [e.ts_us for e in firsts],
            )
        }
        sessions: dict[tuple[str, str], SessionState] = {}
        for r in await conn.fetch(q.LOCK_SESSIONS, s_tenants, s_ids):
            state = rows.session_state(r)
            if (state.tenant_id, state.id) not in created:  # our own placeholder is not a stored session
                sessions[(state.tenant_id, state.id)] = state
        existing: dict[tuple[str, str], str] = {}
        if d_ids:
            for r in await conn.fetch(q.SELECT_EXISTING_IDS, d_tenants, d_ids):
                existing[(r[0], r[1])] = r[2]
        agents: dict[tuple[str, str], AgentState] = {}
        for r in await conn.fetch(q.SELECT_AGENTS_BY_KEYS, a_tenants, a_ids):
            ag = rows.agent_state(r)
            agents[(ag.tenant_id, ag.id)] = ag
        plan = plan_insert(events, existing=existing, sessions=sessions, agents=agents)
        if plan.event_rows:
            await _write(conn, plan, origin)
        # after the session, agent and tag rows: every writer takes its locks in the same order
        await write_rollups_and_spans(conn, plan.event_rows, spans)
        unused = created - {(s.tenant_id, s.id) for s in plan.sessions}
        if unused:  # every event of that session was a duplicate: no session row after all
            await conn.execute(q.DELETE_SESSION_PLACEHOLDERS, [k[0] for k in unused], [k[1] for k in unused])
        return plan

    plan = await conns.transaction(work, retry_on=_raced)
    return InsertResult(
        outcomes=tuple(plan.outcomes), inserted=plan.inserted, duplicates=plan.duplicates,
        sessions_touched=tuple((s.tenant_id, s.id) for s in plan.sessions),
    )


async def _write(conn: asyncpg.Connection, plan: InsertPlan, origin: str) -> None:
    """Events, session heads and counters, agents, tags, and the cross-process announcement."""
    # binary COPY: the fastest of executemany / COPY / INSERT ... unnest (bench/pg_insert_paths.py)
    await conn.copy_records_to_table(q.EVENTS_TABLE, records=plan.event_rows, columns=EVENT_COLUMNS)
    await conn.executemany(q.UPSERT_SESSION_STATE, [rows.session_state_row(s) for s in plan.sessions])
    # agents in key order: two writers touching the same agents take their row locks in one order
    agents = sorted(plan.agents, key=lambda a: (a.tenant_id, a.id))
    await conn.executemany(q.UPSERT_AGENT_STATE, [rows.agent_state_row(a) for a in agents])
    retagged = [s for s in plan.sessions if s.tags_changed]
    if retagged:
        await conn.execute(q.DELETE_TAGS_OF_KEYS, [s.tenant_id for s in retagged], [s.id for s in retagged])
        tags = [(s.tenant_id, s.id, t) for s in retagged for t in s.tags]
        if tags:
            await conn.execute(q.INSERT_TAGS, *(list(col) for col in zip(*tags, strict=True)))
    ids_by_tenant: dict[str, list[str]] = {}
    for row in plan.event_rows:
        ids_by_tenant.setdefault(row[0], []).append(row[1])
    # delivered to the other processes' LISTEN connections when (and only if) this commits
    await conn.fetchval(q.NOTIFY_MANY, CHANNEL, notify_payloads(origin, ids_by_tenant))
