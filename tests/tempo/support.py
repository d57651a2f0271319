"""Helpers for the Tempo tests: an agent run recorded with the real SDK, exported to /v1/traces, Grafana's decoders."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from tests.otlp.builders import SECOND, T0, span, traces

__all__ = ("MS", "T1", "T2", "T3", "T4", "dataset", "decode_v1", "decode_v2", "export", "pb_spans", "recorded_run")

MS = 1_000_000
T1, T2, T3, T4 = ("1" * 32, "2" * 32, "3" * 32, "4" * 32)


def dataset() -> list[dict[str, Any]]:
    """Four traces, 10 s apart (T1 oldest); their shapes are what the queries below tell apart."""
    t1 = T0
    t2 = T0 + 10 * SECOND
    t3 = T0 + 20 * SECOND
    t4 = T0 + 30 * SECOND
    return [
        traces(
            span("a100000000000001", "invoke_agent planner", {"gen_ai.operation.name": "invoke_agent",
                 "gen_ai.agent.name": "planner"}, trace_id=T1, kind=2, start=t1, end=t1 + 3 * SECOND),
            span("a100000000000002", "chat gpt-4o", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                 "gen_ai.usage.input_tokens": 100}, trace_id=T1, parent="a100000000000001", kind=3,
                 start=t1 + 100 * MS, end=t1 + 2100 * MS),
            span("a100000000000003", "execute_tool search", {"gen_ai.operation.name": "execute_tool",
                 "gen_ai.tool.name": "search"}, trace_id=T1, parent="a100000000000001",
                 start=t1 + 2200 * MS, end=t1 + 2300 * MS, status=(2, "backend down")),
            resource={"service.name": "api"}),
        traces(
            span("b200000000000001", "invoke_agent coder", {"gen_ai.operation.name": "invoke_agent"}, trace_id=T2,
                 kind=2, start=t2, end=t2 + 500 * MS),
            span("b200000000000002", "chat claude", {"gen_ai.operation.name": "chat",
                 "gen_ai.request.model": "claude-sonnet-4", "http.status_code": 500}, trace_id=T2,
                 parent="b200000000000001", kind=3, start=t2 + 100 * MS, end=t2 + 400 * MS),
            resource={"service.name": "worker", "deployment.environment": "prod"}),
        traces(span("c300000000000001", "GET /health", {"http.method": "GET"}, trace_id=T3, kind=2, start=t3,
                    end=t3 + 10 * MS, status=(1, "")), resource={"service.name": "api"}),
        traces(span("d400000000000002", "orphan step", {}, trace_id=T4, parent="d400000000000001", start=t4,
                    end=t4 + 50 * MS), resource={"service.name": "batch"}),
    ]


def recorded_run(service: str = "tempo-agent", conversation: str = "conv-tempo") -> list[ReadableSpan]:
    """An agent run with every kind of value Tempo must give back: typed attributes, events, links, status."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "test",
                                                        "host.cores": 8}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tempo.roundtrip", "2.1")
    with tracer.start_as_current_span("invoke_agent planner", kind=SpanKind.SERVER, attributes={
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner", "gen_ai.conversation.id": conversation,
    }) as root:
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30, "gen_ai.request.temperature": 0.25,
            "gen_ai.request.stream": False, "gen_ai.response.finish_reasons": ("stop", "length"),
            "app.scores": (1.5, 2.5), "app.flags": (True, False), "app.counts": (1, 2, 3),
        }) as chat:
            chat.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "hello", "app.n": 7})
        with tracer.start_as_current_span("execute_tool search", kind=SpanKind.INTERNAL, attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search", "gen_ai.tool.call.id": "call-1",
        }, links=[Link(root.get_span_context(), {"link.kind": "caller"})]) as tool:
            tool.record_exception(RuntimeError("search backend down"))
            tool.set_status(Status(StatusCode.ERROR, "search backend down"))
        with tracer.start_as_current_span("publish", kind=SpanKind.PRODUCER) as pub:
            pub.set_status(Status(StatusCode.OK))
    provider.shutdown()
    return list(memory.get_finished_spans())


def _export(endpoint: str, spans: list[ReadableSpan], headers: dict[str, str] | None) -> SpanExportResult:
    exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers)
    try:
        return exporter.export(spans)
    finally:
        exporter.shutdown()


async def export(
    client: TestClient[Any, Any], spans: list[ReadableSpan], headers: dict[str, str] | None = None,
) -> None:
    """Send the spans through POST /v1/traces with the real protobuf exporter (in a thread: it blocks)."""
    result = await asyncio.to_thread(_export, str(client.make_url("/v1/traces")), spans, headers)
    assert result is SpanExportResult.SUCCESS


def decode_v1(body: bytes) -> TracesData:
    """Grafana's fallback path: ``tempopb.Trace`` (``repeated ResourceSpans batches = 1``) == OTLP TracesData."""
    return TracesData.FromString(body)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7


def decode_v2(body: bytes) -> TracesData:
    """Grafana's first try: ``tempopb.TraceByIDResponse``; the trace is field 1 (length-delimited)."""
    pos, trace = 0, None
    while pos < len(body):
        key, pos = _varint(body, pos)
        field, wire = key >> 3, key & 7
        assert wire == 2, f"unexpected wire type {wire} for field {field}"
        length, pos = _varint(body, pos)
        if field == 1:
            trace = body[pos:pos + length]
        pos += length
    assert trace is not None, "TraceByIDResponse without a trace (field 1)"
    return TracesData.FromString(trace)


def pb_spans(data: TracesData) -> list[tuple[Any, Any, PbSpan]]:
    """(resource, scope, span) triples of a TracesData."""
    return [(rs.resource, ss.scope, s) for rs in data.resource_spans for ss in rs.scope_spans for s in ss.spans]
