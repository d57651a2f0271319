"""Leader election: session-level advisory locks held on one dedicated connection per store."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging

import asyncpg

from store.postgres import queries as q
from store.postgres.connections import connect, is_connection_error

__all__ = ("LeaderLocks", "lock_key")

LOG = logging.getLogger("store.postgres.leader")

# Seconds a leadership check may take before this process counts itself as not the leader.
CHECK_TIMEOUT = 5.0


def lock_key(kind: str, *parts: str) -> int:
    """A signed 64-bit advisory lock key for ``kind`` and its parts (stable across processes)."""
    text = "\x1f".join((kind, *parts)).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big", signed=True)


class LeaderLocks:
    """``is_leader(name)``: take or confirm ``pg_try_advisory_lock`` for the name.

    The locks live as long as the connection: when it dies (process killed, network cut,
    ``pg_terminate_backend``) PostgreSQL releases them and another process's next call wins.
    A call that finds its connection dead reconnects and competes again; while the database
    is unreachable nobody is leader (the call answers ``False`` instead of raising).
    """

    def __init__(self, url: str, role: str) -> None:
        self._url = url
        self._role = role
        self._conn: asyncpg.Connection | None = None
        self._held: set[str] = set()
        self._lock = asyncio.Lock()

    async def is_leader(self, name: str) -> bool:
        async with self._lock:
            for attempt in range(2):
                reconnected = self._conn is None or self._conn.is_closed()
                try:
                    if reconnected:
                        self._drop()
                        self._conn = await connect(self._url, role=self._role)
                    assert self._conn is not None
                    if name in self._held:
                        # the lock lives exactly as long as this connection: prove it is alive
                        await self._conn.fetchval(q.SELECT_ONE, timeout=CHECK_TIMEOUT)
                        return True
                    got = bool(await self._conn.fetchval(q.ADVISORY_TRY_LOCK, lock_key("leader", name),
                                                         timeout=CHECK_TIMEOUT))
                except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError,
                        TimeoutError) as exc:
                    # InternalClientError: a connection the server just terminated can be caught
                    # mid-state ("another operation is in progress"); it is as dead as a closed one
                    self._drop()
                    if attempt == 0 and not reconnected and is_connection_error(exc):
                        LOG.info("leader connection died (%s); reconnecting", exc)
                        continue
                    LOG.warning("leadership check for %r failed: %s", name, exc)
                    return False
                if got:
                    if not self._held:
                        LOG.info("this process is now the leader for %r", name)
                    self._held.add(name)
                return got
        return False  # pragma: no cover

    def _drop(self) -> None:
        """Forget the connection and every lock it held (PostgreSQL released them with it)."""
        if self._held:
            LOG.warning("lost leadership of %s", ", ".join(sorted(self._held)))
        self._held.clear()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def close(self) -> None:
        async with self._lock:
            conn, self._conn = self._conn, None
            self._held.clear()
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError,
                                         OSError, TimeoutError):
                    await asyncio.wait_for(conn.close(), CHECK_TIMEOUT)
                if not conn.is_closed():
                    conn.terminate()
