"""Seed a database with N realistic events through the store's own bulk path; cached in bench/.cache/.

The events come from the same generator as the ingest benchmark (``bench.workload``), go through
the server's own native mapping (``parse_ingest_body``: validation, canonical JSON, facts, ids)
and are written with ``store.insert_events`` in large batches, directly (no HTTP). They are
spread evenly over ``--days`` days ending at the time of seeding, in time order, as a live
collector would have received them.

A seeded SQLite file is kept under ``bench/.cache/`` keyed by the seed parameters, the seed
format version and the migrations, so reruns skip seeding; a sidecar JSON (written last) holds
what the query benchmark needs (time range, agents, sample sessions, 1,000-event sessions).
With ``DATABASE_URL=postgresql://...`` the seed goes into a database named by the same key on
that server and is reused likewise.

    python -m bench.seed --events 1000000      # or --events 10000000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.common import REPO, DatabaseTarget, log, pg_admin_url, pg_create_database, pg_drop_database, with_database
from bench.workload import Workload
from collector.mapping.native import parse_ingest_body
from store.factory import open_store
from store.interface import Store
from store.model import NewEvent

__all__ = ("CACHE", "SeedInfo", "ensure_seed")

CACHE = REPO / "bench" / ".cache"
SEED_VERSION = 2            # bump when the generator or the seeding changes what is stored
BODY_EVENTS = 1000          # events per parsed body (the API's maximum batch)
INSERT_EVENTS = 10_000      # events per insert_events call (one transaction)
LONG_SESSION_EVERY = 25     # every 25th session has exactly 1,000 events (timeline benchmark)
SAMPLE = 200


@dataclass(frozen=True, slots=True)
class SeedInfo:
    target: DatabaseTarget
    meta: dict[str, Any]


def _migrations_digest(dialect: str) -> str:
    h = hashlib.sha256()
    for path in sorted((REPO / "migrations" / dialect).glob("*.sql")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(prefix: str, size: str, version: int, events: int, days: float, dialect: str) -> str:
    """``<prefix>_<size>_<digest>``: the digest covers the parameters, the seed version and the migrations."""
    params = {"events": events, "days": days, "version": version, "migrations": _migrations_digest(dialect)}
    digest = hashlib.sha256(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
    return f"{prefix}_{size}_{digest}"


def seed_key(events: int, days: float, dialect: str) -> str:
    size = f"{events // 1_000_000}m" if events >= 1_000_000 else f"{events // 1000}k"
    return cache_key("seed", size, SEED_VERSION, events, days, dialect)


def current_dialect() -> str:
    """The dialect benchmarks run on: PostgreSQL when ``DATABASE_URL`` names one, else SQLite."""
    return "postgresql" if pg_admin_url() else "sqlite"


def cached_database(
    key: str, *, force: bool, what: str, fill: Callable[[str], Coroutine[Any, Any, dict[str, Any]]],
) -> SeedInfo:
    """The database ``key`` (a SQLite file under ``CACHE`` or a PostgreSQL database) and its sidecar
    metadata, filled by ``fill(url)`` first unless a complete one is cached (or ``force``)."""
    admin = pg_admin_url()
    dialect = current_dialect()
    CACHE.mkdir(parents=True, exist_ok=True)
    sidecar = CACHE / f"{key}.{dialect}.json"
    if admin is not None:
        target = DatabaseTarget.postgres(with_database(admin, key))
    else:
        target = DatabaseTarget.sqlite(CACHE / f"{key}.db")
    if sidecar.exists() and not force and (admin is not None or (target.path is not None and target.path.exists())):
        log(f"using the cached {key} ({dialect})")
        return SeedInfo(target, orjson.loads(sidecar.read_bytes()))
    sidecar.unlink(missing_ok=True)
    log(f"seeding {what} into {key} ({dialect}); cached for later runs")
    if admin is not None:
        pg_drop_database(admin, key)
        pg_create_database(admin, key)
        meta = asyncio.run(fill(target.url))
    else:
        assert target.path is not None
        tmp = target.path.with_suffix(".building")
        for leftover in (tmp, *(Path(f"{p}{s}") for p in (tmp, target.path) for s in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        target.path.unlink(missing_ok=True)
        meta = asyncio.run(fill(f"sqlite:///{tmp}"))
        os.replace(tmp, target.path)  # closed cleanly: the WAL is checkpointed and gone
        meta["file_bytes"] = target.path.stat().st_size
    meta["key"] = key
    sidecar.write_bytes(orjson.dumps(meta))  # written last: its presence means the seed is complete
    return SeedInfo(target, meta)


async def _fill(store: Store, events: int, days: float) -> dict[str, Any]:
    # Fewer sessions at a time in small seeds, so that 1,000-event sessions still complete.
    concurrent = max(4, min(64, events // 15_000))
    workload = Workload(
        42, stream="seed", agents=200, concurrent=concurrent, client_id_fraction=0.3,
        long_session_every=LONG_SESSION_EVERY,
    )
    end_us = time.time_ns() // 1000
    start_us = end_us - int(days * 86_400_000_000)
    step = (end_us - start_us) / events
    pending: list[NewEvent] = []
    started = time.monotonic()
    report_every = max(events // 10, 1)
    for i in range(0, events, BODY_EVENTS):
        n = min(BODY_EVENTS, events - i)
        batch = workload.take(n, start_us + int(i * step), start_us + int((i + n) * step))
        body = orjson.dumps({"events": batch})
        pending.extend(parse_ingest_body(body, tenant="default", now_us=lambda: end_us))
        if len(pending) >= INSERT_EVENTS or i + n >= events:
            await store.insert_events(pending)
            pending = []
        if (i + n) % report_every < BODY_EVENTS:
            rate = (i + n) / (time.monotonic() - started)
            log(f"  seeded {i + n:,} / {events:,} events ({rate:,.0f} events/s)")
    finished = workload.finished
    long_ones = [s.id for s in finished if s.length == workload.max_length]
    return {
        "events": events, "days": days, "start_us": start_us, "end_us": end_us, "seeded_at_us": end_us,
        "seconds": round(time.monotonic() - started, 1), "sessions": workload.sessions_started,
        "agents": [a for a, _ in workload.agents],
        "sessions_sample": [s.id for s in finished[-SAMPLE * 5::5]][:SAMPLE],
        "long_sessions": long_ones[-SAMPLE:],
    }


async def _seed_into(url: str, events: int, days: float) -> dict[str, Any]:
    store = await open_store(url)
    try:
        return await _fill(store, events, days)
    finally:
        await store.close()


def _prune(keep: str) -> None:
    """Delete older cached SQLite seeds of the same size (other seed versions or migrations)."""
    size = keep.split("_")[1]
    for old in CACHE.glob(f"seed_{size}_*.db"):
        if old.stem != keep:
            log(f"removing the outdated cached seed {old.name}")
            old.with_suffix(".sqlite.json").unlink(missing_ok=True)
            old.unlink(missing_ok=True)


def ensure_seed(events: int, days: float = 7.0, *, force: bool = False) -> SeedInfo:
    """The seeded database for these parameters, seeding it first unless it is cached."""
    key = seed_key(events, days, current_dialect())
    info = cached_database(key, force=force, what=f"{events:,} events over {days} days",
                           fill=lambda url: _seed_into(url, events, days))
    if info.target.path is not None:
        _prune(key)
    meta = info.meta
    log(f"{meta['seconds']} s of seeding: {meta['sessions']:,} sessions, {len(meta['long_sessions'])} of 1,000 events")
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description="seed (or find cached) a benchmark database")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=7.0, help="time span the events are spread over")
    parser.add_argument("--force", action="store_true", help="reseed even if cached")
    args = parser.parse_args()
    info = ensure_seed(args.events, args.days, force=args.force)
    log(f"{info.target.url}: {info.meta['events']:,} events")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
