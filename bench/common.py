"""Benchmark plumbing: modes, fresh databases, the real server process, client processes, JSON lines.

Every benchmark module uses it the same way::

    args = parse_args("what this measures")          # --smoke | --quick | full (default), --runs N
    for run in range(args.mode.runs):
        with fresh_database() as db, Server(db) as server:   # SQLite file, or DATABASE_URL's server
            started, results = run_clients(client_fn, [arg_for_proc_1, arg_for_proc_2])
    emit("ingest", "throughput", median(values), "events/s", runs=args.mode.runs, target=25_000)

Figures go to stdout, one JSON object per line; progress and diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import platform
import queue
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

__all__ = (
    "REPO",
    "DatabaseTarget",
    "Mode",
    "Server",
    "emit",
    "fresh_database",
    "log",
    "machine",
    "median",
    "parse_args",
    "percentile",
    "pg_admin_url",
    "pg_create_database",
    "pg_drop_database",
    "process_cpu_seconds",
    "run_clients",
    "with_database",
)

REPO = Path(__file__).resolve().parents[1]
_READY = re.compile(r"agentlens-collector ready on http://[^:]+:(\d+) \((\w+)\)")


# --------------------------------------------------------------------------- modes and output


@dataclass(frozen=True, slots=True)
class Mode:
    """``smoke`` (CI: tiny, seconds), ``quick`` (local iteration) or ``full`` (the reported figures)."""

    name: str
    runs: int

    @property
    def smoke(self) -> bool:
        return self.name == "smoke"

    @property
    def quick(self) -> bool:
        return self.name == "quick"

    def pick(self, *, smoke: Any, quick: Any, full: Any) -> Any:
        """The value for this mode."""
        return smoke if self.smoke else quick if self.quick else full


def parse_args(
    description: str, add: Callable[[argparse.ArgumentParser], None] | None = None, argv: Sequence[str] | None = None,
) -> argparse.Namespace:
    """``--smoke`` / ``--quick`` / full (default) plus ``--runs``; ``args.mode`` holds the result."""
    parser = argparse.ArgumentParser(description=description)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_true", help="tiny run for CI (seconds, 1 run)")
    group.add_argument("--quick", action="store_true", help="short run for local iteration (1 run)")
    parser.add_argument("--runs", type=int, default=None, help="runs to take the median of (default: 3 in full mode)")
    if add is not None:
        add(parser)
    args = parser.parse_args(argv)
    name = "smoke" if args.smoke else "quick" if args.quick else "full"
    args.mode = Mode(name, args.runs or (3 if name == "full" else 1))
    return args


def log(message: str) -> None:
    """Progress on stderr (stdout carries only the JSON figures)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    """What the figures were measured on, with the load average right now (other work skews them)."""
    load1, load5, _ = os.getloadavg()
    return {
        "cpus": os.cpu_count(), "load1": round(load1, 2), "load5": round(load5, 2),
        "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
    }


