"""SQLite connections: one writer, a pool of read-only readers, pragmas, migrations, error mapping."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

import aiosqlite

from store.errors import InvalidInput, StoreClosed, StoreError, Unavailable
from store.migrate import list_migrations
from store.sqlite import queries as q

__all__ = ("SQLiteConnections", "insert_rows", "translate_errors")

LOG = logging.getLogger("store.sqlite")

# Pragmas (https://www.sqlite.org/pragma.html), each with the reason we set it:
# WAL lets the readers run while the single writer commits.
PRAGMA_JOURNAL_MODE = "PRAGMA journal_mode = WAL"
# NORMAL in WAL mode syncs at checkpoints, not every commit: a power cut can lose the last
# commits, a process crash (the case we promise to survive) cannot.
PRAGMA_SYNCHRONOUS = "PRAGMA synchronous = NORMAL"
# 64 MB page cache per connection (negative = KiB): the hot indexes of ~1M events stay in memory.
PRAGMA_CACHE_SIZE = "PRAGMA cache_size = -64000"
# Wait up to 5 s for a lock held by another connection (a migration, the CLI) instead of failing.
PRAGMA_BUSY_TIMEOUT = "PRAGMA busy_timeout = 5000"
# Enforce foreign keys wherever the schema declares them.
PRAGMA_FOREIGN_KEYS = "PRAGMA foreign_keys = ON"
# Readers never write; a bug that tries fails loudly instead of taking the write lock.
PRAGMA_QUERY_ONLY = "PRAGMA query_only = ON"
# Temporary b-trees for sorts and DISTINCT in memory rather than in temp files.
PRAGMA_TEMP_STORE = "PRAGMA temp_store = MEMORY"

WRITER_PRAGMAS = (
    PRAGMA_JOURNAL_MODE, PRAGMA_SYNCHRONOUS, PRAGMA_CACHE_SIZE, PRAGMA_BUSY_TIMEOUT,
    PRAGMA_FOREIGN_KEYS, PRAGMA_TEMP_STORE,
)
READER_PRAGMAS = (PRAGMA_CACHE_SIZE, PRAGMA_BUSY_TIMEOUT, PRAGMA_FOREIGN_KEYS, PRAGMA_QUERY_ONLY, PRAGMA_TEMP_STORE)

# Each aiosqlite connection owns a thread; two cores gain nothing from more readers than this.
READ_POOL_SIZE = 3


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn sqlite3 exceptions into store errors at the backend edge."""
    try:
        yield
    except StoreError:
        raise
    except sqlite3.IntegrityError as exc:
        raise InvalidInput(f"constraint violated: {exc}") from exc
    except sqlite3.OperationalError as exc:
        raise Unavailable(f"database unavailable: {exc}") from exc
    except (sqlite3.Error, ValueError) as exc:
        if isinstance(exc, ValueError) and "closed" not in str(exc).lower():
            raise
        raise Unavailable(f"database error: {exc}") from exc


class SQLiteConnections:
    """Owns the connections; every write transaction goes through ``write()`` one at a time."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, readers: list[aiosqlite.Connection]) -> None:
        self.path = path
        self._writer = writer
        self._readers = readers
        self._pool: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in readers:
            self._pool.put_nowait(conn)
        self._write_lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: Path, *, migrate: bool = True) -> SQLiteConnections:
        path.parent.mkdir(parents=True, exist_ok=True)
        with translate_errors():
            writer = await aiosqlite.connect(str(path), isolation_level=None)
            try:
                for pragma in WRITER_PRAGMAS:
                    await writer.execute(pragma)
                if migrate:
                    await apply_migrations(writer)
                readers = []
                for _ in range(READ_POOL_SIZE):
                    reader = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
                    for pragma in READER_PRAGMAS:
                        await reader.execute(pragma)
                    readers.append(reader)
            except BaseException:
                await writer.close()
                raise
        return cls(path, writer, readers)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._write_lock:
            for conn in (*self._readers, self._writer):
                try:
                    await conn.close()
                except sqlite3.Error:  # pragma: no cover - closing a broken connection
                    LOG.warning("error while closing a SQLite connection", exc_info=True)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("store is closed")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A reader connection for the duration of the block."""
        self._check_open()
        conn = await self._pool.get()
        try:
            with translate_errors():
                yield conn
        finally:
            self._pool.put_nowait(conn)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[aiosqlite.Connection]:
        """A reader inside one read transaction: every statement sees the same committed state."""
        async with self.read() as conn:
            await conn.execute("BEGIN")
            try:
                yield conn
            finally:
                await conn.execute("COMMIT")  # a read transaction: ending it only releases the snapshot

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """The writer inside ``BEGIN IMMEDIATE``; commits on success, rolls back on error."""
        self._check_open()
        async with self._write_lock:
            self._check_open()
            with translate_errors():
                await self._writer.execute("BEGIN IMMEDIATE")
                try:
                    yield self._writer
                except BaseException:
                    await self._writer.execute("ROLLBACK")
                    raise
                await self._writer.execute("COMMIT")


async def apply_migrations(conn: aiosqlite.Connection) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction; return the names applied."""
    await conn.execute(q.CREATE_SCHEMA_MIGRATIONS)
    async with conn.execute(q.SELECT_APPLIED_MIGRATIONS) as cur:
        applied = {int(row[0]) for row in await cur.fetchall()}
    done: list[str] = []
    for mig in list_migrations("sqlite"):
        if mig.version in applied:
            continue
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        record = q.RECORD_MIGRATION.format(version=mig.version, name=mig.name, applied_at=stamp)
        # The file and its record run in one transaction: a crash leaves neither or both.
        try:
            await conn.executescript(f"BEGIN IMMEDIATE;\n{mig.sql}\n;\n{record};\nCOMMIT;")
        except sqlite3.Error:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
        done.append(f"{mig.version:04d}_{mig.name}")
        LOG.info("applied migration %04d_%s", mig.version, mig.name)
    return done


async def migrate_file(path: Path) -> list[str]:
    """Open the file as the writer would, apply pending migrations, close."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with translate_errors():
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            for pragma in WRITER_PRAGMAS:
                await conn.execute(pragma)
            return await apply_migrations(conn)
        finally:
            await conn.close()


# SQLite binds at most 32766 parameters per statement; rows per statement stay well below that.
_MAX_PARAMS = 8000
_MAX_ROWS = 200


async def insert_rows(db: aiosqlite.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run a single-row ``INSERT ... VALUES (?, ...)`` for every row, many rows per statement."""
    if not rows:
        return
    per = max(1, min(_MAX_ROWS, _MAX_PARAMS // max(1, len(rows[0]))))
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        await db.execute(q.multi_row(sql, len(chunk)), list(chain.from_iterable(chunk)))
