"""Native ingest load: client processes posting 100-event batches to a real server, and what they saw."""

from __future__ import annotations

import asyncio
import os
import random
import resource
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.common import DatabaseTarget, Server, log, percentile, run_clients
from bench.workload import ReplayStream, Workload

__all__ = ("LoadConfig", "PhaseResult", "ingest_client", "py_spy", "py_spy_path", "run_phase")

_JSON = {"Content-Type": "application/json"}
# (scheduled, sent, done, status, events stored, duplicates)
Record = tuple[float, float, float, int, int, int]


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """One measured phase. ``rate=None`` is a closed loop (each client sends as fast as answers
    come back); a rate is an open loop with Poisson arrivals totalling ``rate`` events/s."""

    concurrency: int = 8
    client_procs: int = 2
    batch: int = 100
    warmup: float = 3.0
    duration: float = 15.0
    rate: float | None = None
    pool_batches: int = 100
    agents: int = 100
    sessions_per_stream: int = 8
    client_id_fraction: float = 0.3
    seed: int = 1


@dataclass(frozen=True, slots=True)
class _ClientArg:
    url: str
    streams: tuple[int, ...]
    config: LoadConfig


@dataclass(slots=True)
class PhaseResult:
    throughput: float                 # events acknowledged per second inside the window
    latencies_ms: list[float]         # per batch, from its scheduled send time to the full answer
    errors: int
    error_samples: list[str]
    acked_total: int                  # events acknowledged as newly stored (201, not duplicates)
    duplicates: int
    stored_total: int | None
    server_cpu_cores: float
    server_peak_rss_mb: float
    client_cpu_seconds: float
    load1: float
    extra: dict[str, Any] = field(default_factory=dict)

    def pct(self, p: float) -> float:
        return percentile(self.latencies_ms, p)


# --------------------------------------------------------------------------- client side


def ingest_client(arg: _ClientArg, gate: Callable[[], float]) -> dict[str, Any]:
    """Client-process body: build the request pools, wait for the gate, drive the server."""
    return asyncio.run(_drive(arg, gate))


async def _drive(arg: _ClientArg, gate: Callable[[], float]) -> dict[str, Any]:
    cfg = arg.config
    clock = lambda: time.time_ns() // 1000  # noqa: E731
    pools = [
        ReplayStream(
            Workload(cfg.seed * 1000 + i, stream=f"s{i}", agents=cfg.agents, concurrent=cfg.sessions_per_stream,
                     client_id_fraction=cfg.client_id_fraction),
            batches=cfg.pool_batches, batch_size=cfg.batch, clock=clock, tag=i,
        )
        for i in arg.streams
    ]
    url = f"{arg.url}/api/events"
    records: list[Record] = []
    errors: list[str] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        # one keep-alive connection per stream before the clock starts
        await asyncio.gather(*(_warm(http, arg.url) for _ in pools))
        cpu0 = _cpu()
        start = gate()
        end = start + cfg.warmup + cfg.duration
        if cfg.rate is None:
            tasks = [_closed(http, url, p, end, records, errors) for p in pools]
        else:
            mean_gap = cfg.concurrency * cfg.batch / cfg.rate   # seconds between batches of one stream
            tasks = [_open(http, url, p, start, end, mean_gap, random.Random(cfg.seed * 7919 + i), records, errors)
                     for i, p in zip(arg.streams, pools, strict=True)]
        await asyncio.gather(*tasks)
        cpu = _cpu() - cpu0
    return {"records": records, "errors": errors[:5], "cpu": cpu}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _warm(http: aiohttp.ClientSession, base: str) -> None:
    async with http.get(f"{base}/api/health") as resp:
        await resp.read()


