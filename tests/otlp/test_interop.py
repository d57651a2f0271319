"""Conformance §8 interop items 25 and 28-32: real OpenTelemetry SDK exporters against the live server."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from collector.appkeys import metrics_key, pipeline_key
from collector.ingest.pipeline import MAX_COMMITS_IN_FLIGHT
from collector.mapping.otlp_decode_json import decode_traces_json
from collector.mapping.otlp_decode_pb import decode_traces_pb
from store.interface import Store
from tests.otlp.builders import events_of, map_doc, to_protobuf
from tests.otlp.conftest import OtlpClientFactory, all_events, stats
from tests.support import wait_until

FIXTURES = Path(__file__).parent / "fixtures"


def agent_run(service: str = "interop-agent") -> list[ReadableSpan]:
    """A small agent run made with the real SDK: invoke_agent -> chat + execute_tool."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("interop.test", "1.0")
    with tracer.start_as_current_span("invoke_agent researcher", kind=SpanKind.INTERNAL, attributes={
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "researcher",
        "gen_ai.conversation.id": "conv-42",
    }):
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
            "gen_ai.response.finish_reasons": ("tool_calls",),
        }):
            pass
        with tracer.start_as_current_span("execute_tool search", attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search",
            "gen_ai.tool.call.id": "call_1", "gen_ai.tool.call.arguments": '{"q": "otel"}',
        }) as tool:
            tool.set_status(Status(StatusCode.ERROR, "search backend down"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def _export(exporter: OTLPSpanExporter, spans: list[ReadableSpan]) -> SpanExportResult:
    try:
        return exporter.export(spans)
    finally:
        exporter.shutdown()


@pytest.mark.parametrize("mapper", ["thread", "process"])
@pytest.mark.parametrize("compression", [None, "gzip"])
async def test_c28_python_proto_http_exporter(make_otlp_client: OtlpClientFactory, compression: str | None,
                                              mapper: str, monkeypatch: pytest.MonkeyPatch) -> None:
    otlp_client = await make_otlp_client(otlp_mapper=mapper)
    if compression:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", compression)
    exporter = OTLPSpanExporter(endpoint=str(otlp_client.make_url("/v1/traces")))
    if compression:
        assert exporter._compression.value == "gzip"  # the environment variable took effect
    result = await asyncio.to_thread(_export, exporter, agent_run())
    assert result is SpanExportResult.SUCCESS
    events = await all_events(otlp_client)
    assert sorted(e["eventType"] for e in events) == [
        "llm_call", "llm_response", "session_ended", "session_started", "tool_call", "tool_error"]
    assert {e["sessionId"] for e in events} == {"conv-42"}
    assert {e["agentId"] for e in events} == {"researcher"}


async def test_c29_base_endpoint_routes_all_signals(otlp_client: TestClient[Any, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", str(otlp_client.make_url("")).rstrip("/"))

    def run() -> None:
        span_exporter = OTLPSpanExporter()
        assert span_exporter.export(agent_run()) is SpanExportResult.SUCCESS
        span_exporter.shutdown()
        resource = Resource.create({"service.name": "interop-agent"})
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter()))
        logger_provider.get_logger("interop.test").emit(body="hello from the SDK", severity_text="WARN",
                                                        attributes={"k": "v"})
        logger_provider.shutdown()
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=3_600_000)
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        meter_provider.get_meter("interop.test").create_counter("interop.requests").add(5, {"route": "/x"})
        meter_provider.force_flush()
        meter_provider.shutdown()

    await asyncio.to_thread(run)
    events = await all_events(otlp_client)
    kinds = [e["payload"]["type"] for e in events if e["eventType"] == "custom"]
    assert "otlp_log" in kinds and "otlp_metric" in kinds
    log_event = next(e for e in events if e["eventType"] == "custom" and e["payload"]["type"] == "otlp_log")
    assert log_event["payload"]["data"]["body"] == "hello from the SDK"
    metric = next(e for e in events if e["eventType"] == "custom" and e["payload"]["type"] == "otlp_metric")
    assert metric["payload"]["data"]["name"] == "interop.requests"
    assert metric["payload"]["data"]["value"] == 5
    assert metric["metadata"]["source"] == "otlp_metric"


def _python_json_exporter_shape(body: bytes) -> dict[str, Any]:
    """What opentelemetry-exporter-otlp-json-http sends for the same request: lowercase hex ids,
    int64 (times, intValue) as strings, enums as integers (otlp-receiver.md §2)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    message = ExportTraceServiceRequest.FromString(body)
    doc = json_format.MessageToDict(message, use_integers_for_enums=True)

    def hexify(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (bytes(__import__("base64").b64decode(v)).hex() if k in ("traceId", "spanId", "parentSpanId")
                        else hexify(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [hexify(v) for v in node]
        return node

    result: dict[str, Any] = hexify(doc)
    return result


def test_c30_json_exporter_shape_decodes_like_protobuf() -> None:
    """The real JSON exporter cannot be installed next to the proto exporter (docs/otlp.md), so the
    SDK's own spans are sent in its documented shape and must decode exactly like protobuf."""
    body = bytes(encode_spans(agent_run()).SerializeToString())
    as_json = json.dumps(_python_json_exporter_shape(body)).encode()
    assert b'"intValue": "100"' in as_json  # the Python JSON shape: int64 as strings
    from_pb = decode_traces_pb(body)
    from_json = decode_traces_json(as_json)
    assert from_pb.spans == from_json.spans
    assert events_of(map_doc(body, encoding="protobuf")) == events_of(map_doc(as_json))


def test_c31_js_exporter_payload() -> None:
    """A recorded @opentelemetry/exporter-trace-otlp-http payload: intValue as JSON numbers."""
    raw = (FIXTURES / "js_exporter_traces.json").read_bytes()
    doc = json.loads(raw)
    assert isinstance(doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["attributes"][3]["value"]["intValue"], int)
    result = map_doc(raw)
    assert result.rejected == 0
    events = events_of(result)
    response = next(e for e in events if e["eventType"] == "llm_response")
    assert response["payload"]["usage"] == {"inputTokens": 412, "outputTokens": 58, "totalTokens": 470}
    assert response["payload"]["model"] == "gpt-4o-mini-2024-07-18"
    assert response["agentId"] == "support-bot"  # from the invoke_agent parent
    assert response["sessionId"] == "chat-7f3a"
    # the same request as protobuf maps to the same events
    assert events_of(map_doc(doc, encoding="protobuf")) == events


async def test_c32_collector_style_gzip_protobuf(otlp_client: TestClient[Any, Any]) -> None:
    """What the OpenTelemetry Collector's otlphttp exporter sends: gzip protobuf, several ResourceSpans."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    merged = ExportTraceServiceRequest()
    for service in ("svc-a", "svc-b", "svc-c"):
        merged.MergeFrom(encode_spans(agent_run(service)))
    merged.resource_spans[2].resource.attributes.add(key="gen_ai.agent.name").value.string_value = "ignored-for-spans"
    body = gzip.compress(merged.SerializeToString())
    async with ClientSession() as raw:
        async with raw.post(otlp_client.make_url("/v1/traces"), data=body, headers={
            "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip",
            "User-Agent": "OpenTelemetry Collector Contrib/0.120.0 (linux/amd64)"}) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/x-protobuf"
    events = await all_events(otlp_client)
    assert len(events) == 18
    assert {e["metadata"]["serviceName"] for e in events} == {"svc-a", "svc-b", "svc-c"}
    assert len({e["metadata"]["traceId"] for e in events}) == 3


# ------------------------------------------------------------------ 25: overload, then the exporter retries


class GatedStore:
    """A store whose writes wait for ``gate``: the test decides when the ingest queue drains."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.writes_started = 0

    async def insert_events(self, events: Any, spans: Any = ()) -> Any:
        self.writes_started += 1
        await self.gate.wait()
        return await self.inner.insert_events(events, spans)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _single_chat(trace_hex: str) -> bytes:
    from tests.otlp.builders import ROOT, span, traces

    return to_protobuf(traces(span(ROOT, "chat gpt-4o", {"gen_ai.operation.name": "chat"}, trace_id=trace_hex)))


async def _post_traces(client: TestClient[Any, Any], body: bytes) -> int:
    resp = await client.post("/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"})
    return resp.status


