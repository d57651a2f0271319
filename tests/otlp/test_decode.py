"""Decoders in isolation: OTLP/JSON rules, protobuf parity, ids, caps; and that no input crashes them."""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.mapping.otlp_decode_json import decode_logs_json, decode_metrics_json, decode_traces_json
from collector.mapping.otlp_decode_pb import decode_logs_pb, decode_metrics_pb, decode_traces_pb
from collector.mapping.otlp_memo import OtlpMemo
from collector.mapping.otlp_model import DecodeError
from collector.mapping.otlp_request import map_request
from tests.otlp.builders import (
    CHILD,
    ROOT,
    T0,
    TRACE,
    log_record,
    logs,
    point,
    prices,
    span,
    sum_metric,
    to_protobuf,
    traces,
)


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def one_span(**fields: Any) -> bytes:
    sp = span(ROOT, "s")
    sp.update(fields)
    return body(traces(sp))


def test_attribute_value_types_match_protobuf() -> None:
    values = {"s": "x", "b": True, "i": 2**62, "d": 1.5, "arr": ["a", 1, False], "kv": {"k": {"n": [1.0]}},
              "bytes": b"\x00\xff", "empty": None}
    doc = traces(span(ROOT, "typed", values))
    from_json = decode_traces_json(body(doc)).spans[0]
    from_pb = decode_traces_pb(to_protobuf(doc)).spans[0]
    assert from_json == from_pb
    assert from_json.attributes == values
    assert type(from_json.attributes["d"]) is float and type(from_json.attributes["i"]) is int


def test_special_doubles_and_big_ints() -> None:
    raw = one_span(attributes=[{"key": "nan", "value": {"doubleValue": "NaN"}},
                               {"key": "inf", "value": {"doubleValue": "-Infinity"}},
                               {"key": "big", "value": {"intValue": 9007199254740993}},
                               {"key": "neg", "value": {"intValue": "-5"}}])
    attrs = decode_traces_json(raw).spans[0].attributes
    assert math.isnan(attrs["nan"]) and attrs["inf"] == -math.inf
    assert attrs["big"] == 9007199254740993 and attrs["neg"] == -5


@pytest.mark.parametrize("fields", [
    {"startTimeUnixNano": "x"}, {"startTimeUnixNano": 1.5}, {"startTimeUnixNano": -1}, {"kind": "abc"},
    {"kind": True}, {"name": 5}, {"attributes": {}}, {"attributes": [{"key": 1}]},
    {"attributes": [{"key": "k", "value": {"intValue": "1.5"}}]},
    {"attributes": [{"key": "k", "value": {"boolValue": "yes"}}]},
    {"attributes": [{"key": "k", "value": {"bytesValue": "***"}}]},
    {"status": {"code": "STATUS_CODE_MAYBE"}}, {"traceId": 5}, {"events": {}},
])
def test_wrong_types_are_400(fields: dict[str, Any]) -> None:
    with pytest.raises(DecodeError) as info:
        decode_traces_json(one_span(**fields))
    assert "resourceSpans[0].scopeSpans[0].spans[0]" in str(info.value)


def test_id_problems_reject_or_demote() -> None:
    doc = traces(span("zz" * 8, "not hex"), span(ROOT, "ok", parent="abc"), span(CHILD, "short trace",
                 trace_id=TRACE[:30]), span("0" * 16, "zero span"))
    decoded = decode_traces_json(body(doc))
    assert [s.name for s in decoded.spans] == ["ok"]
    assert decoded.spans[0].parent_span_id == ""  # a bad parent id makes a root, with a warning
    assert decoded.rejected == 3
    assert any("parent_span_id" in w for w in decoded.warnings)


def test_duplicate_spans_in_one_request_keep_the_first() -> None:
    doc = traces(span(ROOT, "first"), span(ROOT, "second"))
    assert [s.name for s in decode_traces_json(body(doc)).spans] == ["first"]
    assert [s.name for s in decode_traces_pb(to_protobuf(doc)).spans] == ["first"]


def test_same_span_id_in_another_trace_is_another_span() -> None:
    doc = traces(span(ROOT, "a"), span(ROOT, "b", trace_id="1" * 32))
    assert len(decode_traces_json(body(doc)).spans) == 2


