"""PostgreSQL bulk-write paths for the events table: executemany vs COPY vs one INSERT ... unnest.

Not part of ``make bench`` (it measures a design choice, not the product): run it by hand with
``python -m bench.pg_insert_paths [--events 100000] [--batch 1000]`` and a reachable PostgreSQL
(``DATABASE_URL`` or the local test server). Every path gets its own fresh database and writes
the same planned rows (realistic workload events, chained by store/plan.py) in transactions of
``--batch`` rows; only the events write is timed, each transaction from BEGIN to COMMIT.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson

from bench.common import emit, log, median, pg_create_database, pg_drop_database, with_database
from bench.workload import Workload
from collector.mapping.native import parse_ingest_body
from store.plan import EVENT_COLUMNS, EventRow, plan_insert
from store.postgres import queries as q
from store.postgres import rows
from store.postgres.connections import migrate_database

DEFAULT_ADMIN = "postgresql://root@/test?host=/var/run/postgresql"


def _rows(events: int) -> list[EventRow]:
    workload = Workload(7, stream="paths", agents=50, concurrent=32)
    end_us = time.time_ns() // 1000
    start_us = end_us - 86_400_000_000
    step = (end_us - start_us) // events
    new_events = []
    for i in range(0, events, 1000):  # the API's largest batch
        n = min(1000, events - i)
        batch = workload.take(n, start_us + i * step, start_us + (i + n) * step, client_ids=False)
        new_events.extend(parse_ingest_body(orjson.dumps({"events": batch}), tenant="default", now_us=lambda: end_us))
    return plan_insert(new_events, existing={}, sessions={}, agents={}).event_rows


async def _executemany(conn: asyncpg.Connection, batch: list[EventRow]) -> None:
    await conn.executemany(q.INSERT_EVENT, batch)


async def _copy(conn: asyncpg.Connection, batch: list[EventRow]) -> None:
    await conn.copy_records_to_table(q.EVENTS_TABLE, records=batch, columns=list(EVENT_COLUMNS))


async def _unnest(conn: asyncpg.Connection, batch: list[EventRow]) -> None:
    await conn.execute(q.INSERT_EVENTS_UNNEST, *rows.event_columns(batch))


PATHS: dict[str, Callable[[asyncpg.Connection, list[EventRow]], Awaitable[None]]] = {
    "executemany": _executemany, "copy": _copy, "unnest": _unnest,
}


async def _time_path(url: str, name: str, planned: list[EventRow], batch: int) -> float:
    await migrate_database(url)
    conn = await asyncpg.connect(url)
    try:
        write = PATHS[name]
        start = time.perf_counter()
        for i in range(0, len(planned), batch):
            async with conn.transaction():
                await write(conn, planned[i:i + batch])
        elapsed = time.perf_counter() - start
        assert await conn.fetchval("SELECT count(*) FROM events") == len(planned)
    finally:
        await conn.close()
    return len(planned) / elapsed


def main() -> int:
    import os

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    admin = os.environ.get("DATABASE_URL") or DEFAULT_ADMIN
    log(f"planning {args.events:,} events")
    planned = _rows(args.events)
    results: dict[tuple[str, int], list[float]] = {}
    for run in range(args.runs):
        for batch in args.batch:
            for name in PATHS:
                db = f"alc_paths_{name}_{batch}_{run}"
                pg_drop_database(admin, db)
                pg_create_database(admin, db)
                try:
                    rate = asyncio.run(_time_path(with_database(admin, db), name, planned, batch))
                finally:
                    pg_drop_database(admin, db)
                results.setdefault((name, batch), []).append(rate)
                log(f"  run {run + 1}: {name:<11} batch {batch:>5}: {rate:,.0f} rows/s")
    for (name, batch), rates in results.items():
        extra: dict[str, Any] = {"per_run": [round(r) for r in rates], "batch": batch, "events": args.events}
        emit("pg_insert_paths", name, median(rates), "rows/s", runs=args.runs, **extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