async def _saturate(client: TestClient[Any, Any], store: GatedStore) -> list[asyncio.Task[Any]]:
    """Every commit slot held in the writer, one more request queued: the next one finds the queue full."""
    pipeline = client.app[pipeline_key]

    held = []
    for n in range(MAX_COMMITS_IN_FLIGHT):
        held.append(asyncio.create_task(_post_traces(client, _single_chat(str(n + 1) * 32))))
        await wait_until(lambda n=n: store.writes_started == n + 1, what="a commit to start")
    held.append(asyncio.create_task(_post_traces(client, _single_chat("f" * 32))))
    await wait_until(lambda: pipeline.queued_events >= 1, what="a batch to queue")
    return held


@pytest.fixture
async def gated_client(
    make_otlp_client: OtlpClientFactory, sqlite_store: Store
) -> AsyncIterator[tuple[TestClient[Any, Any], GatedStore]]:
    """A client (queue of one event) whose store holds every write until ``gate`` is set; set on teardown."""
    store = GatedStore(sqlite_store)
    client = await make_otlp_client(store=store, queue_max_events=1)
    try:
        yield client, store
    finally:
        store.gate.set()


async def test_c25_queue_full_answers_503(gated_client: tuple[TestClient[Any, Any], GatedStore]) -> None:
    client, store = gated_client
    held = await _saturate(client, store)
    resp = await client.post("/v1/traces", data=_single_chat("3" * 32),
                             headers={"Content-Type": "application/x-protobuf"})
    assert resp.status == 503
    assert int(resp.headers["Retry-After"]) >= 1
    from google.rpc import status_pb2

    status = status_pb2.Status()
    status.ParseFromString(await resp.read())
    assert status.code == 14
    store.gate.set()
    assert [await t for t in held] == [200] * (MAX_COMMITS_IN_FLIGHT + 1)