def test_attribute_cap_counts_dropped() -> None:
    many = {f"k{i}": i for i in range(1500)}
    decoded = decode_traces_json(body(traces(span(ROOT, "many", many)))).spans[0]
    assert len(decoded.attributes) == 1024 and decoded.dropped_attributes_count == 476


def test_duplicate_attribute_keys_last_wins() -> None:
    raw = one_span(attributes=[{"key": "k", "value": {"stringValue": "a"}},
                               {"key": "k", "value": {"stringValue": "b"}}])
    assert decode_traces_json(raw).spans[0].attributes == {"k": "b"}


def test_log_records_keep_bad_correlation_out() -> None:
    doc = logs(log_record("a", trace_id="12", span_id=ROOT), log_record("b", trace_id=TRACE, span_id=""),
               log_record("c", trace_id=TRACE, span_id=ROOT))
    records = decode_logs_json(body(doc)).records
    assert [(r.trace_id, r.span_id) for r in records] == [("", ""), (TRACE, ""), (TRACE, ROOT)]
    assert [(r.trace_id, r.span_id) for r in decode_logs_pb(to_protobuf(doc, "logs")).records] == \
        [(r.trace_id, r.span_id) for r in records]


def test_log_enum_names_and_event_name() -> None:
    raw = body(logs({"timeUnixNano": str(T0), "severityNumber": "SEVERITY_NUMBER_WARN", "eventName": "x.y",
                     "body": {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": 1}}]}}}))
    record = decode_logs_json(raw).records[0]
    assert (record.severity_number, record.event_name, record.body) == (13, "x.y", {"a": 1})


def test_metric_points_all_kinds() -> None:
    doc = sum_metric("m", [point(3), point(2.5)], temporality=2)
    doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"].append(
        {"name": "h", "histogram": {"dataPoints": [{"count": "3", "sum": 1.5, "timeUnixNano": str(T0)},
                                                   {"count": "1", "timeUnixNano": str(T0)}]}})
    doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"].append(
        {"name": "", "gauge": {"dataPoints": [point(1)]}})
    doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"].append({"name": "novalue", "gauge": {"dataPoints": [{}]}})
    for decoded in (decode_metrics_json(body(doc)), decode_metrics_pb(to_protobuf(doc, "metrics"))):
        assert [(p.metric_name, p.point_kind, p.value) for p in decoded.points] == [
            ("m", "sum", 3), ("m", "sum", 2.5), ("h", "histogram", 1.5), ("h", "histogram", None)]
        assert decoded.rejected == 2
        assert decoded.points[0].aggregation_temporality == 2


# ------------------------------------------------------------------ no input answers 500

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "attributes", "key", "value",
                         "stringValue", "intValue", "arrayValue", "kvlistValue", "values", "kind", "status",
                         "resourceLogs", "scopeLogs", "logRecords", "body", "resourceMetrics", "scopeMetrics",
                         "metrics", "sum", "dataPoints", "asInt", "name", "startTimeUnixNano"]) | st.text(max_size=5),
        children, max_size=5),
    max_leaves=30,
)


def _map_any(signal: str, encoding: str, raw: bytes) -> None:
    with contextlib.suppress(DecodeError):  # the only permitted failure: a 400
        map_request(signal, encoding, raw, tenant="t", memo=OtlpMemo(), prices=prices(), now_ns=T0)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=JSON_VALUES, signal=st.sampled_from(["traces", "logs", "metrics"]))
def test_no_json_input_crashes_the_mapper(doc: Any, signal: str) -> None:
    try:
        raw = json.dumps(doc).encode()
    except (ValueError, OverflowError):
        return
    _map_any(signal, "json", raw)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=400), signal=st.sampled_from(["traces", "logs", "metrics"]))
def test_no_protobuf_input_crashes_the_mapper(raw: bytes, signal: str) -> None:
    _map_any(signal, "protobuf", raw)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_valid_protobuf_never_crashes(data: st.DataObject) -> None:
    good = bytearray(to_protobuf(traces(span(ROOT, "chat", {"gen_ai.operation.name": "chat", "n": 3}))))
    for _ in range(data.draw(st.integers(1, 6))):
        good[data.draw(st.integers(0, len(good) - 1))] = data.draw(st.integers(0, 255))
    _map_any("traces", "protobuf", bytes(good))
