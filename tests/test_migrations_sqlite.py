"""SQLite migrations and connection setup: applied once and recorded, required indexes, pragmas."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from store.factory import open_store, run_migrations
from store.interface import Store
from store.migrate import list_migrations
from store.model import EventQuery
from tests.store.builders import custom

TABLES = {"events", "sessions", "agents", "alert_rules", "alert_history", "api_keys", "config_kv",
          "schema_migrations", "chain_anchors", "retention_runs"}
# name -> the columns it must cover, leading with the tenant and using the normalized time column
REQUIRED_INDEXES = {
    "idx_events_timestamp": ["tenant_id", "ts"],
    "idx_events_session_id": ["tenant_id", "session_id"],
    "idx_events_agent_id": ["tenant_id", "agent_id", "ts", "event_type"],
    "idx_events_type": ["tenant_id", "event_type"],
    "idx_events_session_ts": ["tenant_id", "session_id", "ts"],
    "idx_sessions_agent_id": ["tenant_id", "agent_id"],
    "idx_sessions_started_at": ["tenant_id", "started_ts"],
    "idx_sessions_status": ["tenant_id", "status"],
}


def expected_names() -> list[str]:
    return [f"{m.version:04d}_{m.name}" for m in list_migrations("sqlite")]


def inspect(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]


async def test_every_migration_applies_once_and_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    names = expected_names()
    assert names and names[0] == "0001_init"
    assert await run_migrations(f"sqlite:///{path}") == names
    assert await run_migrations(f"sqlite:///{path}") == []
    assert await run_migrations(str(path)) == []
    recorded = inspect(path, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
    assert [(v, n) for v, n, _ in recorded] == [(m.version, m.name) for m in list_migrations("sqlite")]
    assert all(isinstance(at, str) and at.endswith("Z") for _, _, at in recorded)


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in list_migrations("sqlite")]
    assert versions == list(range(1, len(versions) + 1))


async def test_schema_has_the_tables_and_indexes(tmp_path: Path) -> None:
    path = tmp_path / "schema.db"
    await run_migrations(str(path))
    tables = {r[0] for r in inspect(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables >= TABLES
    for name, columns in REQUIRED_INDEXES.items():
        covered = [r[2] for r in inspect(path, "SELECT * FROM pragma_index_info(?) ORDER BY seqno", name)]
        assert covered[:len(columns)] == columns, (name, covered)


@pytest.mark.parametrize("count", [False, True])
async def test_events_by_agent_and_type_read_the_agent_index(tmp_path: Path, count: bool) -> None:
    """The one agent index serves agent + type filters; a count of them never reads a row."""
    from store.sqlite import queries as q

    path = tmp_path / "plan.db"
    await run_migrations(str(path))
    where, params = q.event_filters(EventQuery(agent_id="a", event_types=("tool_error",)))
    sql = q.count_events(where) if count else q.select_events(where, "desc")
    args = ["default", *params] if count else ["default", *params, 50, 0]
    plan = " ".join(r[3] for r in inspect(path, f"EXPLAIN QUERY PLAN {sql}", *args))
    expected = "COVERING INDEX idx_events_agent_id" if count else "INDEX idx_events_agent_id"
    assert expected in plan, plan


async def test_span_reads_use_the_trace_key_or_start_time_and_no_session_index_remains(tmp_path: Path) -> None:
    """Migration 0005 dropped idx_spans_session: every span read is served by another index."""
    from store.spans import SpanScan
    from store.sqlite import queries as q

    path = tmp_path / "spans.db"
    await run_migrations(str(path))
    names = {r[0] for r in inspect(path, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'spans'")}
    assert "idx_spans_session" not in names and "idx_spans_start" in names

    def plan(sql: str, *args: Any) -> str:
        return " ".join(r[3] for r in inspect(path, f"EXPLAIN QUERY PLAN {sql}", *args))

    assert "sqlite_autoindex_spans_1" in plan(q.SELECT_TRACE_SPANS.format(marks="?"), "default", "ab")
    sql, args = q.scan_spans("default", SpanScan(start_ns=0, end_ns=10))
    assert "idx_spans_start" in plan(sql, *args)
    assert "idx_spans_start" in plan(q.DELETE_SPANS_BATCH, "default", 10, 100)


async def test_opening_a_store_migrates_and_reopening_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "kept.db"
    first = await open_store(f"sqlite:///{path}")
    await first.insert_events([custom("s1")])
    await first.close()
    assert await run_migrations(str(path)) == []
    second = await open_store(f"sqlite:///{path}")
    try:
        assert await second.count_events("default", EventQuery()) == 1
    finally:
        await second.close()
    assert len(inspect(path, "SELECT * FROM schema_migrations")) == len(expected_names())


_PRAGMAS = ("journal_mode", "synchronous", "cache_size", "busy_timeout", "foreign_keys", "query_only")


async def pragmas(store: Store, *, writer: bool) -> dict[str, Any]:
    conns = store._c  # type: ignore[attr-defined]
    if writer:  # the writer is a plain sqlite3 connection on its own thread
        return dict(await conns.run_write(
            lambda db: [(name, db.execute(f"PRAGMA {name}").fetchone()[0]) for name in _PRAGMAS]
        ))
    values: dict[str, Any] = {}
    async with conns.read() as db:
        for name in _PRAGMAS:
            async with db.execute(f"PRAGMA {name}") as cur:
                row = await cur.fetchone()
            values[name] = row[0]
    return values


async def test_writer_pragmas(sqlite_store: Store) -> None:
    assert await pragmas(sqlite_store, writer=True) == {
        "journal_mode": "wal", "synchronous": 1, "cache_size": -64000, "busy_timeout": 5000, "foreign_keys": 1,
        "query_only": 0,
    }


async def test_reader_pragmas(sqlite_store: Store) -> None:
    values = await pragmas(sqlite_store, writer=False)
    assert values == {
        "journal_mode": "wal", "synchronous": values["synchronous"], "cache_size": -64000, "busy_timeout": 5000,
        "foreign_keys": 1, "query_only": 1,
    }


def test_pragmas_are_named_constants() -> None:
    from store.sqlite import connections as c

    assert c.PRAGMA_JOURNAL_MODE == "PRAGMA journal_mode = WAL"
    assert c.PRAGMA_SYNCHRONOUS == "PRAGMA synchronous = NORMAL"
    assert c.PRAGMA_CACHE_SIZE == "PRAGMA cache_size = -64000"
    assert c.PRAGMA_BUSY_TIMEOUT == "PRAGMA busy_timeout = 5000"
    assert c.PRAGMA_FOREIGN_KEYS == "PRAGMA foreign_keys = ON"
    assert set(c.WRITER_PRAGMAS) >= {c.PRAGMA_JOURNAL_MODE, c.PRAGMA_SYNCHRONOUS, c.PRAGMA_CACHE_SIZE,
                                     c.PRAGMA_BUSY_TIMEOUT, c.PRAGMA_FOREIGN_KEYS}


async def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from store import migrate
    from store.sqlite import connections

    real = migrate.list_migrations("sqlite")
    broken = [*real, migrate.Migration(len(real) + 1, "broken", "CREATE TABLE half_done (x INTEGER);\nSELECT nope();")]
    monkeypatch.setattr(connections, "list_migrations", lambda dialect: broken)
    path = tmp_path / "broken.db"
    with pytest.raises(Exception, match="nope"):
        await run_migrations(str(path))
    tables = {r[0] for r in inspect(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half_done" not in tables
    assert [r[0] for r in inspect(path, "SELECT version FROM schema_migrations")] == [m.version for m in real]


async def test_bare_paths_and_sqlite_urls_name_the_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = tmp_path / "abs.db"
    assert await run_migrations(str(absolute)) == expected_names()
    assert absolute.exists()
    assert await run_migrations(f"sqlite:///{absolute}") == []
    monkeypatch.chdir(tmp_path)
    assert await run_migrations("rel.db") == expected_names()
    assert await run_migrations("sqlite:///rel.db") == []
    assert (tmp_path / "rel.db").exists()


def test_null_parameters_bind_without_the_adapter_lookup() -> None:
    """None has a registered adapter: binding it costs a dict lookup, not two AttributeErrors."""
    import store.sqlite.connections  # noqa: F401 - registers the adapter

    adapter = sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)]
    assert adapter(None) is None
    with sqlite3.connect(":memory:") as conn:
        assert conn.execute("SELECT ? IS NULL", (None,)).fetchone() == (1,)
