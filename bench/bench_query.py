"""Read API latency over a seeded database (1M events by default): P50/P95 per query type."""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from bench.common import (
    Server,
    emit,
    log,
    machine,
    median,
    parse_args,
    percentile,
    process_cpu_seconds,
    run_clients,
)
from bench.ingest_load import py_spy, py_spy_path
from bench.profile_summary import summarize
from bench.seed import SeedInfo, ensure_seed
from store.timefmt import format_ms

HOUR_US = 3_600_000_000


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    target_ms: float | None
    build: Callable[[dict[str, Any], random.Random], str]
    check: Callable[[Any], str | None]     # a problem with a (parsed) answer, or None


def _q(path: str, **params: Any) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _events_found(doc: Any) -> str | None:
    return None if doc.get("events") else "no events in the answer"


def _sessions_found(doc: Any) -> str | None:
    return None if doc.get("sessions") else "no sessions in the answer"


def _window(meta: dict[str, Any], hours: int) -> dict[str, str]:
    end = meta["end_us"]
    return {"from": format_ms(end - hours * HOUR_US), "to": format_ms(end)}


QUERIES: tuple[Query, ...] = (
    Query("events_by_agent_and_type", 20, lambda m, r: _q(
        "/api/events", agentId=r.choice(m["agents"]),
        eventType=r.choice(("llm_call", "tool_call", "tool_error", "cost_tracked"))), lambda d: None),
    Query("events_by_session", 20, lambda m, r: _q("/api/events", sessionId=r.choice(m["sessions_sample"])),
          _events_found),
    Query("events_first_page", 20, lambda m, r: "/api/events", _events_found),
    Query("events_by_type_last_hour", 20, lambda m, r: _q(
        "/api/events", eventType="llm_response", **_window(m, 1)), lambda d: None),
    Query("sessions_list", 20, lambda m, r: "/api/sessions", _sessions_found),
    Query("sessions_by_status", 20, lambda m, r: _q(
        "/api/sessions", status=r.choice(("completed", "error", "idle"))), lambda d: None),
    Query("session_detail", 20, lambda m, r: f"/api/sessions/{r.choice(m['sessions_sample'])}",
          lambda d: None if d.get("id") else "no session"),
    Query("timeline_1000_events", 30, lambda m, r: f"/api/sessions/{r.choice(m['long_sessions'])}/timeline",
          lambda d: None if len(d.get("events", ())) == 1000 else f"{len(d.get('events', ()))} events, not 1000"),
    Query("sessions_count", 20, lambda m, r: _q("/api/sessions", countOnly="true"),
          lambda d: None if isinstance(d.get("count"), int) else "no count"),
    Query("events_total", None, lambda m, r: _q("/api/events", limit=1),
          lambda d: None if isinstance(d.get("total"), int) else "no total"),
    Query("stats", None, lambda m, r: "/api/stats", lambda d: None if d.get("totalEvents") else "no totals"),
    Query("analytics_24h_hourly", 100, lambda m, r: _q("/api/analytics", granularity="hour", **_window(m, 24)),
          lambda d: None if d.get("buckets") else "no buckets"),
    Query("analytics_all_daily", None, lambda m, r: _q(
        "/api/analytics", granularity="day", **_window(m, int(m["days"] * 24) + 1)),
        lambda d: None if d.get("buckets") else "no buckets"),
)


@dataclass(frozen=True, slots=True)
class _ClientArg:
    url: str
    plan: list[tuple[str, str]]       # (query name, path), in the order to send them
    warmup: int
    server_pid: int
    cpu_requests: int                 # per query type, in the CPU pass


def query_client(arg: _ClientArg, gate: Callable[[], float]) -> dict[str, Any]:
    """Client-process body: send the planned requests one at a time, timing each to the last byte."""
    return asyncio.run(_drive(arg, gate))


async def _drive(arg: _ClientArg, gate: Callable[[], float]) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {}
    statuses: dict[str, dict[int, int]] = {}
    samples: dict[str, tuple[int, bytes]] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        for _name, path in arg.plan[:arg.warmup]:
            async with http.get(arg.url + path) as resp:
                await resp.read()
        gate()
        for name, path in arg.plan[arg.warmup:]:
            start = time.perf_counter()
            async with http.get(arg.url + path) as resp:
                body = await resp.read()
                status = resp.status
            elapsed = (time.perf_counter() - start) * 1000
            counts = statuses.setdefault(name, {})
            counts[status] = counts.get(status, 0) + 1
            if status == 200:
                latencies.setdefault(name, []).append(elapsed)
            if name not in samples or (status != 200 and samples[name][0] == 200):
                samples[name] = (status, body)
        cpu_ms = await _cpu_pass(http, arg)
    return {"latencies": latencies, "statuses": statuses, "samples": samples, "cpu_ms": cpu_ms}


async def _cpu_pass(http: aiohttp.ClientSession, arg: _ClientArg) -> dict[str, float]:
    """Server CPU time per request of each query type: one type at a time, CPU read before and after.

    CPU time is much less sensitive than latency to other work on a shared machine.
    """
    by_name: dict[str, list[str]] = {}
    for name, path in arg.plan[arg.warmup:]:
        by_name.setdefault(name, []).append(path)
    out: dict[str, float] = {}
    for name, paths in by_name.items():
        chosen = paths[:arg.cpu_requests]
        before = process_cpu_seconds(arg.server_pid)
        for path in chosen:
            async with http.get(arg.url + path) as resp:
                await resp.read()
        out[name] = (process_cpu_seconds(arg.server_pid) - before) * 1000 / len(chosen)
    return out


