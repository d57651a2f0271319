"""SQLite connections: one writer, a pool of read-only readers, pragmas, migrations, error mapping."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import aiosqlite

from store.errors import InvalidInput, StoreClosed, StoreError, Unavailable
from store.migrate import list_migrations
from store.sqlite import queries as q
from store.sqlite.checkpoint import WRITER_AUTOCHECKPOINT_PAGES

if TYPE_CHECKING:
    from store.sqlite.writer import Writer

__all__ = ("SQLiteConnections", "insert_rows", "translate_errors")

LOG = logging.getLogger("store.sqlite")

# The sqlite3 module binds int, float and str directly but sends every other value, None
# included, through its adapter lookup, which without a registered adapter asks the value's
# type for __adapt__ and __conform__ and formats an AttributeError for each: about a seventh of
# the writer's instructions went there (an event row binds a dozen NULLs). A registered adapter
# is one dict lookup; {}.get(None) is a C function that returns None, bound as NULL as before.
sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))

_T = TypeVar("_T")

# Pragmas (https://www.sqlite.org/pragma.html), each with the reason we set it:
# 8 KiB pages (new files only; must come before WAL): events rows are ~1 KB and every insert
# touches seven b-trees; bigger pages split less (measured ~15% faster inserts than 4 KiB).
PRAGMA_PAGE_SIZE = "PRAGMA page_size = 8192"
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
# The writer checkpoints only as a backstop; a background thread does it (store/sqlite/checkpoint.py).
PRAGMA_WAL_AUTOCHECKPOINT = f"PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT_PAGES}"

WRITER_PRAGMAS = (
    PRAGMA_PAGE_SIZE,
    PRAGMA_JOURNAL_MODE, PRAGMA_SYNCHRONOUS, PRAGMA_CACHE_SIZE, PRAGMA_BUSY_TIMEOUT,
    PRAGMA_FOREIGN_KEYS, PRAGMA_TEMP_STORE, PRAGMA_WAL_AUTOCHECKPOINT,
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
    """Owns the connections: one writer (``store.sqlite.writer``), a pool of read-only readers.

    Every write is a function run by the writer inside ``BEGIN IMMEDIATE`` (``run_write``), one
    transaction at a time, committed before ``run_write`` returns.
    """

    def __init__(self, path: Path, writer: Writer, readers: list[aiosqlite.Connection]) -> None:
        self.path = path
        self._writer = writer
        self._readers = readers
        self._pool: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in readers:
            self._pool.put_nowait(conn)
        self._closed = False

    @classmethod
    async def open(cls, path: Path, *, migrate: bool = True, writer_process: bool = False) -> SQLiteConnections:
        from store.sqlite.writer import ProcessWriter, ThreadWriter

        path.parent.mkdir(parents=True, exist_ok=True)
        with translate_errors():
            writer: Writer = await (ProcessWriter if writer_process else ThreadWriter).start(path, migrate=migrate)
        readers: list[aiosqlite.Connection] = []
        try:
            with translate_errors():
                for _ in range(READ_POOL_SIZE):
                    reader = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
                    readers.append(reader)
                    for pragma in READER_PRAGMAS:
                        await reader.execute(pragma)
        except BaseException:
            for reader in readers:
                await reader.close()
            await writer.close()
            raise
        return cls(path, writer, readers)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for conn in self._readers:
            try:
                await conn.close()
            except sqlite3.Error:  # pragma: no cover - closing a broken connection
                LOG.warning("error while closing a SQLite reader", exc_info=True)
        await self._writer.close()  # queued writes finish first

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

    async def run_write(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``fn(writer)`` inside ``BEGIN IMMEDIATE``; commit, or roll back on error.

        ``fn`` is ``partial(store.sqlite.writes.<function>, **keywords)`` (a writer process
        receives it by name). Writes run one at a time in submission order; committed on return.
        """
        self._check_open()
        return await self._writer.run(fn)


def run_transaction(db: sqlite3.Connection, fn: Callable[[sqlite3.Connection], _T]) -> _T:
    """``fn(db)`` between ``BEGIN IMMEDIATE`` and ``COMMIT`` (``ROLLBACK`` on error), errors translated."""
    with translate_errors():
        db.execute("BEGIN IMMEDIATE")
        try:
            result = fn(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result


def open_writer(path: Path, migrate: bool) -> sqlite3.Connection:
    """The writer connection: pragmas, then pending migrations (on the thread or process that owns it)."""
    with translate_errors():
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        try:
            for pragma in WRITER_PRAGMAS:
                conn.execute(pragma)
            if migrate:
                apply_migrations(conn)
        except BaseException:
            conn.close()
            raise
    return conn


def apply_migrations(conn: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction; return the names applied."""
    conn.execute(q.CREATE_SCHEMA_MIGRATIONS)
    applied = {int(row[0]) for row in conn.execute(q.SELECT_APPLIED_MIGRATIONS).fetchall()}
    done: list[str] = []
    for mig in list_migrations("sqlite"):
        if mig.version in applied:
            continue
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        record = q.RECORD_MIGRATION.format(version=mig.version, name=mig.name, applied_at=stamp)
        # The file and its record run in one transaction: a crash leaves neither or both.
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{mig.sql}\n;\n{record};\nCOMMIT;")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        done.append(f"{mig.version:04d}_{mig.name}")
        LOG.info("applied migration %04d_%s", mig.version, mig.name)
    return done


async def migrate_file(path: Path) -> list[str]:
    """Open the file as the writer would, apply pending migrations, close."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def work() -> list[str]:
        with translate_errors():
            conn = sqlite3.connect(str(path), isolation_level=None)
            try:
                for pragma in WRITER_PRAGMAS:
                    conn.execute(pragma)
                return apply_migrations(conn)
            finally:
                conn.close()

    return await asyncio.to_thread(work)


# SQLite binds at most 32766 parameters per statement; rows per statement stay well below that.
_MAX_PARAMS = 8000
_MAX_ROWS = 200


def insert_rows(db: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run a single-row ``INSERT ... VALUES (?, ...)`` for every row, many rows per statement.

    One statement per many rows lets SQLite insert them in one step without the GIL; executemany
    re-takes the GIL for every row, which stalls the writer behind the event loop.
    """
    if not rows:
        return
    per = max(1, min(_MAX_ROWS, _MAX_PARAMS // max(1, len(rows[0]))))
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        db.execute(q.multi_row(sql, len(chunk)), list(chain.from_iterable(chunk)))
