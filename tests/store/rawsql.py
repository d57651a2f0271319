"""The only SQL in the suite: tamper with stored rows through the backend's own connection.

Contract tests use it to prove that verification notices changes made behind the store's back
(a direct UPDATE or DELETE), and to read the retention audit table, which has no read method.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from store.interface import Store

__all__ = ("delete_event", "retention_runs", "tamper_event")

_COLUMNS = frozenset({"payload", "hash", "prev_hash", "severity", "metadata"})


@asynccontextmanager
async def _pg_connection(store: Store) -> AsyncIterator[Any]:
    """A connection from the PostgreSQL backend's own asyncpg pool."""
    import asyncpg  # type: ignore[import-untyped, unused-ignore]

    pool = next((v for v in vars(store).values() if isinstance(v, asyncpg.Pool)), None)
    if pool is None:
        raise AssertionError(f"no asyncpg pool found on {type(store).__name__}; update tests/store/rawsql.py")
    async with pool.acquire() as conn:
        yield conn


@contextmanager
def _sqlite_connection(store: Store) -> Iterator[sqlite3.Connection]:
    """A second connection to the store's SQLite file, committing on exit (as another process would)."""
    conn = sqlite3.connect(str(store.path), isolation_level=None, timeout=30)  # type: ignore[attr-defined]
    try:
        yield conn
    finally:
        conn.close()


async def tamper_event(store: Store, tenant: str, event_id: str, column: str, value: str | None) -> None:
    """``UPDATE events SET <column> = value`` for one event, bypassing the store."""
    assert column in _COLUMNS, column
    if store.dialect == "sqlite":
        with _sqlite_connection(store) as db:
            sql = f"UPDATE events SET {column} = ? WHERE tenant_id = ? AND id = ?"
            cur = db.execute(sql, (value, tenant, event_id))
            assert cur.rowcount == 1
    else:
        async with _pg_connection(store) as conn:
            status = await conn.execute(
                f"UPDATE events SET {column} = $1 WHERE tenant_id = $2 AND id = $3", value, tenant, event_id,
            )
            assert status == "UPDATE 1", status


async def delete_event(store: Store, tenant: str, event_id: str) -> None:
    """``DELETE`` one event row, bypassing the store (and therefore any retention anchor)."""
    if store.dialect == "sqlite":
        with _sqlite_connection(store) as db:
            cur = db.execute("DELETE FROM events WHERE tenant_id = ? AND id = ?", (tenant, event_id))
            assert cur.rowcount == 1
    else:
        async with _pg_connection(store) as conn:
            status = await conn.execute("DELETE FROM events WHERE tenant_id = $1 AND id = $2", tenant, event_id)
            assert status == "DELETE 1", status


async def retention_runs(store: Store) -> list[tuple[Any, ...]]:
    """Rows of the retention audit table, newest first: (cutoff, deleted, sessions deleted, anchored)."""
    sql = "SELECT cutoff, deleted_count, sessions_deleted, anchored_sessions FROM retention_runs ORDER BY id DESC"
    if store.dialect == "sqlite":
        async with store._c.read() as db, db.execute(sql) as cur:  # type: ignore[attr-defined]
            return [tuple(r) for r in await cur.fetchall()]
    async with _pg_connection(store) as conn:
        return [tuple(r) for r in await conn.fetch(sql)]
