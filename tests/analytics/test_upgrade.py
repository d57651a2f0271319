"""A database written before migration 0002 gets correct analytics after it: cache tokens and rollups backfilled."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from store.aggregates import Buckets, EventAggQuery
from store.factory import open_store
from store.migrate import list_migrations
from store.model import AnalyticsParams
from store.plan import EVENT_COLUMNS, plan_insert
from tests.analytics.reference import COST_TYPES, DAY, START, Ref, dataset
from tests.analytics.test_store import _approx, _as_doc
from tests.support import drop_databases, pg_database_url

OLD_COLUMNS = EVENT_COLUMNS[:21]          # the events columns of 0001_init


def _old_rows() -> tuple[Ref, list[tuple[Any, ...]]]:
    events = dataset(seed=11)
    planned = plan_insert(events, existing={}, sessions={}, agents={}).event_rows
    rows = [row[:21] for row in planned]
    # a payload that is not JSON (damaged outside the service) must not stop the migration
    rows.append(("default", "corrupt-1", 0, "2026-11-24T00:00:00Z", START + DAY, "sx", "agent-x", "llm_response",
                 "info", '{"usage": {"cacheReadTokens": 5', "{}", None, "h", None, None, None, None, None, None,
                 None, None))
    return Ref(events), rows


async def _check(url: str, ref: Ref) -> None:
    store = await open_store(url)               # applies 0002: columns, backfills, rollups
    try:
        lo, hi = START - DAY, START + 5 * DAY
        corrupt_bucket = "2026-11-24T00:00:00Z"
        for granularity in ("hour", "day"):
            got = _as_doc(await store.get_analytics("default", AnalyticsParams(lo, hi, granularity)))  # type: ignore[arg-type]
            want = ref.analytics(lo, hi, granularity)
            for key in ("eventCount", "uniqueSessions", "uniqueAgents"):
                want["totals"][key] += 1                 # the corrupt row is an event of its own session
            assert got["totals"] == _approx(want["totals"])
            assert [b for b in got["buckets"] if b["timestamp"] != corrupt_bucket] == _approx(
                [b for b in want["buckets"] if b["timestamp"] != corrupt_bucket])
        rows = await store.aggregate_events("default", EventAggQuery(lo, hi, event_types=COST_TYPES,
                                                                     buckets=Buckets("day")))
        read = sum(r.cache_read_tokens for r in rows)
        write = sum(r.cache_write_tokens for r in rows)
        events = ref.select(lo, hi, types=COST_TYPES)
        assert read == sum(e.facts.cache_read_tokens or 0 for e in events) > 0
        assert write == sum(e.facts.cache_write_tokens or 0 for e in events) > 0
    finally:
        await store.close()


async def test_sqlite_upgrade_backfills(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    first = list_migrations("sqlite")[0]
    ref, rows = _old_rows()
    with sqlite3.connect(path) as db:
        db.executescript(first.sql)
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                   "applied_at TEXT NOT NULL)")
        db.execute("INSERT INTO schema_migrations VALUES (1, ?, '2026-01-01T00:00:00Z')", (first.name,))
        db.executemany(f"INSERT INTO events ({', '.join(OLD_COLUMNS)}) VALUES ({', '.join('?' * 21)})", rows)
    await _check(f"sqlite:///{path}", ref)


async def test_postgresql_upgrade_backfills(request: pytest.FixtureRequest) -> None:
    dsn: str = request.getfixturevalue("pg_dsn")
    created: list[str] = []
    url = await pg_database_url(dsn, created)
    try:
        first = list_migrations("postgres")[0]
        ref, rows = _old_rows()
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(first.sql)
            await conn.execute("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
                               "applied_at TEXT NOT NULL)")
            await conn.execute("INSERT INTO schema_migrations VALUES (1, $1, $2)", first.name,
                               time.strftime("%Y-%m-%dT%H:%M:%SZ"))
            await conn.copy_records_to_table("events", records=rows, columns=list(OLD_COLUMNS))
        finally:
            await conn.close()
        await _check(url, ref)
    finally:
        await drop_databases(dsn, created)
