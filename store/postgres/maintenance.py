"""Retention on PostgreSQL: bounded delete batches with chain anchors, then empty sessions."""

from __future__ import annotations

from functools import partial

import asyncpg

from store.model import RetentionResult
from store.postgres import queries as q
from store.postgres.connections import PgConnections
from store.postgres.leader import lock_key
from store.retention import Anchored, DeletedRun, RetentionBatch, delete_expired, merge_anchor, plan_retention_batch

__all__ = ("apply_retention",)

# Sessions checked for emptiness per transaction.
_SESSION_CHUNK = 500


async def apply_retention(
    conns: PgConnections, tenant: str, cutoff_us: int, *, batch_size: int, now_iso: str,
) -> RetentionResult:
    """Delete the tenant's events with ``ts <= cutoff_us`` batch by batch, anchoring chain heads.

    Each batch holds a transaction-scoped advisory lock for the tenant, so two processes running
    retention at once (a manual run on one replica, the scheduled one on the leader) take turns
    instead of anchoring the same deletions twice.
    """
    async def one_batch(conn: asyncpg.Connection) -> tuple[list[RetentionBatch], list[DeletedRun]]:
        await conn.execute(q.ADVISORY_XACT_LOCK, lock_key("retention", tenant))
        found = await conn.fetch(q.SELECT_EXPIRED_BATCH, tenant, cutoff_us, batch_size)
        batch = [RetentionBatch(n, r[1], int(r[2]), r[3], r[4]) for n, r in enumerate(found)]
        if not batch:
            return [], []
        runs = plan_retention_batch(batch)
        for run in runs:
            await _record_anchor(conn, tenant, run, now_iso)
        await conn.execute(q.DELETE_EVENTS_BY_IDS, tenant, [r[0] for r in found])
        return batch, runs

    async def drop_empty(conn: asyncpg.Connection, chunk: list[str]) -> list[str]:
        # lock first (ingest's order), then look: the DELETE's snapshot includes any events a
        # concurrent ingest committed into these sessions while we waited for the locks
        await conn.fetch(q.LOCK_SESSIONS_OF_TENANT, tenant, chunk)
        gone = [str(r[0]) for r in await conn.fetch(q.DELETE_SESSIONS_IF_EMPTY, tenant, chunk)]
        if gone:
            await conn.execute(q.DELETE_TAGS_OF_SESSIONS, tenant, gone)
            await conn.execute(q.DELETE_ANCHORS_OF_SESSIONS, tenant, gone)
        return gone

    return await delete_expired(
        lambda: conns.transaction(one_batch), lambda chunk: conns.transaction(partial(drop_empty, chunk=chunk)),
        cutoff_us=cutoff_us, session_chunk=_SESSION_CHUNK,
    )


async def _record_anchor(conn: asyncpg.Connection, tenant: str, run: DeletedRun, now_iso: str) -> None:
    """Add a deleted run of seqs to the session's anchors, merging with adjacent ones."""
    left = await conn.fetchrow(q.SELECT_ANCHOR_ENDING_AT, tenant, run.session_id, run.from_seq - 1)
    right = await conn.fetchrow(q.SELECT_ANCHOR_STARTING_AT, tenant, run.session_id, run.to_seq + 1)
    w = merge_anchor(run, Anchored(*left) if left else None, Anchored(*right) if right else None)
    if w.delete_id is not None:
        await conn.execute(q.DELETE_ANCHOR, w.delete_id)
    if w.update_id is not None:
        await conn.execute(
            q.REWRITE_ANCHOR, w.from_seq, w.to_seq, w.first_prev_hash, w.last_hash, w.count, w.digest, w.update_id,
        )
    else:
        await conn.execute(
            q.INSERT_ANCHOR, tenant, run.session_id, w.from_seq, w.to_seq, w.first_prev_hash, w.last_hash, w.count,
            w.digest, now_iso,
        )
