"""Spans <-> storage: decoded OTLP spans to NewSpan rows, stored rows back to spans, OTLP protobuf and JSON.

Storage encoding (opaque to the store): ``body`` and the resource record are compact JSON. Attribute
values keep their OTLP type through JSON's own types (string, bool, int, double, array, kvlist,
null = empty AnyValue); the two things JSON cannot say are tagged with a one-key object whose key
starts with NUL: ``{"\\u0000b": base64}`` for bytes and ``{"\\u0000f": "NaN" | "Infinity" |
"-Infinity"}`` for non-finite doubles.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PbResource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Status, TracesData
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

from collector.mapping.otlp_model import Attributes, Resource, Scope, Span, SpanEvent, SpanLink
from store.spans import INT64_MAX, NewSpan, StoredSpan

__all__ = (
    "any_value_json",
    "attributes_json",
    "decode_stored",
    "new_spans",
    "traces_data",
    "traces_json",
)

_BYTES: Final = "\x00b"
_FLOAT: Final = "\x00f"


# ------------------------------------------------------------------ typed values <-> JSON


def _non_finite(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _enc(value: Any) -> Any:
    if isinstance(value, str | bool | int) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {_FLOAT: _non_finite(value)}
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return [_enc(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _enc(v) for k, v in value.items()}
    return str(value)


def _dec(value: Any) -> Any:
    if isinstance(value, list):
        return [_dec(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            if _BYTES in value:
                return base64.b64decode(value[_BYTES])
            if _FLOAT in value:
                return float(value[_FLOAT].replace("Infinity", "inf"))
        return {k: _dec(v) for k, v in value.items()}
    return value


def _enc_attrs(attrs: Attributes) -> dict[str, Any]:
    return {k: _enc(v) for k, v in attrs.items()}


def _dec_attrs(raw: Mapping[str, Any] | None) -> Attributes:
    return {k: _dec(v) for k, v in (raw or {}).items()}


def _clamp(ns: int) -> int:
    return max(0, min(ns, INT64_MAX))


# ------------------------------------------------------------------ ingest: decoded spans -> rows


def _resource_json(resource: Resource, scope: Scope) -> str:
    doc: dict[str, Any] = {"r": _enc_attrs(resource.attributes),
                           "s": [scope.name, scope.version, _enc_attrs(scope.attributes)]}
    if resource.dropped_attributes_count:
        doc["rd"] = resource.dropped_attributes_count
    if resource.schema_url:
        doc["ru"] = resource.schema_url
    if scope.dropped_attributes_count:
        doc["sd"] = scope.dropped_attributes_count
    if scope.schema_url:
        doc["su"] = scope.schema_url
    return orjson.dumps(doc).decode()


def _body_json(span: Span) -> str:
    doc: dict[str, Any] = {"a": _enc_attrs(span.attributes)}
    if span.events:
        doc["e"] = [[e.time_unix_nano, e.name, _enc_attrs(e.attributes), e.dropped_attributes_count]
                    for e in span.events]
    if span.links:
        doc["l"] = [[k.trace_id, k.span_id, k.trace_state, _enc_attrs(k.attributes), k.dropped_attributes_count,
                     k.flags] for k in span.links]
    if span.status_message:
        doc["sm"] = span.status_message
    if span.trace_state:
        doc["ts"] = span.trace_state
    if span.flags:
        doc["f"] = span.flags
    dropped = [span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count]
    if any(dropped):
        doc["d"] = dropped
    return orjson.dumps(doc).decode()


def new_spans(spans: Sequence[Span], owners: Mapping[tuple[str, str], tuple[str, str]], tenant: str) -> list[NewSpan]:
    """The rows to store for the decoded spans of one request, owned by the sessions of their events.

    ``owners`` maps (traceId, spanId) to the (session, agent) of the events the span became
    (``MappingResult.owners``); a span without events falls back to ``trace-<id>`` and its service.
    """
    if not spans:
        return []
    resources: dict[tuple[int, int], tuple[str, str]] = {}
    out: list[NewSpan] = []
    for span in spans:
        rkey = (id(span.resource), id(span.scope))
        res = resources.get(rkey)
        if res is None:
            text = _resource_json(span.resource, span.scope)
            res = resources[rkey] = (hashlib.blake2b(text.encode(), digest_size=16).hexdigest(), text)
        service = span.resource.service_name or ""
        fallback = (f"trace-{span.trace_id}", service or "otel-agent")
        session, agent = owners.get((span.trace_id, span.span_id)) or fallback
        out.append(NewSpan(
            tenant_id=tenant, trace_id=span.trace_id, span_id=span.span_id, parent_span_id=span.parent_span_id,
            session_id=session, agent_id=agent, service_name=service, name=span.name, kind=span.kind,
            start_ns=_clamp(span.start_time_unix_nano), end_ns=_clamp(span.end_time_unix_nano),
            status_code=span.status_code, resource_key=res[0], resource_json=res[1], body_json=_body_json(span),
        ))
    return out


# ------------------------------------------------------------------ read: rows -> decoded spans


def _decode_resource(text: str) -> tuple[Resource, Scope]:
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        doc = {}
    name, version, attrs = (doc.get("s") or ["", "", {}])[:3]
    resource = Resource(_dec_attrs(doc.get("r")), int(doc.get("rd", 0)), str(doc.get("ru", "")))
    scope = Scope(str(name), str(version), _dec_attrs(attrs), int(doc.get("sd", 0)), str(doc.get("su", "")))
    return resource, scope


def decode_stored(rows: Sequence[StoredSpan], cache: dict[str, tuple[Resource, Scope]] | None = None) -> list[Span]:
    """Stored rows back to decoded spans (resources decoded once per key via ``cache``)."""
    cache = {} if cache is None else cache
    out: list[Span] = []
    for row in rows:
        rs = cache.get(row.resource_key)
        if rs is None:
            rs = cache[row.resource_key] = _decode_resource(row.resource_json)
        try:
            doc = orjson.loads(row.body_json)
        except orjson.JSONDecodeError:
            doc = {}
        dropped = doc.get("d") or [0, 0, 0]
        out.append(Span(
            resource=rs[0], scope=rs[1], trace_id=row.trace_id, span_id=row.span_id,
            parent_span_id=row.parent_span_id, name=row.name, kind=row.kind, start_time_unix_nano=row.start_ns,
            end_time_unix_nano=row.end_ns, attributes=_dec_attrs(doc.get("a")), status_code=row.status_code,
            status_message=str(doc.get("sm", "")), trace_state=str(doc.get("ts", "")), flags=int(doc.get("f", 0)),
            events=tuple(SpanEvent(int(t), str(n), _dec_attrs(a), int(d)) for t, n, a, d in doc.get("e", ())),
            links=tuple(SpanLink(str(t), str(s), str(st), _dec_attrs(a), int(d), int(f))
                        for t, s, st, a, d, f in doc.get("l", ())),
            dropped_attributes_count=int(dropped[0]), dropped_events_count=int(dropped[1]),
            dropped_links_count=int(dropped[2]),
        ))
    return out


# ------------------------------------------------------------------ OTLP protobuf


def _any_pb(value: Any) -> AnyValue:
    if value is None:
        return AnyValue()
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[_any_pb(v) for v in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=_kv_pb(value)))
    return AnyValue(string_value=str(value))


def _kv_pb(attrs: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=_any_pb(v)) for k, v in attrs.items()]


def _span_pb(s: Span) -> PbSpan:
    return PbSpan(
        trace_id=bytes.fromhex(s.trace_id), span_id=bytes.fromhex(s.span_id), trace_state=s.trace_state,
        parent_span_id=bytes.fromhex(s.parent_span_id) if s.parent_span_id else b"", flags=s.flags,
        name=s.name, kind=s.kind,  # type: ignore[arg-type]
        start_time_unix_nano=s.start_time_unix_nano, end_time_unix_nano=s.end_time_unix_nano,
        attributes=_kv_pb(s.attributes), dropped_attributes_count=s.dropped_attributes_count,
        events=[PbSpan.Event(time_unix_nano=e.time_unix_nano, name=e.name, attributes=_kv_pb(e.attributes),
                             dropped_attributes_count=e.dropped_attributes_count) for e in s.events],
        dropped_events_count=s.dropped_events_count,
        links=[PbSpan.Link(trace_id=bytes.fromhex(k.trace_id), span_id=bytes.fromhex(k.span_id),
                           trace_state=k.trace_state, attributes=_kv_pb(k.attributes),
                           dropped_attributes_count=k.dropped_attributes_count, flags=k.flags) for k in s.links],
        dropped_links_count=s.dropped_links_count,
        status=Status(code=s.status_code, message=s.status_message),  # type: ignore[arg-type]
    )


def _grouped(spans: Sequence[Span]) -> list[tuple[Resource, list[tuple[Scope, list[Span]]]]]:
    """Spans grouped by resource, then scope, in first-seen order."""
    resources: dict[int, tuple[Resource, dict[int, tuple[Scope, list[Span]]]]] = {}
    for s in spans:
        entry = resources.setdefault(id(s.resource), (s.resource, {}))
        entry[1].setdefault(id(s.scope), (s.scope, []))[1].append(s)
    return [(res, list(scopes.values())) for res, scopes in resources.values()]


def traces_data(spans: Sequence[Span]) -> TracesData:
    """``TracesData`` (wire-identical to Tempo's ``tempopb.Trace``: ``repeated ResourceSpans = 1``)."""
    out = TracesData()
    for resource, scopes in _grouped(spans):
        rs = ResourceSpans(resource=PbResource(attributes=_kv_pb(resource.attributes),
                                               dropped_attributes_count=resource.dropped_attributes_count),
                           schema_url=resource.schema_url)
        for scope, members in scopes:
            rs.scope_spans.append(ScopeSpans(
                scope=InstrumentationScope(name=scope.name, version=scope.version, attributes=_kv_pb(scope.attributes),
                                           dropped_attributes_count=scope.dropped_attributes_count),
                spans=[_span_pb(s) for s in members], schema_url=scope.schema_url,
            ))
        out.resource_spans.append(rs)
    return out


# ------------------------------------------------------------------ OTLP JSON (hex ids, int64 as strings)


def any_value_json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"doubleValue": value}
        return {"doubleValue": _non_finite(value)}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value_json(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": attributes_json(value)}}
    return {"stringValue": str(value)}


def attributes_json(attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value_json(v)} for k, v in attrs.items()]


