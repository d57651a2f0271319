"""Conformance checklist §8, protocol items 1-27 (otlp-receiver.md): raw HTTP against the real app."""

from __future__ import annotations

import base64
import gzip
import json
import tracemalloc
import zlib
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient
from backports import zstd
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collector.receivers.otlp_http import otlp_state_key
from collector.receivers.otlp_mapper import OFFLOAD_BYTES, ThreadMapper
from tests.otlp.builders import (
    CHILD,
    CHILD2,
    ROOT,
    SECOND,
    T0,
    TRACE,
    log_record,
    logs,
    point,
    span,
    sum_metric,
    to_protobuf,
    traces,
)
from tests.otlp.conftest import OtlpClientFactory, all_events, stats

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


def chat_span(span_id: str = ROOT, trace_id: str = TRACE, **kw: Any) -> dict[str, Any]:
    return span(span_id, "chat gpt-4o", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                         "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 12,
                                         "gen_ai.usage.output_tokens": 3}, trace_id=trace_id, kind=3, **kw)


ONE_SPAN = traces(chat_span())


def status_json(body: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(body)
    assert set(doc) <= {"code", "message", "details"}
    return doc


def status_pb(body: bytes) -> Any:
    message = status_pb2.Status()
    message.ParseFromString(body)
    return message


async def post(client: TestClient[Any, Any], path: str, data: bytes, headers: dict[str, str]) -> tuple[int, Any, bytes]:
    async with ClientSession(auto_decompress=False) as raw:
        async with raw.post(client.make_url(path), data=data, headers=headers,
                            skip_auto_headers=["Content-Type"]) as resp:
            return resp.status, resp.headers, await resp.read()


# ------------------------------------------------------------------ 1-5: types, methods, paths


async def test_c01_protobuf_one_span(otlp_client: TestClient[Any, Any]) -> None:
    status, headers, body = await post(otlp_client, "/v1/traces", to_protobuf(ONE_SPAN), PB)
    assert status == 200
    assert headers["Content-Type"] == "application/x-protobuf"
    response = ExportTraceServiceResponse()
    response.ParseFromString(body)
    assert not response.HasField("partial_success")
    assert [e["eventType"] for e in await all_events(otlp_client)] == ["llm_call", "llm_response"]


async def test_c02_json_one_span(otlp_client: TestClient[Any, Any]) -> None:
    status, headers, body = await post(otlp_client, "/v1/traces", json.dumps(ONE_SPAN).encode(), JS)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) in ({}, {"partialSuccess": {}})
    assert len(await all_events(otlp_client)) == 2


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "APPLICATION/JSON"])
async def test_c03_json_media_type_parameters_and_case(otlp_client: TestClient[Any, Any], content_type: str) -> None:
    status, headers, _ = await post(otlp_client, "/v1/traces", json.dumps(ONE_SPAN).encode(),
                                    {"Content-Type": content_type})
    assert status == 200
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/grpc"])
async def test_c04_unsupported_media_type(otlp_client: TestClient[Any, Any], content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status, resp_headers, body = await post(otlp_client, "/v1/traces", to_protobuf(ONE_SPAN), headers)
    assert status == 415
    assert resp_headers["Content-Type"] == "application/json"  # unknown encoding: the JSON fallback
    assert status_json(body)["code"] == 3


async def test_c05_methods_and_paths(otlp_client: TestClient[Any, Any]) -> None:
    for method in ("PUT", "GET", "DELETE"):
        resp = await otlp_client.request(method, "/v1/traces")
        assert resp.status == 405, method
        assert "POST" in resp.headers["Allow"]
    for path in ("/v1/trace", "/", "/v1/traces/"):
        status, _, body = await post(otlp_client, path, b"{}", JS)
        assert status == 404, path
        assert "/v1/traces" in status_json(body)["message"]


# ------------------------------------------------------------------ 6-11: encodings and sizes


async def test_large_bodies_are_mapped_on_the_mapper_thread(make_otlp_client: OtlpClientFactory) -> None:
    client = await make_otlp_client()
    state = client.server.app[otlp_state_key]
    mapper = state.mapper
    assert isinstance(mapper, ThreadMapper) and mapper.thread is None
    status, _, _ = await post(client, "/v1/traces", to_protobuf(ONE_SPAN), PB)
    assert status == 200 and mapper.thread is None  # a small body maps inline
    many = traces(*(chat_span(f"{i:016x}", f"{i:032x}") for i in range(1, 600)))
    body = to_protobuf(many)
    assert len(body) >= OFFLOAD_BYTES
    status, _, _ = await post(client, "/v1/traces", body, PB)
    assert status == 200
    assert mapper.thread is not None  # the request went through the one mapper thread
    assert (await stats(client))["totalEvents"] == 2 * 600
    await client.close()
    assert state.mapper is None and mapper.thread is None  # stopped with the app


async def test_c06_gzip(make_otlp_client: OtlpClientFactory) -> None:
    client = await make_otlp_client()
    for coding in ("gzip", "GZIP", "x-gzip"):
        status, _, _ = await post(client, "/v1/traces", gzip.compress(to_protobuf(ONE_SPAN)),
                                  {**PB, "Content-Encoding": coding})
        assert status == 200, coding
    status, _, _ = await post(client, "/v1/traces", gzip.compress(json.dumps(ONE_SPAN).encode()),
                              {**JS, "Content-Encoding": "gzip"})
    assert status == 200
    assert len(await all_events(client)) == 2  # the same span every time: no duplicates


async def test_c07_deflate_and_zstd(make_otlp_client: OtlpClientFactory) -> None:
    client = await make_otlp_client()
    raw = to_protobuf(ONE_SPAN)
    deflater = zlib.compressobj(wbits=-15)
    for coding, body in (("deflate", zlib.compress(raw)), ("deflate", deflater.compress(raw) + deflater.flush()),
                         ("zstd", zstd.compress(raw))):
        status, _, _ = await post(client, "/v1/traces", body, {**PB, "Content-Encoding": coding})
        assert status == 200, coding


async def test_c08_gzip_header_without_gzip_body(make_otlp_client: OtlpClientFactory) -> None:
    client = await make_otlp_client()
    status, headers, body = await post(client, "/v1/traces", json.dumps(ONE_SPAN).encode(),
                                       {**JS, "Content-Encoding": "gzip"})
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert status_json(body)["code"] == 3
    status, headers, body = await post(client, "/v1/traces", to_protobuf(ONE_SPAN), {**PB, "Content-Encoding": "gzip"})
    assert status == 400
    assert headers["Content-Type"] == "application/x-protobuf"
    assert status_pb(body).code == 3
    # the server is still fine afterwards
    status, _, _ = await post(client, "/v1/traces", to_protobuf(ONE_SPAN), PB)
    assert status == 200


@pytest.mark.parametrize("coding", ["snappy", "lz4", "zlib", "gzip, zstd"])
async def test_c09_unsupported_encoding(otlp_client: TestClient[Any, Any], coding: str) -> None:
    status, headers, body = await post(otlp_client, "/v1/traces", to_protobuf(ONE_SPAN),
                                       {**PB, "Content-Encoding": coding})
    assert status == 415
    assert "gzip" in headers["Accept-Encoding"]
    assert status_pb(body).code == 3
    assert await all_events(otlp_client) == []


async def test_c09_brotli_is_never_treated_as_plain(make_otlp_client: OtlpClientFactory) -> None:
    # the application runs with auto_decompress=False: the receiver sees "br" and answers 415
    client = await make_otlp_client()
    status, _, _ = await post(client, "/v1/traces", to_protobuf(ONE_SPAN), {**PB, "Content-Encoding": "br"})
    assert status == 415
    assert await all_events(client) == []


async def test_c10_body_over_limit(make_otlp_client: OtlpClientFactory) -> None:
    client = await make_otlp_client(otlp_max_bytes=64 * 1024)
    big = traces(span(ROOT, "work", {"blob": "x" * 70_000}))
    status, _, body = await post(client, "/v1/traces", json.dumps(big).encode(), JS)
    assert status == 413
    assert status_json(body)["code"] == 3
    # small on the wire, too large once inflated
    status, _, body = await post(client, "/v1/traces", gzip.compress(json.dumps(big).encode()),
                                 {**JS, "Content-Encoding": "gzip"})
    assert status == 413


def _bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    return b"".join([compressor.compress(block) for _ in range(size >> 20)] + [compressor.flush()])


async def test_c10_gzip_bomb_memory_bounded(make_otlp_client: OtlpClientFactory) -> None:
    limit = 1024 * 1024
    client = await make_otlp_client(otlp_max_bytes=limit)
    bomb = _bomb(256 << 20)  # 256 MiB of zeros in ~250 KiB
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        status, _, body = await post(client, "/v1/traces", bomb, {**PB, "Content-Encoding": "gzip"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413
    assert status_pb(body).code == 3
    # client and server share the process: the bomb itself, the limit, and small change
    assert peak < len(bomb) * 3 + 2 * limit + 4 * 1024 * 1024, peak


async def test_c11_empty_bodies(otlp_client: TestClient[Any, Any]) -> None:
    status, headers, body = await post(otlp_client, "/v1/traces", b"", PB)
    assert (status, headers["Content-Type"], body) == (200, "application/x-protobuf", b"")
    for doc in (b"{}", b'{"resourceSpans":[]}', b'{"resourceSpans":[{"scopeSpans":[]}]}',
                b'{"resourceSpans":[{"scopeSpans":[{"spans":[]}]}]}'):
        status, _, body = await post(otlp_client, "/v1/traces", doc, JS)
        assert status == 200, doc
        assert json.loads(body) == {}
    status, _, body = await post(otlp_client, "/v1/traces", b"", JS)  # documented: 400
    assert status == 400
    assert status_json(body)["code"] == 3


# ------------------------------------------------------------------ 12-17: decoding


async def test_c12_garbage_protobuf(otlp_client: TestClient[Any, Any]) -> None:
    for garbage in (b"\xff\xff\xff\xff", b"\x0a\x05abc", json.dumps(ONE_SPAN).encode()):
        status, headers, body = await post(otlp_client, "/v1/traces", garbage, PB)
        assert status == 400, garbage
        assert headers["Content-Type"] == "application/x-protobuf"
        assert status_pb(body).code == 3


@pytest.mark.parametrize("doc", [b"{not json", b"[]", b'{"resourceSpans":{}}', b'{"resourceSpans":[1]}',
                                 b'"text"', b"\xff\xfe"])
async def test_c13_invalid_json(otlp_client: TestClient[Any, Any], doc: bytes) -> None:
    status, headers, body = await post(otlp_client, "/v1/traces", doc, JS)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    error = status_json(body)
    assert error["code"] == 3 and error["message"]


async def test_c14_uppercase_and_base64_ids(otlp_client: TestClient[Any, Any]) -> None:
    doc = traces(chat_span(ROOT.upper(), TRACE.upper()))
    status, _, _ = await post(otlp_client, "/v1/traces", json.dumps(doc).encode(), JS)
    assert status == 200
    b64 = traces(chat_span(base64.b64encode(bytes.fromhex(CHILD)).decode(),
                           base64.b64encode(bytes.fromhex(TRACE)).decode()))
    status, _, body = await post(otlp_client, "/v1/traces", json.dumps(b64).encode(), JS)
    assert status == 200
    assert json.loads(body) == {}
    metas = {(e["metadata"]["traceId"], e["metadata"]["spanId"]) for e in await all_events(otlp_client)}
    assert metas == {(TRACE, ROOT), (TRACE, CHILD)}  # lower case; base64 decoded, not mis-read


async def test_c15_int64_as_string_or_number(otlp_client: TestClient[Any, Any]) -> None:
    as_strings = traces(chat_span())
    as_numbers = json.loads(json.dumps(as_strings))
    sp = as_numbers["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    sp["startTimeUnixNano"] = int(sp["startTimeUnixNano"])
    sp["endTimeUnixNano"] = int(sp["endTimeUnixNano"])
    for kv in sp["attributes"]:
        if "intValue" in kv["value"]:
            kv["value"]["intValue"] = int(kv["value"]["intValue"])
    for doc in (as_strings, as_numbers):
        status, _, _ = await post(otlp_client, "/v1/traces", json.dumps(doc).encode(), JS)
        assert status == 200
    events = await all_events(otlp_client)
    assert len(events) == 2  # identical events: the second request only produced duplicates
    assert events[1]["payload"]["usage"]["inputTokens"] == 12


async def test_c16_snake_case_and_unknown_fields(otlp_client: TestClient[Any, Any]) -> None:
    doc = {"resource_spans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "snake"}}], "future": 1},
        "schema_url": "https://opentelemetry.io/schemas/1.30.0", "unknownField": {"x": [1, 2]},
        "scope_spans": [{"scope": {"name": "lib", "newThing": True}, "spans": [{
            "trace_id": TRACE, "span_id": ROOT, "name": "chat gpt-4o", "kind": 3, "futureField": "x",
            "start_time_unix_nano": str(T0), "end_time_unix_nano": str(T0 + SECOND),
            "attributes": [{"key": "gen_ai.operation.name", "value": {"string_value": "chat"}},
                           {"key": "gen_ai.usage.input_tokens", "value": {"int_value": "7"}, "extra": 1}],
            "status": {"code": 1, "whatever": 2},
        }]}],
    }], "topLevelUnknown": True}
    status, _, _ = await post(otlp_client, "/v1/traces", json.dumps(doc).encode(), JS)
    assert status == 200
    events = await all_events(otlp_client)
    assert [e["agentId"] for e in events] == ["snake", "snake"]
    assert events[1]["payload"]["usage"]["inputTokens"] == 7


async def test_c17_enum_names(otlp_client: TestClient[Any, Any]) -> None:
    for kind in (3, "SPAN_KIND_CLIENT"):
        doc = traces(chat_span())
        doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["kind"] = kind
        doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["status"] = {"code": "STATUS_CODE_OK"}
        status, _, _ = await post(otlp_client, "/v1/traces", json.dumps(doc).encode(), JS)
        assert status == 200
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["kind"] = "BOGUS"
    status, _, body = await post(otlp_client, "/v1/traces", json.dumps(doc).encode(), JS)
    assert status == 400
    assert "BOGUS" in status_json(body)["message"]


# ------------------------------------------------------------------ 18-22: partial success, odd content


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
async def test_c18_partial_success_short_trace_id(otlp_client: TestClient[Any, Any], encoding: str) -> None:
    doc = traces(chat_span(CHILD, TRACE[:16]), chat_span())
    if encoding == "json":
        status, _, body = await post(otlp_client, "/v1/traces", json.dumps(doc).encode(), JS)
        partial = json.loads(body)["partialSuccess"]
        assert partial["rejectedSpans"] == "1"
        message = partial["errorMessage"]
    else:
        status, _, body = await post(otlp_client, "/v1/traces", to_protobuf(doc), PB)
        response = ExportTraceServiceResponse()
        response.ParseFromString(body)
        assert response.partial_success.rejected_spans == 1
        message = response.partial_success.error_message
    assert status == 200
    assert "trace_id" in message
    assert {e["metadata"]["spanId"] for e in await all_events(otlp_client)} == {ROOT}


async def test_c19_all_zero_trace_id(otlp_client: TestClient[Any, Any]) -> None:
    doc = traces(chat_span(CHILD, "0" * 32), chat_span(GRANDCHILD_ZERO, TRACE), chat_span())
    status, _, body = await post(otlp_client, "/v1/traces", to_protobuf(doc), PB)
    assert status == 200
    response = ExportTraceServiceResponse()
    response.ParseFromString(body)
    assert response.partial_success.rejected_spans == 2
    assert "all zero" in response.partial_success.error_message


GRANDCHILD_ZERO = "0" * 16


async def test_c20_invalid_utf8_in_protobuf(otlp_client: TestClient[Any, Any]) -> None:
    request = ExportTraceServiceRequest()
    sp = request.resource_spans.add().scope_spans.add().spans.add()
    sp.trace_id, sp.span_id, sp.name = bytes.fromhex(TRACE), bytes.fromhex(ROOT), "MARK"
    body = request.SerializeToString().replace(b"MARK", b"\xff\xfe\xfd\xfc")
    status, _, resp_body = await post(otlp_client, "/v1/traces", body, PB)
    assert status == 400  # documented: upb rejects the whole message; never a 500
    assert "UTF-8" in status_pb(resp_body).message


def _nested_json(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    return value


async def test_c21_deep_anyvalue(otlp_client: TestClient[Any, Any]) -> None:
    doc = traces(span(ROOT, "deep"))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] = [{"key": "deep", "value": _nested_json(100)}]
    status, _, _ = await post(otlp_client, "/v1/traces", json.dumps(doc).encode(), JS)
    assert status == 200  # JSON: accepted, deeper levels replaced by a marker
    events = await all_events(otlp_client)
    assert "nested deeper" in json.dumps(events[0]["payload"])
    status, _, body = await post(otlp_client, "/v1/traces", _deep_protobuf(100), PB)
    assert status in (200, 400)  # protobuf: upb's depth limit answers 400
    if status == 400:
        assert status_pb(body).code == 3


def _deep_protobuf(depth: int) -> bytes:
    request = ExportTraceServiceRequest()
    sp = request.resource_spans.add().scope_spans.add().spans.add()
    sp.trace_id, sp.span_id, sp.name = bytes.fromhex(TRACE), bytes.fromhex(CHILD), "deep"
    value = sp.attributes.add(key="deep").value
    for _ in range(depth):
        value = value.array_value.values.add()
    value.string_value = "leaf"
    return bytes(request.SerializeToString())


async def test_c22_huge_attribute_truncated(otlp_client: TestClient[Any, Any]) -> None:
    huge = "y" * (10 * 1024 * 1024)
    doc = traces(span(ROOT, "plain work", {"big": huge}),
                 span(CHILD, "chat gpt-4o", {"gen_ai.operation.name": "chat",
                                             "gen_ai.input.messages": json.dumps(
                                                 [{"role": "user", "parts": [{"type": "text", "content": huge}]}])}))
    status, _, _ = await post(otlp_client, "/v1/traces", json.dumps(doc).encode(), JS)
    assert status == 200
    by_type = {e["eventType"]: e for e in await all_events(otlp_client)}
    generic = by_type["custom"]["payload"]
    assert generic["truncated"] is True
    assert len(generic["data"]["attributes"]["big"]) < 5000
    call = by_type["llm_call"]["payload"]
    assert call["truncated"] is True
    assert call["callId"] == CHILD and len(call["messages"][0]["content"]) < 5000


# ------------------------------------------------------------------ 23-27


async def test_c23_same_request_twice(otlp_client: TestClient[Any, Any]) -> None:
    doc = traces(
        span(ROOT, "invoke_agent researcher", {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "r"}),
        chat_span(CHILD, parent=ROOT),
        span(CHILD2, "execute_tool search", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
             parent=ROOT),
    )
    body = to_protobuf(doc)
    assert (await post(otlp_client, "/v1/traces", body, PB))[0] == 200
    first_stats = await stats(otlp_client)
    first_session = await (await otlp_client.get(f"/api/sessions/trace-{TRACE}")).json()
    assert (await post(otlp_client, "/v1/traces", body, PB))[0] == 200
    assert (await post(otlp_client, "/v1/traces", json.dumps(doc).encode(), JS))[0] == 200
    assert await stats(otlp_client) == first_stats
    assert await (await otlp_client.get(f"/api/sessions/trace-{TRACE}")).json() == first_session
    verify = await (await otlp_client.get(f"/api/sessions/trace-{TRACE}/verify")).json()
    assert verify["valid"] is True and verify["eventCount"] == 6


async def test_c24_no_resource(otlp_client: TestClient[Any, Any]) -> None:
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [chat_span()]}]}]}
    status, _, _ = await post(otlp_client, "/v1/traces", json.dumps(doc).encode(), JS)
    assert status == 200
    doc = traces(chat_span(CHILD), resource={"telemetry.sdk.language": "python"})
    status, _, _ = await post(otlp_client, "/v1/traces", json.dumps(doc).encode(), JS)
    assert status == 200
    doc = traces(chat_span(CHILD2), resource={"service.name": "unknown_service:python3"})
    status, _, _ = await post(otlp_client, "/v1/traces", json.dumps(doc).encode(), JS)
    assert status == 200
    events = await all_events(otlp_client)
    assert {e["agentId"] for e in events} == {"otel-agent"}
    assert all(e["metadata"]["serviceName"] in (None, "unknown_service:python3") for e in events)