async def test_c25_python_exporter_retries_after_503(gated_client: tuple[TestClient[Any, Any], GatedStore]) -> None:
    client, store = gated_client
    held = await _saturate(client, store)
    rejected = client.app[metrics_key].requests_rejected.labels(route="/v1/traces", status="503")
    before = rejected._value.get()
    exporter = OTLPSpanExporter(endpoint=str(client.make_url("/v1/traces")), timeout=30)
    export = asyncio.create_task(asyncio.to_thread(_export, exporter, agent_run()))
    await wait_until(lambda: rejected._value.get() > before, what="the exporter to be told 503")
    store.gate.set()  # the queue drains; the exporter's retry (after Retry-After) succeeds
    assert await export is SpanExportResult.SUCCESS
    assert [await t for t in held] == [200] * (MAX_COMMITS_IN_FLIGHT + 1)
    assert {e["sessionId"] for e in await all_events(client, eventType="session_started")} == {"conv-42"}


# ------------------------------------------------------------------ logs from the SDK: GenAI content joins its span


@pytest.mark.parametrize("mapper", ["thread", "process"])
async def test_genai_log_content_from_sdk_joins_span(make_otlp_client: OtlpClientFactory, mapper: str) -> None:
    """v1.36-style per-message log events exported before their span attach to its llm_call
    (held by the memo between the two requests: in the server, or in its mapper process)."""
    otlp_client = await make_otlp_client(otlp_mapper=mapper)

    def run() -> None:
        spans = InMemorySpanExporter()
        tracer_provider = TracerProvider(resource=Resource.create({"service.name": "events-agent"}))
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        logs = InMemoryLogRecordExporter()
        logger_provider = LoggerProvider(resource=Resource.create({"service.name": "events-agent"}))
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
        logger = logger_provider.get_logger("opentelemetry.instrumentation.openai_v2")
        with tracer_provider.get_tracer("t").start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.prompt_tokens": 9, "gen_ai.usage.completion_tokens": 2}):
            logger.emit(event_name="gen_ai.user.message", body={"content": "Hi there"},
                        attributes={"gen_ai.system": "openai"})
            logger.emit(event_name="gen_ai.choice", body={"index": 0, "finish_reason": "stop",
                                                          "message": {"content": "Hello!"}})
        tracer_provider.shutdown()
        logger_provider.shutdown()
        log_exporter = OTLPLogExporter(endpoint=str(otlp_client.make_url("/v1/logs")))
        assert log_exporter.export(list(logs.get_finished_logs())).name == "SUCCESS"
        span_exporter = OTLPSpanExporter(endpoint=str(otlp_client.make_url("/v1/traces")))
        assert span_exporter.export(list(spans.get_finished_spans())) is SpanExportResult.SUCCESS
        assert encode_logs(list(logs.get_finished_logs()))  # the encoder the exporter used

    await asyncio.to_thread(run)
    events = {e["eventType"]: e for e in await all_events(otlp_client)}
    assert set(events) == {"llm_call", "llm_response"}  # content records made no events of their own
    assert events["llm_call"]["payload"]["messages"] == [{"role": "user", "content": "Hi there"}]
    assert events["llm_response"]["payload"]["completion"] == "Hello!"
    assert events["llm_response"]["payload"]["finishReason"] == "stop"
    assert events["llm_response"]["payload"]["usage"]["inputTokens"] == 9


async def test_large_requests_are_handed_to_the_store_a_few_thousand_events_at_a_time(
    make_otlp_client: OtlpClientFactory, sqlite_store: Store,
) -> None:
    """Commit slots are many, but 1,024-event requests go three at a time (MAX_EVENTS_IN_FLIGHT)."""
    from collector.ingest.pipeline import MAX_EVENTS_IN_FLIGHT
    from tests.otlp.builders import span, traces

    store = GatedStore(sqlite_store)
    client = await make_otlp_client(store=store, commit_max_events=1000)  # a group per request
    pipeline = client.app[pipeline_key]

    def request(n: int) -> bytes:  # 512 chat spans: 1,024 events
        return to_protobuf(traces(*(span(f"{n:02x}{i:014x}", "chat gpt-4o", {"gen_ai.operation.name": "chat"},
                                         trace_id=f"{n:02x}{i:030x}") for i in range(512))))

    fits = -(-MAX_EVENTS_IN_FLIGHT // 1024)  # the request that reaches the budget is still handed over
    # ids of request 0 would be all zero
    sent = [asyncio.create_task(_post_traces(client, request(n))) for n in range(1, fits + 2)]
    await wait_until(lambda: store.writes_started == fits and pipeline.queued_events == 1024,
                     what="the budget to fill and one request to wait")
    for _ in range(20):  # let the pipeline's task run: it must keep the last request queued
        await asyncio.sleep(0)
    assert (store.writes_started, pipeline.queued_events) == (fits, 1024)
    store.gate.set()
    assert [await t for t in sent] == [200] * (fits + 1)
    assert (await stats(client))["totalEvents"] == 1024 * (fits + 1)
