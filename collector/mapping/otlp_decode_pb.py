"""Decode OTLP protobuf export requests (traces, logs, metrics) into the shared representation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.mapping.otlp_decode_common import (
    DEPTH_MARKER,
    IdProblems,
    check_log_ids,
    check_span_ids,
    parent_id_or_root,
)
from collector.mapping.otlp_model import (
    MAX_ANY_DEPTH,
    MAX_ATTRIBUTES,
    Attributes,
    AttrValue,
    DecodedLogs,
    DecodedMetrics,
    DecodedTraces,
    DecodeError,
    LogRecord,
    MetricPoint,
    Resource,
    Scope,
    Span,
    SpanEvent,
    SpanLink,
)

__all__ = ("decode_logs_pb", "decode_metrics_pb", "decode_traces_pb")

_SCALARS = frozenset({"string_value", "int_value", "bool_value", "double_value"})


def decode_traces_pb(body: bytes) -> DecodedTraces:
    """Parse an ``ExportTraceServiceRequest``; bad spans are rejected one by one (partial success)."""
    request = _parse(ExportTraceServiceRequest, body)
    out = DecodedTraces()
    problems = IdProblems()
    seen: set[tuple[str, str]] = set()
    for resource, scope, spans in _scopes(request.resource_spans, "scope_spans", "spans"):
        for sp in spans:
            trace_hex = sp.trace_id.hex()
            span_hex = sp.span_id.hex()
            reason = check_span_ids(trace_hex, span_hex)
            if reason is not None:
                out.rejected += 1
                out.errors.append(reason)
                continue
            key = (trace_hex, span_hex)
            if key in seen:  # duplicate inside one request: keep the first (#25)
                continue
            seen.add(key)
            attrs, dropped = _attributes(sp.attributes)
            status = sp.status
            out.spans.append(Span(
                resource=resource,
                scope=scope,
                trace_id=trace_hex,
                span_id=span_hex,
                parent_span_id=parent_id_or_root(sp.parent_span_id.hex(), problems),
                name=sp.name,
                kind=sp.kind,
                start_time_unix_nano=sp.start_time_unix_nano,
                end_time_unix_nano=sp.end_time_unix_nano,
                attributes=attrs,
                status_code=status.code,
                status_message=status.message,
                trace_state=sp.trace_state,
                flags=sp.flags,
                events=tuple(_span_events(sp.events)) if sp.events else (),
                links=tuple(_span_links(sp.links)) if sp.links else (),
                dropped_attributes_count=sp.dropped_attributes_count + dropped,
                dropped_events_count=sp.dropped_events_count,
                dropped_links_count=sp.dropped_links_count,
            ))
    out.warnings.extend(problems.messages())
    return out


def decode_logs_pb(body: bytes) -> DecodedLogs:
    """Parse an ``ExportLogsServiceRequest``; unusable trace/span ids only drop the correlation."""
    request = _parse(ExportLogsServiceRequest, body)
    out = DecodedLogs()
    problems = IdProblems()
    for resource, scope, records in _scopes(request.resource_logs, "scope_logs", "log_records"):
        for lr in records:
            attrs, dropped = _attributes(lr.attributes)
            trace_hex, span_hex = check_log_ids(
                bytes(lr.trace_id).hex(), bytes(lr.span_id).hex(), problems
            )
            out.records.append(LogRecord(
                resource=resource,
                scope=scope,
                time_unix_nano=lr.time_unix_nano,
                observed_time_unix_nano=lr.observed_time_unix_nano,
                severity_number=lr.severity_number,
                severity_text=lr.severity_text,
                body=_any(lr.body, 0) if lr.HasField("body") else None,
                attributes=attrs,
                trace_id=trace_hex,
                span_id=span_hex,
                event_name=lr.event_name,
                flags=lr.flags,
                dropped_attributes_count=lr.dropped_attributes_count + dropped,
            ))
    out.warnings.extend(problems.messages())
    return out


def decode_metrics_pb(body: bytes) -> DecodedMetrics:
    """Parse an ``ExportMetricsServiceRequest`` into one ``MetricPoint`` per data point."""
    request = _parse(ExportMetricsServiceRequest, body)
    out = DecodedMetrics()
    for resource, scope, metrics in _scopes(request.resource_metrics, "scope_metrics", "metrics"):
        for metric in metrics:
            _metric_points(metric, resource, scope, out)
    return out


# --------------------------------------------------------------------------- helpers


def _parse(cls: Any, body: bytes) -> Any:
    try:
        return cls.FromString(body)
    except RecursionError:  # pragma: no cover - upb enforces its own depth limit first
        raise DecodeError("invalid protobuf body: nested too deeply") from None
    except Exception as exc:  # google.protobuf.message.DecodeError (no type stubs installed)
        text = str(exc)
        if "UTF-8" in text:
            # upb rejects the whole message; OTLP requires valid UTF-8 in string fields (docs/otlp.md).
            raise DecodeError(f"invalid protobuf body: a string field is not valid UTF-8 ({text})") from None
        raise DecodeError(f"invalid protobuf body: {text or 'cannot parse'}") from None


def _any(v: Any, depth: int) -> AttrValue:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return v.int_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "double_value":
        return v.double_value
    if kind is None or kind == "string_value_strindex":  # strindex is for profiles only
        return None
    if kind == "bytes_value":
        return bytes(v.bytes_value)
    if depth >= MAX_ANY_DEPTH:
        return DEPTH_MARKER
    if kind == "array_value":
        return [_any(x, depth + 1) for x in v.array_value.values]
    # kvlist_value
    return {kv.key: _any(kv.value, depth + 1) for kv in v.kvlist_value.values}


def _attributes(kvs: Sequence[Any]) -> tuple[Attributes, int]:
    """Attributes as a dict (duplicate keys: the last one wins) and how many were dropped.

    Scalars are read inline (``getattr`` with the oneof name): this loop is the hot path of
    protobuf decoding, about one microsecond per attribute with upb.
    """
    n = len(kvs)
    dropped = 0
    if n > MAX_ATTRIBUTES:
        dropped = n - MAX_ATTRIBUTES
        kvs = kvs[:MAX_ATTRIBUTES]
    out: Attributes = {}
    for kv in kvs:
        v = kv.value
        kind = v.WhichOneof("value")
        if kind in _SCALARS:
            out[kv.key] = getattr(v, kind)
        else:
            out[kv.key] = _any(v, 0)
    return out, dropped


def _scopes(resources: Iterable[Any], scope_field: str, item_field: str) -> Iterator[tuple[Resource, Scope, Any]]:
    """Each scope's decoded resource and scope with its repeated item field (spans, log records, metrics).

    The caller loops over the items itself: that loop is the hot path.
    """
    for r in resources:
        resource = _resource(r.resource, r.schema_url)
        for s in getattr(r, scope_field):
            yield resource, _scope(s.scope, s.schema_url), getattr(s, item_field)


def _resource(res: Any, schema_url: str) -> Resource:
    attrs, dropped = _attributes(res.attributes)
    return Resource(attrs, res.dropped_attributes_count + dropped, schema_url)


def _scope(scope: Any, schema_url: str) -> Scope:
    attrs, dropped = _attributes(scope.attributes)
    return Scope(scope.name, scope.version, attrs, scope.dropped_attributes_count + dropped, schema_url)


def _span_events(events: Iterable[Any]) -> Iterable[SpanEvent]:
    for ev in events:
        attrs, dropped = _attributes(ev.attributes)
        yield SpanEvent(ev.time_unix_nano, ev.name, attrs, ev.dropped_attributes_count + dropped)


def _span_links(links: Iterable[Any]) -> Iterable[SpanLink]:
    for ln in links:
        trace_hex = bytes(ln.trace_id).hex()
        span_hex = bytes(ln.span_id).hex()
        if check_span_ids(trace_hex, span_hex) is not None:
            continue  # a link to nothing: drop the link, keep the span
        attrs, dropped = _attributes(ln.attributes)
        yield SpanLink(trace_hex, span_hex, ln.trace_state, attrs, ln.dropped_attributes_count + dropped,
                       ln.flags)


def _metric_points(metric: Any, resource: Resource, scope: Scope, out: DecodedMetrics) -> None:
    data = metric.WhichOneof("data")
    if data is None:
        return  # a metric without data carries no points
    if not metric.name:
        body = getattr(metric, data)
        n = len(body.data_points)
        out.rejected += n
        out.errors.extend(["metric without a name"] * n)
        return
    body = getattr(metric, data)
    temporality = getattr(body, "aggregation_temporality", 0)
    monotonic = bool(getattr(body, "is_monotonic", False))
    for dp in body.data_points:
        attrs, _ = _attributes(dp.attributes)
        count: int | None = None
        value: int | float | None
        if data in ("gauge", "sum"):
            which = dp.WhichOneof("value")
            if which is None:
                out.rejected += 1
                out.errors.append(f"{metric.name}: number data point without a value")
                continue
            value = dp.as_int if which == "as_int" else dp.as_double
        elif data == "histogram":
            value = dp.sum if dp.HasField("sum") else None
            count = dp.count
        else:  # exponential_histogram, summary: accepted and counted, not mapped
            value = None
            count = dp.count
        out.points.append(MetricPoint(
            resource=resource,
            scope=scope,
            metric_name=metric.name,
            description=metric.description,
            unit=metric.unit,
            point_kind=data,
            attributes=attrs,
            start_time_unix_nano=dp.start_time_unix_nano,
            time_unix_nano=dp.time_unix_nano,
            value=value,
            count=count,
            aggregation_temporality=temporality,
            is_monotonic=monotonic,
        ))
