"""Analytics and Grafana read latency over seeded databases (1M events): P50/P95 per query, from a client process.

Two seeded databases, each served by a fresh ``collector serve`` process and driven by one client
process (requests one at a time, timed to the last byte):

* native events (``bench/seed.py``): ``/api/analytics`` 24 h hourly (target P95 < 100 ms), 7 days
  daily, the costs/llm/tools/agents breakdowns over 24 h, and two Grafana JSON data source queries;
* agent traces through the OTLP mapping (``bench/seed_traces.py``): Tempo search (match-all,
  attribute, duration, a rare match, legacy tags) over the last 24 h, trace by id (v2 protobuf),
  tag values.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from bench.common import Server, emit, log, machine, median, parse_args, percentile, run_clients
from bench.seed import SeedInfo, ensure_seed
from bench.seed_traces import ensure_traces
from store.timefmt import format_ms

HOUR_US = 3_600_000_000
Request = tuple[str, str, str, bytes | None]          # (name, method, path, body)


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    target_ms: float | None
    build: Callable[[dict[str, Any], random.Random], tuple[str, str, bytes | None]]


def _get(path: str, **params: Any) -> tuple[str, str, None]:
    return "GET", f"{path}?{urlencode(params)}" if params else path, None


def _window(meta: dict[str, Any], hours: int) -> dict[str, str]:
    end = meta["end_us"]
    return {"from": format_ms(end - hours * HOUR_US), "to": format_ms(end)}


def _grafana(meta: dict[str, Any], target: str, payload: dict[str, Any], interval_ms: int) -> tuple[str, str, bytes]:
    w = _window(meta, 24)
    body = {"range": {"from": w["from"], "to": w["to"], "raw": {"from": "now-24h", "to": "now"}},
            "intervalMs": interval_ms, "maxDataPoints": 1000, "targets": [{"refId": "A", "target": target,
                                                                           "payload": payload}]}
    return "POST", "/grafana/query", orjson.dumps(body)


ANALYTICS: tuple[Query, ...] = (
    Query("analytics_24h_hourly", 100, lambda m, r: _get("/api/analytics", granularity="hour", **_window(m, 24))),
    Query("analytics_24h_hourly_agent", None, lambda m, r: _get(
        "/api/analytics", granularity="hour", agentId=r.choice(m["agents"]), **_window(m, 24))),
    Query("analytics_7d_daily", None, lambda m, r: _get("/api/analytics", granularity="day", **_window(m, 168))),
    Query("analytics_costs_24h", None, lambda m, r: _get("/api/analytics/costs", **_window(m, 24))),
    Query("analytics_llm_24h", None, lambda m, r: _get("/api/analytics/llm", **_window(m, 24))),
    Query("analytics_tools_24h", None, lambda m, r: _get("/api/analytics/tools", **_window(m, 24))),
    Query("analytics_agents_24h", None, lambda m, r: _get("/api/analytics/agents", **_window(m, 24))),
    Query("grafana_cost_by_agent_24h_1h", None, lambda m, r: _grafana(m, "cost_usd", {"group_by": "agent"},
                                                                      3_600_000)),
    Query("grafana_llm_p95_by_model_24h_5m", None, lambda m, r: _grafana(m, "llm_latency_p95",
                                                                         {"group_by": "model"}, 300_000)),
)


def _tempo_window(meta: dict[str, Any]) -> dict[str, int]:
    end_s = meta["end_ns"] // 1_000_000_000
    return {"start": end_s - 24 * 3600, "end": end_s, "limit": 20, "spss": 3}


TEMPO: tuple[Query, ...] = (
    Query("tempo_search_all_24h", None, lambda m, r: _get("/tempo/api/search", q="{}", **_tempo_window(m))),
    Query("tempo_search_model_24h", None, lambda m, r: _get(
        "/tempo/api/search", q='{ span.gen_ai.request.model = "gpt-4o" }', **_tempo_window(m))),
    Query("tempo_search_slow_llm_24h", None, lambda m, r: _get(
        "/tempo/api/search", q="{ kind = client && duration > 8s }", **_tempo_window(m))),
    Query("tempo_search_rare_24h", None, lambda m, r: _get(
        "/tempo/api/search", q=f'{{ span.gen_ai.tool.name = "send_email" && status = error && '
                              f'resource.deployment.environment = "staging" && .gen_ai.agent.name = '
                              f'"{r.choice(m["agents"])}" }}', **_tempo_window(m))),
    Query("tempo_search_legacy_24h", None, lambda m, r: _get(
        "/tempo/api/search", tags="gen_ai.tool.name=shell", minDuration="100ms", **_tempo_window(m))),
    Query("tempo_trace_by_id_v2", None, lambda m, r: _get(f"/tempo/api/v2/traces/{r.choice(m['trace_sample'])}")),
    Query("tempo_tag_values_name", None, lambda m, r: _get("/tempo/api/v2/search/tag/name/values")),
)


@dataclass(frozen=True, slots=True)
class _ClientArg:
    url: str
    plan: list[Request]
    warmup: int


def client(arg: _ClientArg, gate: Callable[[], float]) -> dict[str, Any]:
    """Client-process body: the planned requests one at a time, each timed to its last byte."""
    return asyncio.run(_drive(arg, gate))


async def _drive(arg: _ClientArg, gate: Callable[[], float]) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {}
    failures: dict[str, str] = {}
    headers = {"Accept": "application/protobuf"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
        for i, (name, method, path, body) in enumerate(arg.plan):
            if i == arg.warmup:
                gate()
            start = time.perf_counter()
            async with http.request(method, arg.url + path, data=body, headers=headers if "traces" in path else
                                    {"Content-Type": "application/json"} if body else None) as resp:
                data = await resp.read()
                status = resp.status
            elapsed = (time.perf_counter() - start) * 1000
            if status != 200:
                failures.setdefault(name, f"HTTP {status}: {data[:200]!r}")
            elif i >= arg.warmup:
                latencies.setdefault(name, []).append(elapsed)
        if len(arg.plan) <= arg.warmup:
            gate()
    return {"latencies": latencies, "failures": failures}


def _measure(seed: SeedInfo, queries: tuple[Query, ...], rounds: int, warm: int, bench: str,
             runs: int) -> None:
    per_run: dict[str, list[tuple[float, float]]] = {q.name: [] for q in queries}
    failures: dict[str, str] = {}
    loads = []
    for run in range(runs):
        rng = random.Random(run)
        plan = [(q.name, *q.build(seed.meta, rng)) for _ in range(warm + rounds) for q in queries]
        loads.append(machine()["load1"])
        log(f"{bench} run {run + 1}/{runs} ({seed.meta['events']:,} events, {seed.target.dialect}): {machine()}")
        with Server(seed.target) as server:
            _, (result,) = run_clients(client, [_ClientArg(server.url, plan, warm * len(queries))])
        failures.update(result["failures"])
        for q in queries:
            lat = result["latencies"].get(q.name, [])
            if lat:
                per_run[q.name].append((percentile(lat, 50), percentile(lat, 95)))
                log(f"  {q.name:34s} p50 {percentile(lat, 50):8.2f} ms  p95 {percentile(lat, 95):8.2f} ms")
    ctx = {"backend": seed.target.dialect, "events": seed.meta["events"], "requests_per_run": rounds,
           "load1_per_run": loads}
    for q in queries:
        values = per_run[q.name]
        issue = {"problem": failures[q.name]} if q.name in failures else {}
        for idx, p in ((0, 50), (1, 95)):
            target = {"target": q.target_ms} if p == 95 and q.target_ms is not None else {}
            emit(bench, f"{q.name}_p{p}", median([v[idx] for v in values]) if values else None, "ms",
                 runs=len(values), per_run=[round(v[idx], 2) for v in values], **target, **issue, **ctx)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=None, help="events per seeded database (default 1M)")
    parser.add_argument("--requests", type=int, default=None, help="timed requests per query and run")
    parser.add_argument("--only", choices=("analytics", "tempo"), default=None)


def main() -> int:
    args = parse_args(__doc__ or "", _options)
    mode = args.mode
    events = args.events or mode.pick(smoke=20_000, quick=100_000, full=1_000_000)
    rounds = args.requests or mode.pick(smoke=5, quick=30, full=100)
    warm = mode.pick(smoke=1, quick=3, full=5)
    if args.only in (None, "analytics"):
        _measure(ensure_seed(events), ANALYTICS, rounds, warm, "analytics", mode.runs)
    if args.only in (None, "tempo"):
        _measure(ensure_traces(events), TEMPO, rounds, warm, "tempo", mode.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