async def _post(http: aiohttp.ClientSession, url: str, body: bytes, errors: list[str]) -> tuple[int, int, int]:
    """(status, events stored, duplicates) of one batch."""
    try:
        async with http.post(url, data=body, headers=_JSON) as resp:
            data = await resp.read()
            if resp.status == 201:
                doc = orjson.loads(data)
                return resp.status, int(doc["ingested"]), int(doc["duplicates"])
            errors.append(f"{resp.status}: {data[:300]!r}")
            return resp.status, 0, 0
    except (aiohttp.ClientError, TimeoutError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
        return 0, 0, 0


async def _closed(
    http: aiohttp.ClientSession, url: str, pool: ReplayStream, end: float, records: list[Record], errors: list[str],
) -> None:
    while True:
        body = pool.next_body()
        sent = time.monotonic()
        if sent >= end:
            return
        status, stored, dups = await _post(http, url, body, errors)
        records.append((sent, sent, time.monotonic(), status, stored, dups))


async def _open(
    http: aiohttp.ClientSession, url: str, pool: ReplayStream, start: float, end: float, mean_gap: float,
    rng: random.Random, records: list[Record], errors: list[str],
) -> None:
    """Poisson arrivals; latency counts from the scheduled time, so a late send is not hidden."""
    scheduled = start + rng.expovariate(1 / mean_gap)
    while scheduled < end:
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        body = pool.next_body()
        sent = time.monotonic()
        status, stored, dups = await _post(http, url, body, errors)
        records.append((scheduled, sent, time.monotonic(), status, stored, dups))
        scheduled += rng.expovariate(1 / mean_gap)


# --------------------------------------------------------------------------- orchestration


def _stored_events(url: str) -> int | None:
    try:
        with urllib.request.urlopen(f"{url}/api/stats", timeout=120) as resp:
            return int(orjson.loads(resp.read())["totalEvents"])
    except (OSError, KeyError, ValueError) as exc:
        log(f"could not read /api/stats: {exc}")
        return None


def _commit_stats(url: str) -> dict[str, float]:
    """Mean events and seconds per group commit, from the server's own /metrics."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=30) as resp:
            text = resp.read().decode()
    except OSError as exc:
        log(f"could not read /metrics: {exc}")
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("agentlens_commit_events_sum", "agentlens_commit_events_count", "agentlens_commit_seconds_sum"):
            values[name] = float(value)
    count = values.get("agentlens_commit_events_count", 0.0)
    if not count:
        return {}
    return {"commit_events_mean": round(values["agentlens_commit_events_sum"] / count, 1),
            "commit_ms_mean": round(values["agentlens_commit_seconds_sum"] / count * 1000, 2)}


def run_phase(db: DatabaseTarget, cfg: LoadConfig, *, profile: Path | None = None) -> PhaseResult:
    """Start a server on ``db``, drive it with ``cfg``, stop it; everything measured on the way."""
    streams = list(range(cfg.concurrency))
    procs = max(1, min(cfg.client_procs, cfg.concurrency))
    args = [_ClientArg("", tuple(streams[i::procs]), cfg) for i in range(procs)]
    load1 = os.getloadavg()[0]
    with Server(db) as server:
        args = [_ClientArg(server.url, a.streams, cfg) for a in args]
        cpu: dict[str, float] = {}
        spy: list[subprocess.Popen[bytes]] = []

        def on_start(start: float) -> None:
            window_start = start + cfg.warmup
            time.sleep(max(0.0, window_start - time.monotonic()))
            cpu["start"] = server.cpu_seconds()
            if profile is not None:
                spy.append(py_spy(server.pid, cfg.duration, profile))
            time.sleep(max(0.0, window_start + cfg.duration - time.monotonic()))
            cpu["end"] = server.cpu_seconds()

        started, results = run_clients(ingest_client, args, on_start=on_start)
        stored = _stored_events(server.url)
        commits = _commit_stats(server.url)
        rss = server.peak_rss_mb()
        startup = server.startup_seconds
    for proc in spy:
        proc.wait(60)
    records = [r for res in results for r in res["records"]]
    w0, w1 = started + cfg.warmup, started + cfg.warmup + cfg.duration
    acked_in_window = sum(r[4] + r[5] for r in records if w0 <= r[2] < w1)
    window = [r for r in records if w0 <= r[0] < w1]
    failed = [r for r in records if r[3] != 201]
    return PhaseResult(
        throughput=acked_in_window / cfg.duration,
        latencies_ms=[(r[2] - r[0]) * 1000 for r in window if r[3] == 201],
        errors=len(failed),
        error_samples=[e for res in results for e in res["errors"]][:5],
        acked_total=sum(r[4] for r in records),
        duplicates=sum(r[5] for r in records),
        stored_total=stored,
        server_cpu_cores=(cpu.get("end", 0.0) - cpu.get("start", 0.0)) / cfg.duration,
        server_peak_rss_mb=rss,
        client_cpu_seconds=sum(res["cpu"] for res in results),
        load1=load1,
        extra={"batches_in_window": len(window), "offered_rate": cfg.rate, "startup_s": startup, **commits},
    )


def py_spy_path() -> str | None:
    """py-spy next to this interpreter (the venv) or on PATH, or None."""
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def py_spy_missing(profile: Path | None) -> bool:
    """True, after saying how to install it, when ``--profile`` was asked for and py-spy is absent."""
    if profile is None or py_spy_path() is not None:
        return False
    log("--profile needs py-spy: .venv/bin/pip install py-spy")
    return True


def py_spy(pid: int, seconds: float | None, out: Path) -> subprocess.Popen[bytes]:
    """Sample a process with py-spy (raw collapsed stacks per thread) without pausing it.

    With ``seconds=None`` it records until it gets SIGINT (or the process ends).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    duration = ["--duration", str(max(1, int(seconds)))] if seconds is not None else []
    cmd = [py_spy_path() or "py-spy", "record", "--pid", str(pid), *duration,
           "--rate", "200", "--format", "raw", "--threads", "--subprocesses", "--nonblocking", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