def _span_json(s: Span) -> dict[str, Any]:
    doc: dict[str, Any] = {"traceId": s.trace_id, "spanId": s.span_id}
    if s.trace_state:
        doc["traceState"] = s.trace_state
    if s.parent_span_id:
        doc["parentSpanId"] = s.parent_span_id
    if s.flags:
        doc["flags"] = s.flags
    doc.update(name=s.name, kind=s.kind, startTimeUnixNano=str(s.start_time_unix_nano),
               endTimeUnixNano=str(s.end_time_unix_nano), attributes=attributes_json(s.attributes))
    if s.dropped_attributes_count:
        doc["droppedAttributesCount"] = s.dropped_attributes_count
    if s.events:
        doc["events"] = [{"timeUnixNano": str(e.time_unix_nano), "name": e.name,
                          "attributes": attributes_json(e.attributes),
                          **({"droppedAttributesCount": e.dropped_attributes_count}
                             if e.dropped_attributes_count else {})} for e in s.events]
    if s.dropped_events_count:
        doc["droppedEventsCount"] = s.dropped_events_count
    if s.links:
        doc["links"] = [{"traceId": k.trace_id, "spanId": k.span_id, "traceState": k.trace_state,
                         "attributes": attributes_json(k.attributes), "flags": k.flags} for k in s.links]
    if s.dropped_links_count:
        doc["droppedLinksCount"] = s.dropped_links_count
    status: dict[str, Any] = {}
    if s.status_code:
        status["code"] = s.status_code
    if s.status_message:
        status["message"] = s.status_message
    doc["status"] = status
    return doc


def traces_json(spans: Sequence[Span]) -> dict[str, Any]:
    """OTLP/JSON ``TracesData``: ``{"resourceSpans": [...]}`` with hex ids and int64 as strings."""
    out: list[dict[str, Any]] = []
    for resource, scopes in _grouped(spans):
        rdoc: dict[str, Any] = {"attributes": attributes_json(resource.attributes)}
        if resource.dropped_attributes_count:
            rdoc["droppedAttributesCount"] = resource.dropped_attributes_count
        scope_docs = []
        for scope, members in scopes:
            sdoc: dict[str, Any] = {"scope": {"name": scope.name, "version": scope.version,
                                              "attributes": attributes_json(scope.attributes)},
                                    "spans": [_span_json(s) for s in members]}
            if scope.schema_url:
                sdoc["schemaUrl"] = scope.schema_url
            scope_docs.append(sdoc)
        entry: dict[str, Any] = {"resource": rdoc, "scopeSpans": scope_docs}
        if resource.schema_url:
            entry["schemaUrl"] = resource.schema_url
        out.append(entry)
    return {"resourceSpans": out}
