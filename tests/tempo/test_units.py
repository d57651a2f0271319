"""Pure parts of the Tempo API: the storage codec keeps every OTLP value type; the TraceQL parser's edges."""

from __future__ import annotations

import math

import pytest

from collector.mapping.otlp_model import Resource, Scope, Span, SpanEvent, SpanLink
from collector.tempo.codec import any_value_json, decode_stored, new_spans, traces_data
from collector.tempo.match import pushdown
from collector.tempo.traceql import (
    And,
    Cond,
    Duration,
    Enum,
    Field,
    SpansetAnd,
    TraceQLError,
    Unsupported,
    parse_duration,
    parse_legacy,
    parse_traceql,
)
from store.spans import SpanAnd, SpanCmp, SpanContains, SpanOr, StoredSpan

TRICKY = {
    "s": "tëxt \"quoted\" \\ \x00 nul", "i": -(2**63), "big": 2**63 - 1, "f": 1.0, "nan": float("nan"),
    "inf": float("inf"), "ninf": float("-inf"), "b": True, "bytes": b"\x00\xff", "none": None,
    "arr": [1, "x", 2.5, False, None, b"\x01"], "kv": {"inner": {"deep": [1, {"k": "v"}]}, "n": None},
    "looks_tagged": {"\x00x": 1},
}


def _span() -> Span:
    return Span(
        resource=Resource({"service.name": "svc", "r.bytes": b"\x02"}, 3, "https://schema/r"),
        scope=Scope("lib", "1.2", {"scope.attr": 5}, 1, "https://schema/s"),
        trace_id="0af7651916cd43dd8448eb211c80319c", span_id="b7ad6b7169203331", parent_span_id="",
        name="op", kind=5, start_time_unix_nano=1, end_time_unix_nano=2**63 - 1, attributes=dict(TRICKY),
        status_code=2, status_message="bad", trace_state="k=v", flags=0x301,
        events=(SpanEvent(7, "ev", {"x": b"\x03"}, 2),),
        links=(SpanLink("1" * 32, "2" * 16, "ts", {"l": 1.5}, 1, 0x100),),
        dropped_attributes_count=4, dropped_events_count=5, dropped_links_count=6,
    )


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def test_the_storage_codec_keeps_every_value_type() -> None:
    original = _span()
    (row,) = new_spans([original], {}, "t")
    assert (row.session_id, row.agent_id) == (f"trace-{original.trace_id}", "svc")   # no event: fallbacks
    stored = StoredSpan(row.tenant_id, row.trace_id, row.span_id, row.parent_span_id, row.session_id, row.agent_id,
                        row.service_name, row.name, row.kind, row.start_ns, row.end_ns, row.status_code,
                        row.resource_key, row.resource_json, row.body_json)
    (back,) = decode_stored([stored])
    assert _same(back.attributes, original.attributes)
    assert back.resource == original.resource and back.scope == original.scope
    assert back.events == original.events and back.links == original.links
    for name in ("status_code", "status_message", "trace_state", "flags", "kind", "start_time_unix_nano",
                 "end_time_unix_nano", "dropped_attributes_count", "dropped_events_count", "dropped_links_count"):
        assert getattr(back, name) == getattr(original, name), name
    pb = traces_data([back]).resource_spans[0].scope_spans[0].spans[0]
    kinds = {kv.key: kv.value.WhichOneof("value") for kv in pb.attributes}
    assert kinds == {"s": "string_value", "i": "int_value", "big": "int_value", "f": "double_value",
                     "nan": "double_value", "inf": "double_value", "ninf": "double_value", "b": "bool_value",
                     "bytes": "bytes_value", "none": None, "arr": "array_value", "kv": "kvlist_value",
                     "looks_tagged": "kvlist_value"}
    assert any_value_json(float("nan")) == {"doubleValue": "NaN"}
    assert any_value_json(2**62) == {"intValue": str(2**62)}


def test_times_beyond_int64_are_clamped() -> None:
    span = _span()
    span.end_time_unix_nano = 2**64 - 1
    (row,) = new_spans([span], {}, "t")
    assert row.end_ns == 2**63 - 1


def test_parser_shapes() -> None:
    assert parse_traceql("") is True
    assert parse_traceql('{ span."a b" = "x" }') == Cond(Field("span", "a b"), "=", "x")
    assert parse_traceql("{ .n = -3 }") == Cond(Field("any", "n"), "=", -3)
    assert parse_traceql("{ .n = 2.5 }") == Cond(Field("any", "n"), "=", 2.5)
    assert parse_traceql("{ span:duration > 1h30m }") == Cond(Field("intrinsic", "duration"), ">",
                                                             Duration(5_400_000_000_000))
    assert parse_traceql("{ trace:rootService = `a` }") == Cond(Field("intrinsic", "rootServiceName"), "=", "a")
    assert parse_traceql('{ .a = "\\u00e9\\n" }') == Cond(Field("any", "a"), "=", "é\n")
    q = parse_traceql("({ kind = client } && { status = error })")
    assert q == SpansetAnd((Cond(Field("intrinsic", "kind"), "=", Enum("client")),
                            Cond(Field("intrinsic", "status"), "=", Enum("error"))))
    assert parse_duration("1.5s") == 1_500_000_000 and parse_duration("250µs") == 250_000
    with pytest.raises(TraceQLError):
        parse_duration("5 minutes")


@pytest.mark.parametrize("text", ["{ .a = 1 } | by(.b)", "{ } >> { }", "{ .a - 1 = 0 }", "{ instrumentation.x = 1 }",
                                  "count_over_time()", "{ .a = 1 } !~ { .b = 1 }"])
def test_unsupported_constructs(text: str) -> None:
    with pytest.raises(Unsupported):
        parse_traceql(text)


def test_size_and_depth_are_bounded() -> None:
    with pytest.raises(TraceQLError, match="longer than"):
        parse_traceql("{" + " .a = 1 &&" * 2000 + " .b = 2 }")
    with pytest.raises(TraceQLError, match="nested"):
        parse_traceql("{ " + "(" * 65 + ".a = 1" + ")" * 65 + " }")
    assert parse_traceql("{ " + "(" * 60 + ".a = 1" + ")" * 60 + " }") == Cond(Field("any", "a"), "=", 1)
    assert isinstance(parse_traceql("{" + " .a = 1 &&" * 500 + " .b = 2 }"), And)   # long but flat is fine


def test_legacy_parameters() -> None:
    q = parse_legacy('service.name="my svc" status.code=error', "1s", None)
    assert q == And((Cond(Field("any", "service.name"), "tag=", "my svc"),
                     Cond(Field("intrinsic", "status"), "=", Enum("error")),
                     Cond(Field("intrinsic", "traceDuration"), ">=", Duration(1_000_000_000))))
    with pytest.raises(TraceQLError):
        parse_legacy("status.code=maybe", None, None)


def test_pushdown_is_a_superset_filter() -> None:
    q = parse_traceql('{ resource.service.name = "api" && span.model = "gpt" && duration > 1s && .x =~ "a.*" }')
    assert pushdown(q) == SpanAnd((SpanCmp("service_name", "=", "api"), SpanContains('"gpt"', "body"),
                                   SpanCmp("duration_ns", ">", 1_000_000_000)))
    # an OR with an unpushable side cannot restrict anything
    assert pushdown(parse_traceql('{ name = "a" || .x =~ "b" }')) is None
    assert pushdown(parse_traceql('{ name = "a" } || { status = error }')) == SpanOr(
        (SpanCmp("name", "=", "a"), SpanCmp("status_code", "=", 2)))
    assert pushdown(parse_traceql("{ false }")) == SpanOr(())
