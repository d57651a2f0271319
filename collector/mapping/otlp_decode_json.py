"""Decode OTLP/JSON export requests by hand (orjson + a walk) into the shared representation.

OTLP/JSON differs from the proto3 JSON mapping (otlp-receiver.md §1.4): trace and span ids
are hex (any case), 64-bit integers come as strings or numbers, enums as integers (names are
accepted leniently, unknown names are an error), and keys may be lowerCamelCase or the
original snake_case. Unknown fields are ignored at every level. Wrong value types are a
``DecodeError`` (400); bad ids only reject their span (partial success).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import orjson

from collector.mapping.otlp_decode_common import (
    IdProblems,
    check_log_ids,
    check_span_ids,
    parent_id_or_root,
)
from collector.mapping.otlp_json_values import (
    any_value,
    as_object,
    attributes,
    double,
    dropped,
    enum,
    get,
    id_hex,
    int_value,
    seq,
    string,
    uint,
)
from collector.mapping.otlp_model import (
    DecodedLogs,
    DecodedMetrics,
    DecodedTraces,
    DecodeError,
    LogRecord,
    MetricPoint,
    PointKind,
    Resource,
    Scope,
    Span,
    SpanEvent,
    SpanLink,
)

__all__ = ("decode_logs_json", "decode_metrics_json", "decode_traces_json", "load_json")

_SPAN_KINDS: Final = {
    "SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3, "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5,
}
_STATUS_CODES: Final = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_SEVERITIES: Final = {"SEVERITY_NUMBER_UNSPECIFIED": 0} | {
    f"SEVERITY_NUMBER_{name}{suffix}": base + i
    for base, name in ((1, "TRACE"), (5, "DEBUG"), (9, "INFO"), (13, "WARN"), (17, "ERROR"), (21, "FATAL"))
    for i, suffix in enumerate(("", "2", "3", "4"))
}
_TEMPORALITIES: Final = {
    "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0, "AGGREGATION_TEMPORALITY_DELTA": 1,
    "AGGREGATION_TEMPORALITY_CUMULATIVE": 2,
}
_TRACE_KEYS: Final = ("resourceSpans", "resource_spans", "scopeSpans", "scope_spans", "spans", "spans")
_LOG_KEYS: Final = ("resourceLogs", "resource_logs", "scopeLogs", "scope_logs", "logRecords", "log_records")
_METRIC_KEYS: Final = (
    "resourceMetrics", "resource_metrics", "scopeMetrics", "scope_metrics", "metrics", "metrics",
)
_POINT_KINDS: Final[tuple[tuple[str, str, PointKind], ...]] = (
    ("gauge", "gauge", "gauge"),
    ("sum", "sum", "sum"),
    ("histogram", "histogram", "histogram"),
    ("exponentialHistogram", "exponential_histogram", "exponential_histogram"),
    ("summary", "summary", "summary"),
)


def load_json(body: bytes) -> dict[str, Any]:
    """Parse the body as a JSON object (``DecodeError`` otherwise; an empty body is an error)."""
    if not body:
        raise DecodeError("empty JSON body (send {} for an empty export)")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DecodeError("the JSON body must be an object")
    return doc


def decode_traces_json(body: bytes) -> DecodedTraces:
    """Decode an OTLP/JSON ``ExportTraceServiceRequest``."""
    doc = load_json(body)
    out = DecodedTraces()
    problems = IdProblems()
    seen: set[tuple[str, str]] = set()
    for resource, scope, where, span_list in _scopes(doc, _TRACE_KEYS):
        for k, sp in enumerate(span_list):
            try:
                span = _span(as_object(sp, ""), resource, scope, out, problems)
            except DecodeError as exc:
                raise _located(f"{where}[{k}]", exc) from None
            if span is None:
                continue
            key = (span.trace_id, span.span_id)
            if key not in seen:  # duplicates inside one request: keep the first (#25)
                seen.add(key)
                out.spans.append(span)
    out.warnings.extend(problems.messages())
    return out


def decode_logs_json(body: bytes) -> DecodedLogs:
    """Decode an OTLP/JSON ``ExportLogsServiceRequest``."""
    doc = load_json(body)
    out = DecodedLogs()
    problems = IdProblems()
    for resource, scope, where, record_list in _scopes(doc, _LOG_KEYS):
        for k, lr in enumerate(record_list):
            try:
                out.records.append(_log_record(as_object(lr, ""), resource, scope, problems))
            except DecodeError as exc:
                raise _located(f"{where}[{k}]", exc) from None
    out.warnings.extend(problems.messages())
    return out


def decode_metrics_json(body: bytes) -> DecodedMetrics:
    """Decode an OTLP/JSON ``ExportMetricsServiceRequest`` into one point per data point."""
    doc = load_json(body)
    out = DecodedMetrics()
    for resource, scope, where, metric_list in _scopes(doc, _METRIC_KEYS):
        for k, metric in enumerate(metric_list):
            try:
                _metric(as_object(metric, ""), resource, scope, out)
            except DecodeError as exc:
                raise _located(f"{where}[{k}]", exc) from None
    return out


# --------------------------------------------------------------------------- structure


def _scopes(
    doc: dict[str, Any], keys: tuple[str, str, str, str, str, str]
) -> Iterator[tuple[Resource, Scope, str, list[Any]]]:
    """Each scope's resource, scope, JSON path of its item array, and the items themselves.

    ``keys`` is (resource camel, snake, scope camel, snake, item camel, snake). A malformed
    resource or scope is a ``DecodeError`` located at it; items are left to the caller, whose
    loop over them is the hot path.
    """
    resource_camel, resource_snake, scope_camel, scope_snake, item_camel, item_snake = keys
    for i, r in enumerate(seq(doc, resource_camel, resource_snake, "")):
        where = f"{resource_camel}[{i}]"
        try:
            r_obj = as_object(r, "")
            resource = _resource(r_obj)
            scope_list = seq(r_obj, scope_camel, scope_snake, "")
        except DecodeError as exc:
            raise _located(where, exc) from None
        for j, s in enumerate(scope_list):
            where_s = f"{where}.{scope_camel}[{j}]"
            try:
                s_obj = as_object(s, "")
                scope = _scope(s_obj)
                item_list = seq(s_obj, item_camel, item_snake, "")
            except DecodeError as exc:
                raise _located(where_s, exc) from None
            yield resource, scope, f"{where_s}.{item_camel}", item_list


def _located(where: str, exc: DecodeError) -> DecodeError:
    """The same error with the JSON path of the element being decoded in front."""
    return DecodeError(f"{where}: {exc}")


def _resource(container: dict[str, Any]) -> Resource:
    schema_url = string(container, "schemaUrl", "schema_url")
    res = container.get("resource")
    if res is None:
        return Resource({}, 0, schema_url)
    res = as_object(res, "resource")
    attrs, capped = attributes(res)
    return Resource(attrs, dropped(res) + capped, schema_url)


def _scope(container: dict[str, Any]) -> Scope:
    schema_url = string(container, "schemaUrl", "schema_url")
    scope = container.get("scope")
    if scope is None:
        return Scope(schema_url=schema_url)
    scope = as_object(scope, "scope")
    attrs, capped = attributes(scope)
    return Scope(string(scope, "name", "name"), string(scope, "version", "version"), attrs,
                 dropped(scope) + capped, schema_url)


def _span(sp: dict[str, Any], resource: Resource, scope: Scope, out: DecodedTraces,
          problems: IdProblems) -> Span | None:
    trace_hex = id_hex(get(sp, "traceId", "trace_id"), "traceId", 16)
    span_hex = id_hex(get(sp, "spanId", "span_id"), "spanId", 8)
    # Decode everything first: a wrong type anywhere is a 400 even on a span with bad ids.
    parent_raw = id_hex(get(sp, "parentSpanId", "parent_span_id"), "parentSpanId", 8)
    attrs, capped = attributes(sp)
    status = get(sp, "status", "status")
    status = as_object(status, "status") if status is not None else {}
    events = tuple(_span_event(as_object(ev, "events"))
                   for ev in seq(sp, "events", "events", ""))
    links = tuple(link for ln in seq(sp, "links", "links", "")
                  if (link := _span_link(as_object(ln, "links"))) is not None)
    if parent_raw is None:
        problems.bad_parents += 1
        parent = ""
    else:
        parent = parent_id_or_root(parent_raw, problems)
    span = Span(
        resource=resource,
        scope=scope,
        trace_id=trace_hex or "",
        span_id=span_hex or "",
        parent_span_id=parent,
        name=string(sp, "name", "name"),
        kind=enum(sp, "kind", "kind", _SPAN_KINDS),
        start_time_unix_nano=uint(sp, "startTimeUnixNano", "start_time_unix_nano"),
        end_time_unix_nano=uint(sp, "endTimeUnixNano", "end_time_unix_nano"),
        attributes=attrs,
        status_code=enum(status, "code", "code", _STATUS_CODES),
        status_message=string(status, "message", "message"),
        trace_state=string(sp, "traceState", "trace_state"),
        flags=uint(sp, "flags", "flags", 32),
        events=events,
        links=links,
        dropped_attributes_count=dropped(sp) + capped,
        dropped_events_count=uint(sp, "droppedEventsCount", "dropped_events_count", 32),
        dropped_links_count=uint(sp, "droppedLinksCount", "dropped_links_count", 32),
    )
    if trace_hex is None or span_hex is None:
        reason: str | None = f"{'traceId' if trace_hex is None else 'spanId'} is not hex"
    else:
        reason = check_span_ids(trace_hex, span_hex)
    if reason is not None:
        out.rejected += 1
        out.errors.append(reason)
        return None
    return span


def _span_event(ev: dict[str, Any]) -> SpanEvent:
    attrs, capped = attributes(ev)
    return SpanEvent(uint(ev, "timeUnixNano", "time_unix_nano"), string(ev, "name", "name"), attrs,
                     dropped(ev) + capped)


def _span_link(ln: dict[str, Any]) -> SpanLink | None:
    trace_hex = id_hex(get(ln, "traceId", "trace_id"), "traceId", 16)
    span_hex = id_hex(get(ln, "spanId", "span_id"), "spanId", 8)
    attrs, capped = attributes(ln)
    if trace_hex is None or span_hex is None or check_span_ids(trace_hex, span_hex) is not None:
        return None
    return SpanLink(trace_hex, span_hex, string(ln, "traceState", "trace_state"), attrs,
                    dropped(ln) + capped, uint(ln, "flags", "flags", 32))


def _log_record(lr: dict[str, Any], resource: Resource, scope: Scope, problems: IdProblems) -> LogRecord:
    attrs, capped = attributes(lr)
    raw_trace = id_hex(get(lr, "traceId", "trace_id"), "traceId", 16)
    raw_span = id_hex(get(lr, "spanId", "span_id"), "spanId", 8)
    trace_hex, span_hex = check_log_ids(
        "?" if raw_trace is None else raw_trace, "?" if raw_span is None else raw_span, problems
    )
    return LogRecord(
        resource=resource,
        scope=scope,
        time_unix_nano=uint(lr, "timeUnixNano", "time_unix_nano"),
        observed_time_unix_nano=uint(lr, "observedTimeUnixNano", "observed_time_unix_nano"),
        severity_number=enum(lr, "severityNumber", "severity_number", _SEVERITIES),
        severity_text=string(lr, "severityText", "severity_text"),
        body=any_value(lr.get("body"), 0),
        attributes=attrs,
        trace_id=trace_hex,
        span_id=span_hex,
        event_name=string(lr, "eventName", "event_name"),
        flags=uint(lr, "flags", "flags", 32),
        dropped_attributes_count=dropped(lr) + capped,
    )


def _metric(metric: dict[str, Any], resource: Resource, scope: Scope, out: DecodedMetrics) -> None:
    name = string(metric, "name", "name")
    for camel, snake, kind in _POINT_KINDS:
        body = get(metric, camel, snake)
        if body is None:
            continue
        body = as_object(body, camel)
        points = seq(body, "dataPoints", "data_points", camel)
        if not name:
            out.rejected += len(points)
            out.errors.extend(["metric without a name"] * len(points))
            return
        temporality = enum(body, "aggregationTemporality", "aggregation_temporality", _TEMPORALITIES)
        monotonic = get(body, "isMonotonic", "is_monotonic")
        if monotonic is not None and not isinstance(monotonic, bool):
            raise DecodeError("isMonotonic: expected true or false")
        for item in points:
            dp = as_object(item, "dataPoints")
            attrs, _ = attributes(dp)
            count: int | None = None
            value: int | float | None
            if kind in ("gauge", "sum"):
                as_int = get(dp, "asInt", "as_int")
                as_double = get(dp, "asDouble", "as_double")
                if as_int is not None:
                    value = int_value(as_int, "asInt")
                elif as_double is not None:
                    value = double(as_double, "asDouble")
                else:
                    out.rejected += 1
                    out.errors.append(f"{name}: number data point without a value")
                    continue
            elif kind == "histogram":
                raw_sum = get(dp, "sum", "sum")
                value = double(raw_sum, "sum") if raw_sum is not None else None
                count = uint(dp, "count", "count")
            else:
                value = None
                count = uint(dp, "count", "count")
            out.points.append(MetricPoint(
                resource=resource,
                scope=scope,
                metric_name=name,
                description=string(metric, "description", "description"),
                unit=string(metric, "unit", "unit"),
                point_kind=kind,
                attributes=attrs,
                start_time_unix_nano=uint(dp, "startTimeUnixNano", "start_time_unix_nano"),
                time_unix_nano=uint(dp, "timeUnixNano", "time_unix_nano"),
                value=value,
                count=count,
                aggregation_temporality=temporality,
                is_monotonic=bool(monotonic),
            ))
        return
