"""Migrations: the same numbered files in both dialects, applied once, serialized across processes."""

from __future__ import annotations

import asyncio
import sqlite3
from importlib import resources
from pathlib import Path

import asyncpg
import pytest

from store.factory import open_store, run_migrations
from store.migrate import list_migrations
from tests.postgres.conftest import NewDatabase

pytestmark = pytest.mark.postgres


def _names(dialect: str) -> list[tuple[int, str]]:
    return [(m.version, m.name) for m in list_migrations(dialect)]


def test_both_folders_hold_the_same_numbers_and_names() -> None:
    sqlite, postgres = _names("sqlite"), _names("postgres")
    assert sqlite, "no migrations found"
    assert sqlite == postgres
    # no stray file that the loader would silently ignore
    for dialect in ("sqlite", "postgres"):
        folder = resources.files("migrations").joinpath(dialect)
        files = sorted(e.name for e in folder.iterdir() if e.name.endswith(".sql"))
        assert files == [f"{v:04d}_{n}.sql" for v, n in _names(dialect)]
    # numbered 1, 2, 3 ... without gaps
    assert [v for v, _ in sqlite] == list(range(1, len(sqlite) + 1))


async def test_sqlite_applies_every_migration_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    expected = [f"{v:04d}_{n}" for v, n in _names("sqlite")]
    assert await run_migrations(url) == expected
    assert await run_migrations(url) == []
    with sqlite3.connect(tmp_path / "m.db") as db:
        recorded = db.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert recorded == _names("sqlite")


async def test_postgres_applies_every_migration_once(pg_url: str) -> None:
    expected = [f"{v:04d}_{n}" for v, n in _names("postgres")]
    assert await run_migrations(pg_url) == expected
    assert await run_migrations(pg_url) == []
    conn = await asyncpg.connect(pg_url)
    try:
        found = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        recorded = [(r[0], r[1]) for r in found]
    finally:
        await conn.close()
    assert recorded == _names("postgres")


async def test_concurrent_startups_migrate_exactly_once(new_database: NewDatabase) -> None:
    """Four processes starting at once on an empty database: one applies, the others wait and find it done."""
    url = await new_database()
    results = await asyncio.gather(*(run_migrations(url) for _ in range(4)))
    expected = [f"{v:04d}_{n}" for v, n in _names("postgres")]
    assert sorted(results, key=len) == [[], [], [], expected]


async def test_opening_a_store_migrates_and_a_second_open_is_a_no_op(pg_url: str) -> None:
    first = await open_store(pg_url)
    second = await open_store(pg_url)
    try:
        assert await run_migrations(pg_url) == []
        assert await first.ping() >= 0
        assert await second.ping() >= 0
    finally:
        await first.close()
        await second.close()


def _sqlite_schema(path: Path) -> tuple[dict[str, list[str]], set[str]]:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )]
        columns = {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")] for t in tables}
        indexes = {r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'"
        )}
    return columns, indexes


async def _pg_schema(url: str) -> tuple[dict[str, list[str]], set[str]]:
    conn = await asyncpg.connect(url)
    try:
        columns: dict[str, list[str]] = {}
        for r in await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY table_name, ordinal_position"
        ):
            columns.setdefault(r[0], []).append(r[1])
        indexes = {r[0] for r in await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' "
            "AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'"
        )}
    finally:
        await conn.close()
    return columns, indexes


async def test_postgres_schema_mirrors_sqlite(tmp_path: Path, pg_url: str) -> None:
    """Same tables, same columns in the same order, same named indexes after every migration."""
    await run_migrations(f"sqlite:///{tmp_path / 's.db'}")
    await run_migrations(pg_url)
    lite_columns, lite_indexes = _sqlite_schema(tmp_path / "s.db")
    pg_columns, pg_indexes = await _pg_schema(pg_url)
    assert pg_columns == lite_columns
    assert pg_indexes == lite_indexes
