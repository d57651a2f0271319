"""Micro-benchmark of store.canonical (in-process): dumps on its three paths, loads, hashing."""

from __future__ import annotations

import timeit
from collections.abc import Callable
from typing import Any

import orjson

from bench.common import emit, log, machine, median, parse_args
from store import canonical

# A realistic llm_response-like payload, about 400 bytes of compact JSON.
PAYLOAD: dict[str, Any] = {
    "callId": "span-7f3a9c",
    "provider": "openai",
    "model": "gpt-4o-2024-08-06",
    "completion": "The weather in Paris is mild today, around 14 degrees with light rain expected tonight.",
    "finishReason": "stop",
    "usage": {"inputTokens": 412, "outputTokens": 37, "totalTokens": 449},
    "costUsd": 0.0014025,
    "latencyMs": 812,
    "tags": ["prod", "eu-west-1"],
    "traceId": "5b8efff798038103d269b633813fc60c",
}
# The same with integral floats (as Python SDKs and OTLP doubles send them): patched in place.
FLOATS = {**PAYLOAD, "latencyMs": 812.0, "temperature": 1.0, "topP": 1.0}
# The same with an array-index key: the pure-Python serializer.
INDEX_KEY = {**PAYLOAD, "0": "first"}
WIRE = orjson.dumps(PAYLOAD)


def per_call_us(fn: Callable[[], object], number: int, runs: int) -> float:
    """Median over runs of the best of 5 repeats, in microseconds per call."""
    return median([min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6 for _ in range(runs)])


def main() -> None:
    args = parse_args(__doc__ or "")
    number = args.mode.pick(smoke=200, quick=20_000, full=100_000)
    slow_number = max(number // 10, 20)
    payload_json = canonical.dumps(PAYLOAD)
    assert payload_json == WIRE.decode()
    cases: list[tuple[str, Callable[[], object], int]] = [
        ("orjson_dumps_baseline", lambda: orjson.dumps(PAYLOAD), number),
        ("dumps_fast", lambda: canonical.dumps(PAYLOAD), number),
        ("dumps_float_fixup", lambda: canonical.dumps(FLOATS), number),
        ("dumps_slow", lambda: canonical.dumps(INDEX_KEY), slow_number),
        ("dumps_slow_serializer", lambda: canonical._dumps_slow(PAYLOAD), slow_number),
        ("orjson_loads_baseline", lambda: orjson.loads(WIRE), number),
        ("loads", lambda: canonical.loads(WIRE), number),
        ("nesting_depth_exceeds", lambda: canonical.nesting_depth_exceeds(PAYLOAD, 32), number),
        (
            "event_hash",
            lambda: canonical.event_hash(
                event_id="01JD0000000000000000000001",
                timestamp="2026-11-27T10:01:00.001Z",
                session_id="sess-1",
                agent_id="agent-1",
                event_type="llm_response",
                severity="info",
                payload_json=payload_json,
                metadata_json="{}",
                prev_hash="9c21b02981cdc19c0dacf77de6e6d6c8d6f6b3d93c1a1ab3a1b1e2d0f0a0b0c0",
            ),
            number,
        ),
    ]
    log(f"canonical: {len(WIRE)}-byte payload, {number} calls per repeat")
    for name, fn, n in cases:
        emit(
            "canonical",
            name,
            per_call_us(fn, n, args.mode.runs),
            "us/call",
            runs=args.mode.runs,
            payload_bytes=len(WIRE),
            machine=machine(),
        )


if __name__ == "__main__":
    main()