async def test_c26_cors(make_otlp_client: OtlpClientFactory) -> None:
    client = await make_otlp_client(cors_origins="https://app.example.com")
    origin = {"Origin": "https://app.example.com"}
    resp = await client.options("/v1/traces", headers={**origin, "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "content-type"})
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "content-type" in resp.headers["Access-Control-Allow-Headers"].lower()
    resp = await client.post("/v1/traces", data=json.dumps(ONE_SPAN), headers={**JS, **origin})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Retry-After" in resp.headers["Access-Control-Expose-Headers"]
    other = {"Origin": "https://evil.example.org"}
    resp = await client.options("/v1/traces", headers={**other, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in resp.headers
    resp = await client.post("/v1/traces", data=json.dumps(ONE_SPAN), headers={**JS, **other})
    assert resp.status == 200
    assert "Access-Control-Allow-Origin" not in resp.headers


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
async def test_c27_logs_and_metrics_accepted(otlp_client: TestClient[Any, Any], encoding: str) -> None:
    log_doc = logs(log_record("hello", {"k": "v"}))
    metric_doc = sum_metric("http.server.requests", [point(3)])
    for path, doc, signal, response_cls in (("/v1/logs", log_doc, "logs", ExportLogsServiceResponse),
                                            ("/v1/metrics", metric_doc, "metrics", ExportMetricsServiceResponse)):
        if encoding == "json":
            status, headers, body = await post(otlp_client, path, json.dumps(doc).encode(), JS)
            assert json.loads(body) == {}
        else:
            status, headers, body = await post(otlp_client, path, to_protobuf(doc, signal), PB)
            response = response_cls()
            response.ParseFromString(body)
            assert not response.HasField("partial_success")
        assert status == 200, path
        assert headers["Content-Type"] == ("application/json" if encoding == "json" else "application/x-protobuf")
    kinds = sorted(e["payload"]["type"] for e in await all_events(otlp_client))
    assert kinds == ["otlp_log", "otlp_metric"]
