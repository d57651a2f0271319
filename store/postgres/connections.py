"""PostgreSQL connections: the asyncpg pool, retried transactions, migrations and error translation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from store.errors import InvalidInput, PermanentStoreError, StoreClosed, StoreError, Unavailable
from store.migrate import list_migrations
from store.postgres import queries as q

__all__ = (
    "CONNECT_TIMEOUT",
    "PgConnections",
    "apply_migrations",
    "connect",
    "display_url",
    "is_connection_error",
    "normalize_url",
    "translate",
    "translate_errors",
)

LOG = logging.getLogger("store.postgres")

T = TypeVar("T")

# Seconds to establish a connection: an unreachable server must fail fast, not after asyncpg's 60 s.
CONNECT_TIMEOUT = 5.0
# Seconds to wait for a free pooled connection before answering "unavailable" (pool exhausted).
ACQUIRE_TIMEOUT = 10.0
# Seconds a health check may take (acquire, then SELECT 1) before the database counts as down.
PING_TIMEOUT = 3.0
# Seconds any single statement may run; a half-open TCP connection cannot hang a request forever.
COMMAND_TIMEOUT = 60.0
# Seconds ``close()`` waits for busy connections before terminating them.
CLOSE_TIMEOUT = 10.0
# A transaction that failed before its COMMIT was sent (connection lost, deadlock, serialization
# failure, or a caller-declared conflict) is run again on a fresh connection this many times.
TX_ATTEMPTS = 4
# Advisory lock key serializing migrations across processes starting at the same time.
MIGRATION_LOCK_KEY = 0x41474C4E_4D494752  # "AGLNMIGR"
APPLICATION_NAME = "agentlens-collector"
# Session settings of every connection: a recognisable name in pg_stat_activity, and no JIT
# (compiling a plan costs more than our index-driven queries take to run).
SERVER_SETTINGS = {"application_name": APPLICATION_NAME, "jit": "off"}

# SQLSTATE classes meaning "the database cannot do it now": connection exception, insufficient
# resources (too many connections, disk full), operator intervention (shutdown, cancel), system
# error, object not in prerequisite state (database not accepting connections), invalid
# authorization / catalog name (a wrong URL), and transaction rollback (deadlock, serialization).
_RETRYABLE_CLASSES = ("08", "53", "57", "58", "55", "28", "3D", "40")
_INPUT_CLASSES = ("22", "23")


def normalize_url(url: str) -> str:
    """``postgresql+asyncpg://`` and friends -> ``postgresql://`` (asyncpg knows the plain schemes)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"


def display_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = (parts.username or "") + ":***"
        return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))
    except ValueError:
        return "<unparsable URL>"


def is_connection_error(exc: BaseException) -> bool:
    """True when the connection (not the statement) failed: safe to retry an uncommitted transaction.

    Timeouts are not: a statement that ran out of time, or a pool with no free connection, would
    only wait as long again.
    """
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate or "").startswith(("08", "57P"))
    if isinstance(exc, (asyncpg.exceptions.DataError, TimeoutError)):
        return False
    return isinstance(exc, (OSError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError))


def translate(exc: BaseException) -> StoreError:
    """The store error for a driver exception (the one place driver errors are classified)."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        state = str(exc.sqlstate or "")
        if state.startswith(_INPUT_CLASSES):
            return InvalidInput(f"rejected by the database: {exc}")
        if state.startswith(_RETRYABLE_CLASSES):
            return Unavailable(f"database unavailable: {exc}")
        return PermanentStoreError(f"database error [{state}]: {exc}")
    if isinstance(exc, (asyncpg.exceptions.DataError, UnicodeError, OverflowError)):
        return InvalidInput(f"value cannot be stored: {exc}")
    if isinstance(exc, (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError)):
        return Unavailable(f"database unavailable: {exc or type(exc).__name__}")
    if isinstance(exc, ValueError):  # a malformed URL or option
        return Unavailable(f"invalid database URL: {exc}")
    return PermanentStoreError(f"database error: {type(exc).__name__}: {exc}")


_DRIVER_ERRORS = (
    asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError, OSError, TimeoutError,
    UnicodeError, OverflowError,
)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver exceptions into store errors at the backend edge."""
    try:
        yield
    except StoreError:
        raise
    except _DRIVER_ERRORS as exc:
        raise translate(exc) from exc


async def connect(url: str, *, role: str = "migrate") -> asyncpg.Connection:
    """One dedicated connection (migrations, LISTEN, leader locks); raises driver errors.

    ``role`` ends up in ``application_name`` (``agentlens-collector:<role>``) so operators can
    tell the connections apart in ``pg_stat_activity``.
    """
    return await asyncpg.connect(
        normalize_url(url), timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT,
        server_settings={**SERVER_SETTINGS, "application_name": f"{APPLICATION_NAME}:{role}"},
    )


def _open_error(url: str, exc: BaseException) -> Unavailable:
    reason = str(exc) or type(exc).__name__
    return Unavailable(f"cannot connect to PostgreSQL at {display_url(url)}: {reason}")