def _clean(value: Any) -> Any:
    """Floats rounded to 3 decimals; NaN (a median of nothing) becomes null."""
    if isinstance(value, float):
        return None if value != value else round(value, 3)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def emit(bench: str, metric: str, value: float | int | None, unit: str, *, runs: int, **context: Any) -> None:
    """Print one figure as one JSON line on stdout (floats rounded, NaN as null)."""
    line = {"bench": bench, "metric": metric, "value": _clean(value), "unit": unit, "runs": runs,
            **{k: _clean(v) for k, v in context.items()}}
    print(orjson.dumps(line).decode(), flush=True)


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (numpy's default); ``pct`` in 0..100."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


# --------------------------------------------------------------------------- databases


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """Where a server (and a seeding process) stores data: a SQLite file or a PostgreSQL database."""

    dialect: str                      # "sqlite" | "postgresql"
    url: str                          # for store.factory.open_store
    server_args: tuple[str, ...]      # CLI flags for `collector serve`
    env: Mapping[str, str] = field(default_factory=dict)   # extra environment for the server
    path: Path | None = None          # the SQLite file

    @classmethod
    def sqlite(cls, path: Path) -> DatabaseTarget:
        return cls("sqlite", f"sqlite:///{path}", ("--db-path", str(path)), {}, path)

    @classmethod
    def postgres(cls, url: str) -> DatabaseTarget:
        return cls("postgresql", url, ("--database-url", url), {"DATABASE_URL": url})


def pg_admin_url() -> str | None:
    """``DATABASE_URL`` when it points at PostgreSQL: benchmarks then run there instead of SQLite."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgresql://", "postgres://")) else None


def with_database(url: str, name: str) -> str:
    """The same server URL with another database name (query string kept)."""
    head, sep, tail = url.partition("?")
    scheme, _, rest = head.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{name}{sep}{tail}"


async def _pg_admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def pg_create_database(admin_url: str, name: str) -> str:
    asyncio.run(_pg_admin(admin_url, f'CREATE DATABASE "{name}"'))
    return with_database(admin_url, name)


def pg_drop_database(admin_url: str, name: str) -> None:
    asyncio.run(_pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def fresh_database(label: str = "bench") -> Iterator[DatabaseTarget]:
    """A new empty database for one run, removed afterwards.

    SQLite: a file in a new temporary directory. With ``DATABASE_URL=postgresql://...`` set: a new
    database on that server (``CREATE DATABASE``), dropped afterwards.
    """
    admin = pg_admin_url()
    if admin is not None:
        name = f"{label}_{uuid.uuid4().hex[:12]}"
        url = pg_create_database(admin, name)
        try:
            yield DatabaseTarget.postgres(url)
        finally:
            pg_drop_database(admin, name)
        return
    with tempfile.TemporaryDirectory(prefix=f"agentlens-{label}-") as tmp:
        yield DatabaseTarget.sqlite(Path(tmp) / "agentlens.db")


# --------------------------------------------------------------------------- the server process


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far, from /proc (10 ms ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """``python -m collector serve`` as a separate process; ready once it prints its ready line."""

    def __init__(self, db: DatabaseTarget, *, env: Mapping[str, str] | None = None, ready_timeout: float = 60) -> None:
        self.db = db
        base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AGENTLENS_DB_PATH")}
        self.env = {**base, "AGENTLENS_AUTH": "disabled", "AGENTLENS_LOG_LEVEL": "warning", **db.env, **(env or {})}
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.startup_seconds = 0.0        # from spawning the process to its ready line
        self.output: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Server:
        cmd = [sys.executable, "-m", "collector", "serve", "--host", "127.0.0.1", "--port", "0", *self.db.server_args]
        started = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=self.env, cwd=REPO,
        )
        threading.Thread(target=self._pump, daemon=True, name="server-stderr").start()
        deadline = started + self.ready_timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise RuntimeError("server did not print its ready line:\n" + "".join(self.output)) from None
            if line == "":
                raise RuntimeError("server exited before it was ready:\n" + "".join(self.output))
            m = _READY.search(line)
            if m:
                self.port = int(m[1])
                self.startup_seconds = time.monotonic() - started
                return self

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.output.append(line)
            self._lines.put(line)
        self._lines.put("")

    def pids(self) -> list[int]:
        """The server process and its living children (the SQLite writer process)."""
        found = [self.pid]
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process and its children (all threads) so far."""
        total = 0.0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                total += process_cpu_seconds(pid)
        return total

    def peak_rss_mb(self) -> float:
        """Peak resident set size (VmHWM) of the server process plus that of each child."""
        total = 0.0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) / 1024
        return total or float("nan")

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM (the server drains and commits), then wait; SIGKILL if it hangs."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("server did not stop after SIGTERM:\n" + "".join(self.output[-20:])) from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- client processes

ClientFn = Callable[[Any, Callable[[], float]], Any]


def _client_main(fn: ClientFn, arg: Any, barrier: Any, results: Any, index: int) -> None:
    def gate() -> float:
        """Wait until every client is ready; returns the (system-wide) monotonic start time."""
        barrier.wait()
        return time.monotonic()

    try:
        results.put((index, "ok", fn(arg, gate)))
    except BaseException:
        with contextlib.suppress(Exception):
            barrier.abort()
        results.put((index, "error", traceback.format_exc()))


def run_clients(
    fn: ClientFn, args: Sequence[Any], *, timeout: float = 600, on_start: Callable[[float], None] | None = None,
) -> tuple[float, list[Any]]:
    """Run ``fn(arg, gate)`` in one new process per ``arg``; returns (start time, results in order).

    Each client prepares (imports, connections, request bodies), then calls ``gate()``, which
    returns once every client is ready, so the measured phase starts together everywhere.
    ``on_start(start)`` runs in this process meanwhile (to sample the server or attach a
    profiler). ``fn`` must be a module-level function (processes are spawned, not forked).
    Times are ``time.monotonic()``, which is the same clock in every process on Linux.
    """
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(args) + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=_client_main, args=(fn, a, barrier, results, i), daemon=True)
             for i, a in enumerate(args)]
    for p in procs:
        p.start()
    out: list[Any] = [None] * len(args)
    errors: list[str] = []
    try:
        # a broken barrier means a client failed while preparing; its traceback is in the queue
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout)
        started = time.monotonic()
        if on_start is not None and not barrier.broken:
            on_start(started)
        for _ in procs:
            try:
                index, status, value = results.get(timeout=timeout)
            except queue.Empty:
                errors.append("a client process did not report within the timeout")
                break
            if status == "ok":
                out[index] = value
            else:
                errors.append(value)
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join()
    if errors:
        raise RuntimeError("client process failed:\n" + "\n".join(errors))
    return started, out
