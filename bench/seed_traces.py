"""Seed a database with GenAI agent traces through the OTLP mapping (events + spans), cached like bench/seed.py.

Each trace is one agent run (``invoke_agent`` root, 2-6 ``chat`` spans, 1-5 ``execute_tool`` spans,
a few failing) built as an OTLP ``ExportTraceServiceRequest``, mapped by the receiver's own code
(``map_request`` + ``collector.tempo.codec.new_spans``) and written with ``store.insert_events(events,
spans)`` in large transactions. Traces are spread evenly over ``--days`` days ending at the time of
seeding, oldest first. The sidecar JSON holds the time range and a sample of trace ids.

    python -m bench.seed_traces --events 1000000
"""

from __future__ import annotations

import argparse
import os
import random
import time
from typing import Any

from bench.common import log
from bench.seed import SeedInfo, cache_key, cached_database, current_dialect
from collector.mapping.otlp_memo import OtlpMemo
from collector.mapping.otlp_prices import load_price_table
from collector.mapping.otlp_request import map_request
from collector.tempo.codec import new_spans
from store.factory import open_store
from store.model import NewEvent
from store.spans import NewSpan

__all__ = ("AGENTS", "MODELS", "TOOLS", "ensure_traces")

SEED_VERSION = 1
TRACES_PER_REQUEST = 60
INSERT_EVENTS = 10_000
AGENTS = tuple(f"agent-{i:02d}" for i in range(40))
MODELS = (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4"),
          ("anthropic", "claude-3-5-haiku"), ("google", "gemini-2.0-flash"), ("openai", "o3-mini"))
TOOLS = ("web_search", "read_file", "write_file", "run_sql", "http_get", "send_email", "create_ticket",
         "lookup_customer", "calculator", "vector_search", "shell", "calendar_create")
SAMPLE = 200


def _request(rng: random.Random, first_ns: int, gap_ns: int, count: int) -> tuple[bytes, list[str], int]:
    """``count`` agent runs starting ``gap_ns`` apart from ``first_ns``; (body, trace ids, events they map to)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    for key, value in (("service.name", "agents-" + str(rng.randint(1, 8))), ("telemetry.sdk.language", "python"),
                       ("deployment.environment", rng.choice(("prod", "staging")))):
        rs.resource.attributes.add(key=key).value.string_value = value
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "bench.agents", "1.0"
    trace_ids: list[str] = []
    events = 0
    for n in range(count):
        trace, root = os.urandom(16), os.urandom(8)
        trace_ids.append(trace.hex())
        start = first_ns + n * gap_ns
        chats, tools = rng.randint(2, 6), rng.randint(1, 5)
        end = start + (chats + tools + 1) * 2_000_000_000
        agent = rng.choice(AGENTS)
        sp = ss.spans.add(trace_id=trace, span_id=root, name=f"invoke_agent {agent}", kind=2,
                          start_time_unix_nano=start, end_time_unix_nano=end)
        for key, value in (("gen_ai.operation.name", "invoke_agent"), ("gen_ai.agent.name", agent),
                           ("gen_ai.conversation.id", f"conv-{trace.hex()[:16]}")):
            sp.attributes.add(key=key).value.string_value = value
        at = start + 1_000_000
        for i in range(chats + tools):
            duration = rng.randint(50, 9000) * 1_000_000
            child = ss.spans.add(trace_id=trace, span_id=os.urandom(8), parent_span_id=root,
                                 start_time_unix_nano=at, end_time_unix_nano=at + duration)
            at += duration // 4
            if i < chats:
                provider, model = rng.choice(MODELS)
                child.name, child.kind = f"chat {model}", 3
                for key, value in (("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", provider),
                                   ("gen_ai.request.model", model)):
                    child.attributes.add(key=key).value.string_value = value
                child.attributes.add(key="gen_ai.usage.input_tokens").value.int_value = rng.randint(50, 8000)
                child.attributes.add(key="gen_ai.usage.output_tokens").value.int_value = rng.randint(5, 900)
            else:
                tool = rng.choice(TOOLS)
                child.name, child.kind = f"execute_tool {tool}", 1
                child.attributes.add(key="gen_ai.operation.name").value.string_value = "execute_tool"
                child.attributes.add(key="gen_ai.tool.name").value.string_value = tool
                if rng.random() < 0.05:
                    child.status.code, child.status.message = 2, "tool failed"
        events += 2 * (1 + chats + tools)
    return request.SerializeToString(), trace_ids, events


async def _fill(url: str, events: int, days: float) -> dict[str, Any]:
    store = await open_store(url)
    memo, prices = OtlpMemo(), load_price_table()
    rng = random.Random(42)
    per_trace = 2 * (1 + 4 + 3)                            # mean events per run
    runs = max(1, events // per_trace)
    end_ns = time.time_ns() - 60_000_000_000
    start_ns = end_ns - int(days * 86_400e9)
    gap = max(1, (end_ns - start_ns) // runs)
    pending_events: list[NewEvent] = []
    pending_spans: list[NewSpan] = []
    samples: list[str] = []
    written = traces = 0
    started = time.monotonic()
    try:
        while written + len(pending_events) < events:
            count = min(TRACES_PER_REQUEST, runs - traces) or TRACES_PER_REQUEST
            body, ids, _ = _request(rng, start_ns + traces * gap, gap, count)
            traces += count
            result = map_request("traces", "protobuf", body, tenant="default", memo=memo, prices=prices,
                                 now_ns=end_ns)
            pending_events.extend(result.events)
            pending_spans.extend(new_spans(result.spans, result.owners, "default"))
            if rng.random() < 0.2:
                samples.append(rng.choice(ids))
            if len(pending_events) >= INSERT_EVENTS:
                await store.insert_events(pending_events, pending_spans)
                written += len(pending_events)
                pending_events, pending_spans = [], []
                if written % 100_000 < INSERT_EVENTS:
                    log(f"  seeded {written:,} events ({written / (time.monotonic() - started):,.0f}/s)")
        if pending_events:
            await store.insert_events(pending_events, pending_spans)
            written += len(pending_events)
    finally:
        await store.close()
    return {"events": written, "traces": traces, "days": days, "start_ns": start_ns, "end_ns": end_ns,
            "seconds": round(time.monotonic() - started, 1), "trace_sample": samples[-SAMPLE:],
            "agents": list(AGENTS)}


def ensure_traces(events: int, days: float = 7.0, *, force: bool = False) -> SeedInfo:
    """The seeded trace database for these parameters, seeding it first unless it is cached."""
    key = cache_key("traces", f"{events // 1000}k", SEED_VERSION, events, days, current_dialect())
    info = cached_database(key, force=force, what=f"{events:,} events of agent traces over {days} days",
                           fill=lambda url: _fill(url, events, days))
    log(f"{info.meta['events']:,} events ({info.meta['traces']:,} traces), {info.meta['seconds']} s of seeding")
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description="seed (or find cached) a database of agent traces")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    info = ensure_traces(args.events, args.days, force=args.force)
    log(f"{info.target.url}: {info.meta['events']:,} events, {info.meta['traces']:,} traces")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
