"""OTLP ingest: protobuf requests of 512 GenAI spans from several concurrent exporters, spans/s and P95.

Each exporter is a closed loop like an SDK's BatchSpanProcessor: one request in flight, the next
sent when the answer arrives. Every request carries new trace and span ids (an agent run per
trace: invoke_agent + chat + execute_tool spans), so every span is stored. After the run the
stored event count is compared with what was acknowledged: every 200 must be durable.

    python -m bench.bench_otlp [--smoke | --quick] [--exporters 4] [--spans 512] [--gzip] [--content 0]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.common import Server, emit, fresh_database, log, machine, median, parse_args, percentile, run_clients
from bench.ingest_load import py_spy, py_spy_missing
from bench.profile_summary import report

TARGET_SPANS_PER_S = 20_000   # performance.md; do not resolve below 8,000
SPANS_PER_TRACE = 8           # invoke_agent root + 4 chat + 3 execute_tool
EVENTS_PER_SPAN = 2           # session_started/ended, llm_call/response, tool_call/response
_PROTOBUF = {"Content-Type": "application/x-protobuf"}


@dataclass(frozen=True, slots=True)
class _Config:
    spans: int
    exporters: int
    client_procs: int
    warmup: float
    duration: float
    pool: int          # distinct request bodies per exporter
    gzip: bool
    content: int       # bytes of prompt/completion text per chat span (0: capture off, the default)


@dataclass(frozen=True, slots=True)
class _ClientArg:
    url: str
    streams: tuple[int, ...]
    config: _Config


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spans", type=int, default=512, help="spans per request (the SDK default batch)")
    parser.add_argument("--exporters", type=int, default=4, help="concurrent exporters (one request in flight each)")
    parser.add_argument("--client-procs", type=int, default=2, help="client processes sharing the exporters")
    parser.add_argument("--gzip", action="store_true", help="gzip the bodies (the Collector's otlphttp default)")
    parser.add_argument("--content", type=int, default=0, help="bytes of captured prompt/completion per chat span")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record the server with py-spy during the first run's window into this file")


# --------------------------------------------------------------------------- request bodies


def _template(cfg: _Config, seed: int) -> Any:
    """One ExportTraceServiceRequest shaped like the OTel openai-v2 instrumentation under an agent."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    for key, value in (("service.name", f"bench-agent-{seed % 7}"), ("telemetry.sdk.language", "python"),
                       ("telemetry.sdk.name", "opentelemetry"), ("telemetry.sdk.version", "1.45.2")):
        rs.resource.attributes.add(key=key).value.string_value = value
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "opentelemetry.instrumentation.openai_v2", "2.4b0"
    now = time.time_ns()
    text = ("lorem ipsum dolor sit amet " * (cfg.content // 27 + 1))[: cfg.content]
    for i in range(cfg.spans):
        position = i % SPANS_PER_TRACE
        sp = ss.spans.add()
        start = now + i * 1_000_000
        sp.start_time_unix_nano, sp.end_time_unix_nano = start, start + rng.randint(200, 3000) * 1_000_000
        attrs = sp.attributes
        if position == 0:
            sp.name, sp.kind = "invoke_agent planner", 1
            attrs.add(key="gen_ai.operation.name").value.string_value = "invoke_agent"
            attrs.add(key="gen_ai.agent.name").value.string_value = f"planner-{rng.randint(1, 20)}"
        elif position <= 4:
            sp.name, sp.kind = "chat gpt-4o-mini", 3
            for key, value in (("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "openai"),
                               ("gen_ai.request.model", "gpt-4o-mini"),
                               ("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                               ("gen_ai.response.id", f"chatcmpl-{rng.getrandbits(64):x}"),
                               ("server.address", "api.openai.com")):
                attrs.add(key=key).value.string_value = value
            attrs.add(key="gen_ai.response.finish_reasons").value.array_value.values.add().string_value = "stop"
            attrs.add(key="gen_ai.usage.input_tokens").value.int_value = rng.randint(50, 4000)
            attrs.add(key="gen_ai.usage.output_tokens").value.int_value = rng.randint(5, 800)
            attrs.add(key="gen_ai.request.temperature").value.double_value = 0.2
            attrs.add(key="server.port").value.int_value = 443
            if cfg.content:
                attrs.add(key="gen_ai.input.messages").value.string_value = orjson.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": text}]}]).decode()
                attrs.add(key="gen_ai.output.messages").value.string_value = orjson.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": text}],
                      "finish_reason": "stop"}]).decode()
        else:
            sp.name, sp.kind = "execute_tool web_search", 1
            attrs.add(key="gen_ai.operation.name").value.string_value = "execute_tool"
            attrs.add(key="gen_ai.tool.name").value.string_value = "web_search"
            attrs.add(key="gen_ai.tool.call.id").value.string_value = f"call_{rng.getrandbits(48):x}"
    return request


def _bodies(cfg: _Config, stream: int) -> list[bytes]:
    """``cfg.pool`` request bodies with fresh trace and span ids each, and later times each.

    An exporter's spans are recent when it sends them, so body k starts where body k - 1's spans
    started plus one span each (1 ms apart): like a live agent, times move forward from request to
    request instead of every request landing in the same half second.
    """
    request = _template(cfg, stream)
    spans = request.resource_spans[0].scope_spans[0].spans
    step = len(spans) * 1_000_000
    out = []
    for k in range(cfg.pool):
        root = b""
        trace = b""
        for i, sp in enumerate(spans):
            if k:
                sp.start_time_unix_nano += step
                sp.end_time_unix_nano += step
            if i % SPANS_PER_TRACE == 0:
                trace, root = os.urandom(16), os.urandom(8)
                sp.trace_id, sp.span_id, sp.parent_span_id = trace, root, b""
            else:
                sp.trace_id, sp.span_id, sp.parent_span_id = trace, os.urandom(8), root
        body = request.SerializeToString()
        out.append(gzip.compress(body, 6) if cfg.gzip else body)
    return out


# --------------------------------------------------------------------------- client processes


def otlp_client(arg: _ClientArg, gate: Callable[[], float]) -> dict[str, Any]:
    """Client-process body: build the bodies, wait for the gate, drive the server."""
    pools = [_bodies(arg.config, s) for s in arg.streams]
    return asyncio.run(_drive(arg, pools, gate))


async def _drive(arg: _ClientArg, pools: list[list[bytes]], gate: Callable[[], float]) -> dict[str, Any]:
    cfg = arg.config
    headers = {**_PROTOBUF, **({"Content-Encoding": "gzip"} if cfg.gzip else {})}
    records: list[tuple[float, float, int, int, int]] = []   # (sent, done, status, stream, body index)
    errors: list[str] = []
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as http:
        for _ in pools:  # one keep-alive connection per exporter before the clock starts
            async with http.get(f"{arg.url}/api/health") as resp:
                await resp.read()
        start = gate()
        end = start + cfg.warmup + cfg.duration

        async def exporter(stream: int, pool: list[bytes]) -> None:
            for i in range(10**9):
                sent = time.monotonic()
                if sent >= end:
                    return
                try:
                    async with http.post(f"{arg.url}/v1/traces", data=pool[i % len(pool)], headers=headers) as resp:
                        await resp.read()
                        status = resp.status
                        if status != 200:
                            errors.append(f"{status}: {(await resp.read())[:200]!r}")
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status = 0
                    errors.append(f"{type(exc).__name__}: {exc}")
                records.append((sent, time.monotonic(), status, stream, i % len(pool)))

        await asyncio.gather(*(exporter(s, p) for s, p in zip(arg.streams, pools, strict=True)))
    return {"records": records, "errors": errors[:5]}


# --------------------------------------------------------------------------- orchestration


def _stored_events(url: str) -> int | None:
    try:
        with urllib.request.urlopen(f"{url}/api/stats", timeout=120) as resp:
            return int(orjson.loads(resp.read())["totalEvents"])
    except (OSError, KeyError, ValueError) as exc:
        log(f"could not read /api/stats: {exc}")
        return None


def _check_routes(url: str) -> None:
    request = urllib.request.Request(f"{url}/v1/traces", data=b"", headers=_PROTOBUF, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"POST /v1/traces answered {exc.code}: is the OTLP receiver registered in "
                         "collector/routes.py (collector.receivers.otlp_http.add_routes)?") from None


def run_once(cfg: _Config, profile: Path | None = None) -> dict[str, Any]:
    procs = max(1, min(cfg.client_procs, cfg.exporters))
    streams = list(range(cfg.exporters))
    with fresh_database("otlp") as db, Server(db) as server:
        _check_routes(server.url)
        args = [_ClientArg(server.url, tuple(streams[i::procs]), cfg) for i in range(procs)]
        cpu: dict[str, float] = {}

        def on_start(start: float) -> None:
            time.sleep(max(0.0, start + cfg.warmup - time.monotonic()))
            cpu["start"] = server.cpu_seconds()
            if profile is not None:
                spy.append(py_spy(server.pid, cfg.duration, profile))
            time.sleep(max(0.0, start + cfg.warmup + cfg.duration - time.monotonic()))
            cpu["end"] = server.cpu_seconds()

        spy: list[subprocess.Popen[bytes]] = []
        started, results = run_clients(otlp_client, args, on_start=on_start)
        stored = _stored_events(server.url)
        peak_rss = server.peak_rss_mb()
    for proc in spy:
        proc.wait(60)
    window = (started + cfg.warmup, started + cfg.warmup + cfg.duration)
    records = [r for res in results for r in res["records"]]
    ok = [r for r in records if r[2] == 200]
    in_window = [r for r in ok if window[0] <= r[1] <= window[1]]
    errors = [e for res in results for e in res["errors"]]
    # a pool that wrapped around re-sends bodies: those are duplicates, stored once
    acked_events = len({(r[3], r[4]) for r in ok}) * cfg.spans * EVENTS_PER_SPAN
    if len(ok) > len({(r[3], r[4]) for r in ok}):
        log(f"  note: {len(ok) - len({(r[3], r[4]) for r in ok})} requests re-sent a body (pool too small): "
            "their spans were duplicates")
    return {
        "spans_per_s": len(in_window) * cfg.spans / cfg.duration,
        "latencies_ms": [(r[1] - r[0]) * 1000 for r in in_window],
        "errors": len(records) - len(ok), "error_samples": errors,
        "acked_events": acked_events, "stored_events": stored,
        "server_cpu_cores": (cpu.get("end", 0.0) - cpu.get("start", 0.0)) / cfg.duration,
        "server_peak_rss_mb": peak_rss,
    }


def in_process(cfg: _Config) -> tuple[float, float]:
    """(decode, decode + map) spans/s of this process on the same bodies: the receiver's CPU cost
    without HTTP and storage (a ratio to compare runs, not a server figure)."""
    from collector.mapping.otlp_decode_pb import decode_traces_pb
    from collector.mapping.otlp_memo import OtlpMemo
    from collector.mapping.otlp_prices import load_price_table
    from collector.mapping.otlp_request import map_request

    bodies = [gzip.decompress(b) if cfg.gzip else b for b in _bodies(cfg, 99)[:8]]
    prices, memo = load_price_table(), OtlpMemo()
    decode = full = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for b in bodies:
            decode_traces_pb(b)
        t1 = time.perf_counter()
        for b in bodies:
            map_request("traces", "protobuf", b, tenant="bench", memo=memo, prices=prices, now_ns=time.time_ns())
        t2 = time.perf_counter()
        decode, full = min(decode, t1 - t0), min(full, t2 - t1)
    spans = len(bodies) * cfg.spans
    return spans / decode, spans / full


def main() -> int:
    args = parse_args(__doc__ or "", _options)
    mode = args.mode
    if py_spy_missing(args.profile):
        return 2
    cfg = _Config(
        spans=mode.pick(smoke=64, quick=args.spans, full=args.spans),
        exporters=mode.pick(smoke=2, quick=args.exporters, full=args.exporters),
        client_procs=mode.pick(smoke=1, quick=args.client_procs, full=args.client_procs),
        warmup=mode.pick(smoke=0.3, quick=2.0, full=3.0),
        duration=mode.pick(smoke=1.5, quick=6.0, full=15.0),
        pool=mode.pick(smoke=40, quick=80, full=160),
        gzip=args.gzip, content=args.content,
    )
    context = {"spans_per_request": cfg.spans, "exporters": cfg.exporters, "gzip": cfg.gzip,
               "content_bytes": cfg.content, "mode": mode.name}
    decode_rate, map_rate = in_process(cfg)
    log(f"in process: decode {decode_rate:,.0f} spans/s, decode + map {map_rate:,.0f} spans/s")
    emit("otlp", "decode_in_process", decode_rate, "spans/s", runs=1, **context, **machine())
    emit("otlp", "decode_map_in_process", map_rate, "spans/s", runs=1, **context, **machine())
    runs = []
    for run in range(mode.runs):
        log(f"otlp run {run + 1}/{mode.runs} ({mode.name}): {cfg.exporters} exporters x {cfg.spans} spans, "
            f"gzip={cfg.gzip}, content={cfg.content} B, {machine()}")
        result = run_once(cfg, args.profile if run == 0 else None)
        log(f"  {result['spans_per_s']:,.0f} spans/s, p95 {percentile(result['latencies_ms'], 95):.0f} ms, "
            f"server {result['server_cpu_cores']:.2f} cores, errors {result['errors']}, "
            f"stored {result['stored_events']} / acked {result['acked_events']} events")
        for sample in result["error_samples"]:
            log(f"  error: {sample}")
        if result["stored_events"] is not None and result["stored_events"] < result["acked_events"]:
            log("  FAILED: fewer events stored than acknowledged")
            return 1
        runs.append(result)
    if args.profile is not None:
        report(args.profile, "the first run's window")
    context = {**context, **machine()}
    emit("otlp", "throughput", median([r["spans_per_s"] for r in runs]), "spans/s", runs=mode.runs,
         target=TARGET_SPANS_PER_S, **context)
    emit("otlp", "request_latency_p95", median([percentile(r["latencies_ms"], 95) for r in runs]), "ms",
         runs=mode.runs, **context)
    emit("otlp", "request_latency_p50", median([percentile(r["latencies_ms"], 50) for r in runs]), "ms",
         runs=mode.runs, **context)
    emit("otlp", "server_cpu", median([r["server_cpu_cores"] for r in runs]), "cores", runs=mode.runs, **context)
    emit("otlp", "server_peak_rss", max(r["server_peak_rss_mb"] for r in runs), "MB", runs=mode.runs, **context)
    emit("otlp", "errors", sum(r["errors"] for r in runs), "requests", runs=mode.runs, **context)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
