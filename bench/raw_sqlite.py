"""SQLite's own insert rate into our events table (stdlib sqlite3, same schema and pragmas): the yardstick."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.workload import Workload
from collector.mapping.native import parse_ingest_body
from store.plan import plan_insert
from store.sqlite import queries as q
from store.sqlite.connections import WRITER_PRAGMAS, migrate_file

__all__ = ("TRANSACTION_ROWS", "raw_insert_client")

# Rows per transaction: what one group commit of a few concurrent 100-event batches writes.
TRANSACTION_ROWS = 1000


def _rows(count: int, seed: int) -> list[Any]:
    """Event rows exactly as the store would write them (canonical JSON, facts, chain hashes)."""
    workload = Workload(seed, stream="raw", concurrent=16, client_id_fraction=0.0)
    now = time.time_ns() // 1000
    events = []
    step = 1_000_000 // 25_000  # spaced like a 25k events/s stream
    start = now - count * step
    for i in range(0, count, 1000):
        n = min(1000, count - i)
        batch = workload.take(n, start + i * step, start + (i + n) * step, client_ids=False)
        events.extend(parse_ingest_body(orjson.dumps({"events": batch}), tenant="default", now_us=lambda: now))
    return plan_insert(events, existing={}, sessions={}, agents={}).event_rows


def raw_insert_client(arg: tuple[int, int], gate: Callable[[], float]) -> dict[str, float]:
    """Client-process body: prepare rows, then time inserting them into a fresh file.

    Reports wall-clock rows/s and rows per CPU-second of the process (less sensitive to other
    work on a shared machine than wall time).
    """
    count, seed = arg
    rows = _rows(count, seed)
    with tempfile.TemporaryDirectory(prefix="agentlens-raw-") as tmp:
        path = Path(tmp) / "raw.db"
        asyncio.run(migrate_file(path))
        conn = sqlite3.connect(path)  # the module opens a transaction before the INSERTs
        for pragma in WRITER_PRAGMAS:
            conn.execute(pragma)
        gate()
        started = time.perf_counter()
        cpu_started = time.process_time()
        for i in range(0, len(rows), TRANSACTION_ROWS):
            conn.executemany(q.INSERT_EVENT, rows[i:i + TRANSACTION_ROWS])
            conn.commit()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        conn.close()
    return {"rows": len(rows), "seconds": elapsed, "rows_per_s": len(rows) / elapsed, "rows_per_cpu_s": len(rows) / cpu}