class PgConnections:
    """Owns the pool; every transaction goes through ``transaction()`` and is retried when safe."""

    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        self.url = url
        self._pool = pool
        self._closed = False

    @classmethod
    async def open(cls, url: str, *, pool_min: int, pool_max: int, migrate: bool, origin: str) -> PgConnections:
        """Migrate (when asked) and open the pool; a bad URL or a dead server raises ``Unavailable``."""
        if migrate:
            await migrate_database(url)
        try:
            pool = await asyncpg.create_pool(
                normalize_url(url), min_size=min(pool_min, pool_max), max_size=pool_max, timeout=CONNECT_TIMEOUT,
                command_timeout=COMMAND_TIMEOUT,
                server_settings={**SERVER_SETTINGS, "application_name": f"{APPLICATION_NAME}:pool:{origin}"},
            )
        except Exception as exc:
            raise _open_error(url, exc) from exc
        return cls(url, pool)

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.wait_for(self._pool.close(), CLOSE_TIMEOUT)
        except (TimeoutError, *_DRIVER_ERRORS):
            LOG.warning("PostgreSQL pool did not close cleanly; terminating it", exc_info=True)
            self._pool.terminate()

    def check_open(self) -> None:
        if self._closed:
            raise StoreClosed("store is closed")

    def _fail(self, exc: BaseException) -> StoreError:
        if self._closed:
            return StoreClosed("store is closed")
        return translate(exc)

    async def ping(self) -> None:
        """``SELECT 1`` within ``PING_TIMEOUT`` (a stale pooled connection gets one more try)."""
        await self.read(lambda conn: conn.fetchval(q.SELECT_ONE, timeout=PING_TIMEOUT), acquire_timeout=PING_TIMEOUT)

    async def read(
        self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, acquire_timeout: float = ACQUIRE_TIMEOUT,
    ) -> T:
        """Run read-only work on a pooled connection; retried once when the connection was dead."""
        self.check_open()
        for attempt in range(2):
            try:
                async with self._pool.acquire(timeout=acquire_timeout) as conn:
                    return await fn(cast(asyncpg.Connection, conn))
            except StoreError:
                raise
            except _DRIVER_ERRORS as exc:
                if attempt == 0 and is_connection_error(exc) and not self._closed:
                    LOG.info("retrying a read after a connection error: %s", exc)
                    continue
                raise self._fail(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self.read(lambda conn: conn.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self.read(lambda conn: conn.fetchrow(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.read(lambda conn: conn.fetchval(sql, *args))

    async def snapshot(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Read-only work that must see one consistent snapshot (REPEATABLE READ)."""
        async def run(conn: asyncpg.Connection) -> T:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                return await fn(conn)

        return await self.read(run)

    async def transaction(
        self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *,
        retry_on: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """Run ``fn`` in a READ COMMITTED transaction and commit; durable on return.

        Retried (from scratch, on a fresh connection) when it failed before COMMIT was sent
        because of a lost connection, a deadlock or serialization failure, or ``retry_on``.
        A connection lost during COMMIT leaves the outcome unknown: ``Unavailable``, no retry.
        """
        self.check_open()
        for attempt in range(1, TX_ATTEMPTS + 1):
            committing = False
            try:
                async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
                    tx = conn.transaction()
                    await tx.start()
                    try:
                        result = await fn(cast(asyncpg.Connection, conn))
                    except BaseException:
                        if not conn.is_closed():
                            with contextlib.suppress(*_DRIVER_ERRORS):
                                await tx.rollback()
                        raise
                    committing = True
                    await tx.commit()
                    return result
            except StoreError:
                raise
            except _DRIVER_ERRORS as exc:
                if committing:
                    raise Unavailable(f"connection lost while committing, outcome unknown: {exc}") from exc
                again = is_connection_error(exc) or str(getattr(exc, "sqlstate", "") or "") in ("40001", "40P01")
                if retry_on is not None and retry_on(exc):
                    again = True
                if again and attempt < TX_ATTEMPTS and not self._closed:
                    LOG.info("retrying a transaction (attempt %d): %s", attempt + 1, exc)
                    continue
                raise self._fail(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover


async def apply_migrations(conn: asyncpg.Connection) -> list[str]:
    """Apply every migration not yet recorded, each with its record in one transaction.

    A session-level advisory lock serializes processes that start at the same moment: the
    second one waits, then finds everything applied.
    """
    await conn.execute(q.ADVISORY_LOCK, MIGRATION_LOCK_KEY, timeout=None)
    try:
        await conn.execute(q.CREATE_SCHEMA_MIGRATIONS)
        applied = {int(r[0]) for r in await conn.fetch(q.SELECT_APPLIED_MIGRATIONS)}
        done: list[str] = []
        for mig in list_migrations("postgres"):
            if mig.version in applied:
                continue
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            async with conn.transaction():
                await conn.execute(mig.sql, timeout=None)
                await conn.execute(q.RECORD_MIGRATION, mig.version, mig.name, stamp)
            done.append(f"{mig.version:04d}_{mig.name}")
            LOG.info("applied migration %04d_%s", mig.version, mig.name)
        return done
    finally:
        if not conn.is_closed():
            await conn.execute(q.ADVISORY_UNLOCK, MIGRATION_LOCK_KEY)


async def migrate_database(url: str) -> list[str]:
    """Connect, apply pending migrations, disconnect; ``Unavailable`` with a clear message on failure."""
    try:
        conn = await connect(url)
    except Exception as exc:
        raise _open_error(url, exc) from exc
    try:
        with translate_errors():
            return await apply_migrations(conn)
    finally:
        await conn.close()
