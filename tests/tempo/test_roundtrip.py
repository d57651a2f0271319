"""A trace sent through POST /v1/traces comes back from /tempo exactly: Grafana's v2 and v1 decoders, OTLP JSON."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

from collector.keys import mint_key
from collector.mapping.otlp_decode_json import decode_traces_json
from collector.mapping.otlp_decode_pb import decode_traces_pb
from store.interface import Store
from store.timefmt import format_us
from tests.conftest import AppClientFactory
from tests.tempo.support import decode_v1, decode_v2, export, pb_spans, recorded_run

PROTOBUF = {"Accept": "application/protobuf"}
ExportedRun = tuple[TestClient[Any, Any], list[ReadableSpan]]


@pytest.fixture
async def exported_run(store: Store, make_client: AppClientFactory) -> ExportedRun:
    """A client whose store already holds ``recorded_run()``, sent through POST /v1/traces, and those spans."""
    client = await make_client(store)
    spans = recorded_run()
    await export(client, spans)
    return client, spans


def _trace_id(spans: list[ReadableSpan]) -> str:
    return f"{spans[0].context.trace_id:032x}"


def _sent(spans: list[ReadableSpan]) -> dict[bytes, Any]:
    """What the exporter put on the wire, per span id: (resource, scope, span) protobuf messages."""
    request = encode_spans(spans)
    return {s.span_id: (rs.resource, ss.scope, s)
            for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans}


async def test_a_trace_comes_back_field_for_field_through_v2_and_v1(exported_run: ExportedRun) -> None:
    client, spans = exported_run
    trace_id = _trace_id(spans)
    sent = _sent(spans)

    v2 = await client.get(f"/tempo/api/v2/traces/{trace_id}", headers=PROTOBUF)
    assert v2.status == 200 and v2.content_type == "application/protobuf"
    v1 = await client.get(f"/tempo/api/traces/{trace_id}", headers=PROTOBUF)
    assert v1.status == 200 and v1.content_type == "application/protobuf"
    for served in (decode_v2(await v2.read()), decode_v1(await v1.read())):
        got = pb_spans(served)
        assert sorted(s.span_id for _, _, s in got) == sorted(sent)
        for resource, scope, span in got:
            want_resource, want_scope, want_span = sent[span.span_id]
            # ids, parent, name, kind, timing, typed attributes, events, links, status, flags, dropped counts
            assert span == want_span, span.name
            assert resource == want_resource and scope == want_scope
        names = {s.name: s for _, _, s in got}
        assert names["chat gpt-4o"].parent_span_id == names["invoke_agent planner"].span_id
        assert names["execute_tool search"].status.code == 2
        assert names["execute_tool search"].status.message == "search backend down"
        services = {kv.value.string_value for r, _, _ in got for kv in r.attributes if kv.key == "service.name"}
        assert services == {"tempo-agent"}


async def test_v1_without_a_protobuf_accept_header_is_otlp_json(exported_run: ExportedRun) -> None:
    client, spans = exported_run
    resp = await client.get(f"/tempo/api/traces/{_trace_id(spans)}")
    assert resp.status == 200 and resp.content_type == "application/json"
    body = await resp.read()
    doc = orjson.loads(body)
    first = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(first["traceId"]) == 32 and len(first["spanId"]) == 16          # hex, not base64
    assert isinstance(first["startTimeUnixNano"], str)                          # int64 as strings
    # decoded by an OTLP/JSON reader, it is the same trace as the protobuf that was sent
    from_json = {(s.span_id): s for s in decode_traces_json(body).spans}
    from_sent = {(s.span_id): s for s in decode_traces_pb(encode_spans(spans).SerializeToString()).spans}
    assert from_json.keys() == from_sent.keys()
    for span_id, span in from_sent.items():
        served = from_json[span_id]
        for name in ("trace_id", "parent_span_id", "name", "kind", "start_time_unix_nano", "end_time_unix_nano",
                     "attributes", "status_code", "status_message", "events", "links", "flags"):
            assert getattr(served, name) == getattr(span, name), (span.name, name)
        assert served.resource.attributes == span.resource.attributes
        assert (served.scope.name, served.scope.version) == (span.scope.name, span.scope.version)


async def test_unknown_ids_are_404_malformed_ids_400_short_ids_padded(exported_run: ExportedRun) -> None:
    client, spans = exported_run
    for path in ("/tempo/api/traces/", "/tempo/api/v2/traces/"):
        assert (await client.get(path + "0" * 31 + "1", headers=PROTOBUF)).status == 404
        bad = await client.get(path + "not-a-trace-id", headers=PROTOBUF)
        assert bad.status == 400 and "trace id" in await bad.text()
        assert (await client.get(path + "f" * 33)).status == 400
    # Tempo accepts ids without their leading zeros
    padded = await client.get(f"/tempo/api/traces/{int(_trace_id(spans), 16):x}", headers=PROTOBUF)
    assert padded.status == 200 and len(pb_spans(decode_v1(await padded.read()))) == len(spans)


async def test_resending_the_same_spans_changes_nothing(exported_run: ExportedRun) -> None:
    client, spans = exported_run
    await export(client, spans)
    resp = await client.get(f"/tempo/api/traces/{_trace_id(spans)}", headers=PROTOBUF)
    assert len(pb_spans(decode_v1(await resp.read()))) == len(spans)


async def test_the_sessions_other_events_appear_as_zero_duration_child_spans(
    store: Store, make_client: AppClientFactory,
) -> None:
    client = await make_client(store)
    spans = recorded_run(conversation="conv-mixed")
    await export(client, spans)
    root = next(s for s in spans if s.parent is None)
    assert root.start_time is not None and root.end_time is not None
    middle_us = (root.start_time + root.end_time) // 2000
    native = {"sessionId": "conv-mixed", "agentId": "planner", "eventType": "approval_requested",
              "timestamp": format_us(middle_us),
              "payload": {"requestId": "r-1", "action": "deploy", "params": {}, "urgency": "high"}}
    resp = await client.post("/api/events", json={"events": [native]})
    assert resp.status == 201, await resp.text()
    event_id = (await resp.json())["events"][0]["id"]
    late = {**native, "timestamp": format_us(root.end_time // 1000 + 60_000_000)}   # after the trace: not shown
    assert (await client.post("/api/events", json={"events": [late]})).status == 201

    served = pb_spans(decode_v2(await (await client.get(
        f"/tempo/api/v2/traces/{_trace_id(spans)}", headers=PROTOBUF)).read()))
    extra = [(r, sc, s) for r, sc, s in served if s.span_id not in _sent(spans)]
    assert len(extra) == 1
    resource, scope, span = extra[0]
    assert span.name == "approval_requested" and span.kind == 1
    assert span.start_time_unix_nano == span.end_time_unix_nano == middle_us * 1000
    assert span.parent_span_id == root.context.span_id.to_bytes(8, "big")
    attrs = {kv.key: kv.value.string_value for kv in span.attributes}
    assert attrs["agentlens.event.id"] == event_id and attrs["agentlens.session.id"] == "conv-mixed"
    assert orjson.loads(attrs["agentlens.payload"])["action"] == "deploy"
    assert [kv.value.string_value for kv in resource.attributes if kv.key == "service.name"] == ["planner"]
    assert scope.name == "agentlens.events"


async def test_a_trace_is_visible_to_its_tenant_only(store: Store, make_client: AppClientFactory) -> None:
    client: TestClient[Any, Any] = await make_client(store, auth="required")
    keys = {}
    for tenant in ("tenant-a", "tenant-b"):
        raw, record = mint_key(tenant, "t", ["*"], now_s=int(time.time()))
        await store.create_api_key(record)
        keys[tenant] = {"Authorization": f"Bearer {raw}"}
    spans = recorded_run()
    await export(client, spans, keys["tenant-a"])
    path = f"/tempo/api/v2/traces/{_trace_id(spans)}"
    assert (await client.get(path, headers=PROTOBUF)).status == 401
    assert (await client.get(path, headers={**PROTOBUF, **keys["tenant-a"]})).status == 200
    assert (await client.get(path, headers={**PROTOBUF, **keys["tenant-b"]})).status == 404
    search = await client.get("/tempo/api/search", params={"q": "{}"}, headers=keys["tenant-b"])
    assert (await search.json())["traces"] == []
