"""Native ingest: sustained throughput and batch latency, latency at a fixed 2,000 events/s, raw SQLite rate."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.common import emit, fresh_database, log, machine, median, parse_args, pg_admin_url, run_clients
from bench.ingest_load import LoadConfig, PhaseResult, py_spy_missing, run_phase
from bench.profile_summary import report
from bench.raw_sqlite import TRANSACTION_ROWS, raw_insert_client

# performance.md
TARGET_THROUGHPUT = 25_000
TARGET_P95_FULL_MS = 50
TARGET_P95_FIXED_MS = 10


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (streams)")
    parser.add_argument("--client-procs", type=int, default=None,
                        help="client processes sharing the streams (default 2; 1 in --smoke)")
    parser.add_argument("--rate", type=float, default=2000, help="offered events/s of the fixed-load phase")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record the server with py-spy during the first throughput window into this file")
    parser.add_argument("--skip-raw", action="store_true", help="do not measure the raw SQLite insert rate")


def main() -> int:
    args = parse_args(__doc__ or "", _options)
    mode = args.mode
    backend = "postgresql" if pg_admin_url() else "sqlite"
    if py_spy_missing(args.profile):
        return 2
    client_procs = args.client_procs or mode.pick(smoke=1, quick=2, full=2)
    base = LoadConfig(
        concurrency=args.concurrency, client_procs=client_procs,
        warmup=mode.pick(smoke=0.5, quick=2.0, full=3.0),
        duration=mode.pick(smoke=1.5, quick=6.0, full=15.0),
        pool_batches=mode.pick(smoke=6, quick=40, full=100),
    )
    fixed = LoadConfig(
        concurrency=args.concurrency, client_procs=client_procs, rate=args.rate,
        warmup=mode.pick(smoke=0.3, quick=1.0, full=2.0),
        duration=mode.pick(smoke=1.5, quick=6.0, full=15.0),
        pool_batches=mode.pick(smoke=6, quick=20, full=50),
    )
    raw_rows = mode.pick(smoke=5_000, quick=30_000, full=100_000)

    full_runs: list[PhaseResult] = []
    fixed_runs: list[PhaseResult] = []
    raw_rates: list[float] = []
    raw_cpu_rates: list[float] = []
    for run in range(mode.runs):
        log(f"ingest run {run + 1}/{mode.runs} ({mode.name}, {backend}): throughput phase, {machine()}")
        with fresh_database("ingest") as db:
            result = run_phase(db, base, profile=args.profile if run == 0 else None)
        full_runs.append(result)
        log(f"  {result.throughput:,.0f} events/s, p95 {result.pct(95):.1f} ms, server {result.server_cpu_cores:.2f}"
            f" cores, errors {result.errors}, stored {result.stored_total} / acked {result.acked_total}")
        _log_errors(result)
        log(f"ingest run {run + 1}/{mode.runs}: fixed load {args.rate:,.0f} events/s, {machine()}")
        with fresh_database("ingest") as db:
            result = run_phase(db, fixed)
        fixed_runs.append(result)
        log(f"  p50 {result.pct(50):.1f} ms, p95 {result.pct(95):.1f} ms, p99 {result.pct(99):.1f} ms,"
            f" {result.throughput:,.0f} events/s acknowledged")
        _log_errors(result)
        if not args.skip_raw:
            _, (raw,) = run_clients(raw_insert_client, [(raw_rows, run + 1)])
            raw_rates.append(raw["rows_per_s"])
            raw_cpu_rates.append(raw["rows_per_cpu_s"])
            log(f"  raw SQLite: {raw['rows_per_s']:,.0f} rows/s ({raw['rows']} rows, {TRANSACTION_ROWS}/transaction)")

    if args.profile is not None:
        report(args.profile, "the first throughput window")

    _emit_all(mode.runs, backend, base, fixed, full_runs, fixed_runs, raw_rates, raw_cpu_rates)
    broken = [r for r in (*full_runs, *fixed_runs) if r.errors or (r.stored_total not in (None, r.acked_total))]
    return 1 if broken else 0


def _log_errors(result: PhaseResult) -> None:
    if result.errors:
        log(f"  {result.errors} failed requests; this run is left out of the figures. Samples:")
        for sample in result.error_samples:
            log(f"    {sample[:400]}")


def _context(all_runs: list[PhaseResult], cfg: LoadConfig, backend: str) -> dict[str, Any]:
    ok = [r for r in all_runs if not r.errors]
    ctx: dict[str, Any] = {
        "backend": backend, "batch": cfg.batch, "concurrency": cfg.concurrency, "client_procs": cfg.client_procs,
        "window_s": cfg.duration, "load1_per_run": [round(r.load1, 2) for r in ok],
        "duplicates": sum(r.duplicates for r in ok),
        "acked_equals_stored": all(r.stored_total == r.acked_total for r in ok),
        "commit_events_mean_per_run": [r.extra.get("commit_events_mean") for r in ok],
        "commit_ms_mean_per_run": [r.extra.get("commit_ms_mean") for r in ok],
    }
    failed = [r for r in all_runs if r.errors]
    if failed:
        ctx["failed_runs"] = len(failed)
        ctx["error_samples"] = [s[:200] for r in failed for s in r.error_samples][:3]
    return ctx


def _emit_all(
    n_all: int, backend: str, base: LoadConfig, fixed: LoadConfig, all_full: list[PhaseResult],
    all_fixed: list[PhaseResult], raw_rates: list[float], raw_cpu_rates: list[float],
) -> None:
    """Medians over the runs without failed requests (failed runs are counted in the context)."""
    full_runs = [r for r in all_full if not r.errors]
    fixed_runs = [r for r in all_fixed if not r.errors]
    ctx = _context(all_full, base, backend)
    n = len(full_runs)
    throughput = median([r.throughput for r in full_runs])
    emit("ingest", "throughput", throughput, "events/s", runs=n, target=TARGET_THROUGHPUT,
         per_run=[round(r.throughput) for r in full_runs],
         collector_cpu_cores=median([r.server_cpu_cores for r in full_runs]),
         server_peak_rss_mb=max((r.server_peak_rss_mb for r in all_full), default=None),
         client_cpu_s_per_10k_events=median([r.client_cpu_seconds / max(r.acked_total, 1) * 10_000 for r in full_runs]),
         **ctx, **machine())
    per_cpu = [r.throughput / r.server_cpu_cores for r in full_runs if r.server_cpu_cores > 0]
    per_cpu_value = median(per_cpu) if per_cpu else None
    emit("ingest", "throughput_per_collector_cpu_second", per_cpu_value, "events/cpu-s", runs=n,
         per_run=[round(v) for v in per_cpu],
         note="events acknowledged per CPU-second used by the collector (all threads, SQLite writer process included)")
    for p in (50, 95, 99):
        extra = {"target": TARGET_P95_FULL_MS} if p == 95 else {}
        emit("ingest", f"batch_latency_p{p}_full_throughput", median([r.pct(p) for r in full_runs]), "ms",
             runs=n, per_run=[round(r.pct(p), 2) for r in full_runs], **extra, **ctx)
    ctx = _context(all_fixed, fixed, backend)
    ctx["offered_events_per_s"] = fixed.rate
    ctx["acknowledged_events_per_s"] = median([r.throughput for r in fixed_runs])
    ctx["arrivals"] = "poisson"
    for p in (50, 95, 99):
        extra = {"target": TARGET_P95_FIXED_MS} if p == 95 else {}
        emit("ingest", f"batch_latency_p{p}_at_{fixed.rate:.0f}_eps", median([r.pct(p) for r in fixed_runs]), "ms",
             runs=len(fixed_runs), per_run=[round(r.pct(p), 2) for r in fixed_runs],
             batches=sum(len(r.latencies_ms) for r in fixed_runs), **extra, **ctx)
    startups = [r.extra["startup_s"] for r in (*all_full, *all_fixed)]
    emit("ingest", "start_to_ready_empty_db", median(startups), "s", runs=len(startups), target=2,
         max=round(max(startups), 3), backend=backend)
    if raw_rates:
        raw = median(raw_rates)
        emit("ingest", "raw_sqlite_insert", raw, "rows/s", runs=n_all, per_run=[round(r) for r in raw_rates],
             rows_per_transaction=TRANSACTION_ROWS, table="events (same schema, indexes and pragmas)")
        raw_cpu = median(raw_cpu_rates)
        emit("ingest", "raw_sqlite_insert_per_cpu_second", raw_cpu, "rows/cpu-s", runs=n_all,
             per_run=[round(r) for r in raw_cpu_rates])
        if backend == "sqlite":
            emit("ingest", "throughput_vs_raw_sqlite", throughput / raw, "ratio", runs=n)
            if per_cpu_value is not None:
                emit("ingest", "cpu_efficiency_vs_raw_sqlite", per_cpu_value / raw_cpu, "ratio", runs=n,
                     note="events per collector CPU-second / raw rows per CPU-second")


if __name__ == "__main__":
    raise SystemExit(main())