def _plan(meta: dict[str, Any], queries: list[Query], rounds: int, seed: int) -> list[tuple[str, str]]:
    """Round-robin over the query types so that a noisy moment hits all of them alike."""
    rng = random.Random(seed)
    return [(q.name, q.build(meta, rng)) for _ in range(rounds) for q in queries]


def _problem(query: Query, status: int, body: bytes) -> str | None:
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    try:
        return query.check(orjson.loads(body))
    except orjson.JSONDecodeError:
        return "answer is not JSON"


def _one_run(
    seed: SeedInfo, plan: list[tuple[str, str]], warmup: int, cpu_requests: int, profile: Path | None,
) -> tuple[dict[str, Any], float]:
    """A fresh server on the seeded database, one client process; (its results, start-to-ready seconds)."""
    with Server(seed.target) as server:
        spy: list[subprocess.Popen[bytes]] = []

        def on_start(_: float) -> None:
            if profile is not None:
                spy.append(py_spy(server.pid, None, profile))

        try:
            arg = _ClientArg(server.url, plan, warmup, server.pid, cpu_requests)
            _, (result,) = run_clients(query_client, [arg], on_start=on_start)
        finally:
            for proc in spy:
                proc.send_signal(signal.SIGINT)
                proc.wait(60)
        return result, server.startup_seconds


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=None, help="events to seed (default 1M; --quick 100k)")
    parser.add_argument("--ten-million", action="store_true", help="seed and query 10M events")
    parser.add_argument("--days", type=float, default=7.0, help="time span of the seeded events")
    parser.add_argument("--requests", type=int, default=None, help="timed requests per query type and run")
    parser.add_argument("--only", default="", help="comma list of query names to run (default: all)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record the server with py-spy during the first run into this file")


def main() -> int:
    args = parse_args(__doc__ or "", _options)
    mode = args.mode
    events = 10_000_000 if args.ten_million else args.events or mode.pick(smoke=20_000, quick=100_000, full=1_000_000)
    rounds = args.requests or mode.pick(smoke=12, quick=60, full=200)
    warm_rounds = mode.pick(smoke=2, quick=5, full=10)
    cpu_requests = mode.pick(smoke=10, quick=50, full=100)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    queries = [q for q in QUERIES if not only or q.name in only]
    if not queries or (args.profile is not None and py_spy_path() is None):
        log("nothing to run: unknown --only names" if not queries else "--profile needs py-spy")
        return 2
    seed: SeedInfo = ensure_seed(events, args.days)
    meta = seed.meta
    per_run: dict[str, list[tuple[float, float]]] = {q.name: [] for q in queries}
    cpu_runs: dict[str, list[float]] = {q.name: [] for q in queries}
    problems: dict[str, str] = {}
    startup: list[float] = []
    loads: list[float] = []
    for run in range(mode.runs):
        log(f"query run {run + 1}/{mode.runs} ({mode.name}, {events:,} events, {seed.target.dialect}): {machine()}")
        loads.append(machine()["load1"])
        plan = _plan(meta, queries, warm_rounds + rounds, seed=run)
        result, started_in = _one_run(
            seed, plan, warm_rounds * len(queries), cpu_requests, args.profile if run == 0 else None,
        )
        startup.append(started_in)
        for q in queries:
            status, body = result["samples"].get(q.name, (0, b""))
            problem = _problem(q, status, body)
            if problem:
                problems.setdefault(q.name, problem)
            lat = result["latencies"].get(q.name, [])
            if lat:
                per_run[q.name].append((percentile(lat, 50), percentile(lat, 95)))
                cpu_runs[q.name].append(result["cpu_ms"][q.name])
                log(f"  {q.name:28s} p50 {percentile(lat, 50):7.2f} ms  p95 {percentile(lat, 95):7.2f} ms"
                    f"  server CPU {result['cpu_ms'][q.name]:6.2f} ms/request")
    ctx = {"backend": seed.target.dialect, "events": events, "days": args.days, "sessions": meta["sessions"],
           "requests_per_run": rounds, "load1_per_run": loads}
    if args.profile is not None and args.profile.exists():
        report = summarize(args.profile.read_text())
        args.profile.with_suffix(".summary.txt").write_text(report + "\n")
        log(f"profile of the first run: {args.profile}\n{report}")
    for q in queries:
        values = per_run[q.name]
        issue = {"problem": problems[q.name]} if q.name in problems else {}
        for idx, p in ((0, 50), (1, 95)):
            value = median([v[idx] for v in values]) if values else None
            target = {"target": q.target_ms} if p == 95 and q.target_ms is not None else {}
            emit("query", f"{q.name}_p{p}", value, "ms", runs=len(values),
                 per_run=[round(v[idx], 2) for v in values], **target, **issue, **ctx)
        if cpu_runs[q.name]:
            emit("query", f"{q.name}_server_cpu", median(cpu_runs[q.name]), "ms/request", runs=len(cpu_runs[q.name]),
                 per_run=[round(v, 2) for v in cpu_runs[q.name]], requests=cpu_requests,
                 note="server process CPU (all threads) per request, one query type at a time")
    emit("query", "start_to_ready_seeded_db", median(startup), "s", runs=len(startup), **ctx)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
