"""Retention of 1M expired events while ingest runs: how long it takes, and what it does to ingest.

A database is seeded (store.insert_events, no HTTP) with ``--events`` events 100-200 days old
plus 1 % recent events in the same sessions (so most chains are cut, not removed). The real
server starts on it (RETENTION_DAYS=30); client processes post 100-event batches in a closed
loop. After a baseline window, ``POST /api/retention/run`` runs while the clients keep posting;
after an after-window the clients stop. Figures: the retention duration and rate, and ingest
throughput and batch latency (P50/P99/max) before, during and after retention.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.common import Server, emit, fresh_database, log, machine, percentile, run_clients
from bench.common import parse_args as bench_args
from bench.workload import Workload
from collector.mapping.native import parse_ingest_body
from store.factory import open_store
from store.model import NewEvent

DAY_US = 86_400_000_000
BATCH = 100


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=None, help="expired events to seed (default 1,000,000)")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent posting streams per client process")
    parser.add_argument("--client-procs", type=int, default=1, help="client processes")
    parser.add_argument("--batch-size", type=int, default=None, help="AGENTLENS_RETENTION_BATCH_SIZE for the server")


async def _seed(url: str, expired: int) -> dict[str, Any]:
    store = await open_store(url)
    now = time.time_ns() // 1000
    workload = Workload(7, stream="ret", agents=50, concurrent=max(4, min(64, expired // 15_000)))
    started = time.monotonic()
    pending: list[NewEvent] = []

    async def add(n: int, start_us: int, end_us: int) -> None:
        nonlocal pending
        body = orjson.dumps({"events": workload.take(n, start_us, end_us)})
        pending += parse_ingest_body(body, tenant="default", now_us=lambda: now)
        if len(pending) >= 10_000:
            await store.insert_events(pending)
            pending = []

    try:
        old_start, old_end = now - 200 * DAY_US, now - 100 * DAY_US
        step = (old_end - old_start) // expired
        for i in range(0, expired, 1000):
            n = min(1000, expired - i)
            await add(n, old_start + i * step, old_start + (i + n) * step)
            if (i + n) % max(expired // 5, 1000) == 0:
                log(f"  seeded {i + n:,} expired events")
        recent = max(expired // 100, 1000)
        for i in range(0, recent, 1000):
            await add(1000, now - DAY_US + i * 1000, now - DAY_US + (i + 1000) * 1000)
        if pending:
            await store.insert_events(pending)
        stats = await store.get_stats("default")
    finally:
        await store.close()
    return {"seconds": round(time.monotonic() - started, 1), "events": stats.total_events,
            "sessions": stats.total_sessions, "recent": recent}


def ingest_client(arg: dict[str, Any], gate: Any) -> list[tuple[float, int, float]]:
    """Post batches until the stop file exists; returns (finished at, events, latency s) per batch."""
    return asyncio.run(_ingest(arg, gate))


async def _ingest(arg: dict[str, Any], gate: Any) -> list[tuple[float, int, float]]:
    stop = Path(arg["stop"])
    done: list[tuple[float, int, float]] = []
    async with aiohttp.ClientSession() as http:
        url = arg["url"] + "/api/events"
        gate()

        async def stream(k: int) -> None:
            workload = Workload(1000 + arg["index"] * 100 + k, stream=f"load{arg['index']}-{k}", concurrent=4)
            while not stop.exists():
                now = time.time_ns() // 1000
                body = orjson.dumps({"events": workload.take(BATCH, now - 1000, now)})
                t0 = time.monotonic()
                async with http.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
                    await resp.read()
                    ok = resp.status == 201
                t1 = time.monotonic()
                if ok:
                    done.append((t1, BATCH, t1 - t0))

        await asyncio.gather(*(stream(k) for k in range(arg["concurrency"])))
    return done


def _window(samples: list[tuple[float, int, float]], start: float, end: float) -> dict[str, float]:
    inside = [s for s in samples if start <= s[0] < end]
    lat = sorted(s[2] * 1000 for s in inside)
    seconds = max(end - start, 1e-9)
    return {
        "events_per_s": sum(s[1] for s in inside) / seconds,
        "p50_ms": percentile(lat, 50) if lat else float("nan"),
        "p99_ms": percentile(lat, 99) if lat else float("nan"),
        "max_ms": lat[-1] if lat else float("nan"),
        "seconds": seconds,
    }


def main() -> int:
    args = bench_args(__doc__ or "", _options)
    mode = args.mode
    expired = args.events or mode.pick(smoke=20_000, quick=200_000, full=1_000_000)
    baseline = mode.pick(smoke=2.0, quick=5.0, full=10.0)
    after = baseline
    env = {"RETENTION_DAYS": "30", "AGENTLENS_RETENTION_CRON": "0 0 1 1 *"}
    if args.batch_size:
        env["AGENTLENS_RETENTION_BATCH_SIZE"] = str(args.batch_size)
    with fresh_database("retention") as db:
        log(f"seeding {expired:,} expired events ({db.dialect})")
        seeded = asyncio.run(_seed(db.url, expired))
        log(f"seeded in {seeded['seconds']} s: {seeded['events']:,} events in {seeded['sessions']:,} sessions")
        with Server(db, env=env, ready_timeout=600) as server, tempfile.TemporaryDirectory() as tmp:
            log(f"server ready in {server.startup_seconds:.1f} s")
            stop = Path(tmp) / "stop"
            marks: dict[str, Any] = {}

            def drive(started: float) -> None:
                time.sleep(baseline)
                marks["t0"] = time.monotonic()
                req = urllib.request.Request(server.url + "/api/retention/run", method="POST", data=b"")
                with urllib.request.urlopen(req, timeout=3600) as resp:   # loopback only
                    marks["result"] = orjson.loads(resp.read())
                marks["t1"] = time.monotonic()
                time.sleep(after)
                marks["t2"] = time.monotonic()
                stop.touch()
                marks["started"] = started

            clients = [{"url": server.url, "stop": str(stop), "index": i, "concurrency": args.concurrency}
                       for i in range(args.client_procs)]
            _, results = run_clients(ingest_client, clients, timeout=7200, on_start=drive)
        samples = [s for r in results for s in r]
    t0, t1, t2, started = marks["t0"], marks["t1"], marks["t2"], marks["started"]
    result = marks["result"]
    phases = {"before": _window(samples, started, t0), "during": _window(samples, t0, t1),
              "after": _window(samples, t1, t2)}
    context = {"backend": db.dialect, "expired_seeded": expired, "deleted": result["deletedCount"],
               "sessions_deleted": result["sessionsDeleted"], "anchored_sessions": result["anchoredSessions"],
               "client_procs": args.client_procs, "concurrency": args.concurrency, **machine()}
    runs = 1
    emit("retention", "duration", t1 - t0, "s", runs=runs, **context)
    emit("retention", "delete_rate", result["deletedCount"] / max(t1 - t0, 1e-9), "events/s", runs=runs, **context)
    for name, w in phases.items():
        emit("retention", f"ingest_{name}", w["events_per_s"], "events/s", runs=runs, window_s=round(w["seconds"], 1),
             p50_ms=round(w["p50_ms"], 2), p99_ms=round(w["p99_ms"], 2), max_ms=round(w["max_ms"], 2),
             backend=db.dialect)
    if result["deletedCount"] < expired:
        log(f"expected at least {expired:,} deletions, got {result['deletedCount']:,}")
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
