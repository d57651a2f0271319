"""Build OTLP/JSON requests in tests, convert them to protobuf, and map them in-process."""

from __future__ import annotations

import base64
import copy
import functools
import json
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.mapping.otlp_memo import OtlpMemo
from collector.mapping.otlp_prices import PriceTable, load_price_table
from collector.mapping.otlp_request import map_request
from collector.mapping.otlp_spans import MappingResult
from store.model import NewEvent

T0 = 1_764_236_400_000_000_000  # 2025-11-27T09:40:00Z in unix nanoseconds
SECOND = 1_000_000_000
TRACE = "5b8efff798038103d269b633813fc60c"
TRACE2 = "0af7651916cd43dd8448eb211c80319c"
ROOT = "eee19b7ec3c1b174"
CHILD = "b7ad6b7169203331"
CHILD2 = "00f067aa0ba902b7"
GRANDCHILD = "53995c3f42cd8ad8"

@functools.cache
def prices() -> PriceTable:
    return load_price_table()


def av(value: Any) -> dict[str, Any]:
    """A Python value as an OTLP/JSON AnyValue (ints as strings, like the Python JSON exporter)."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [av(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": av(v)} for k, v in value.items()]}}
    raise TypeError(type(value))


def attrs(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": av(v)} for k, v in mapping.items()]


def span(
    span_id: str, name: str, attributes: dict[str, Any] | None = None, *, trace_id: str = TRACE,
    parent: str | None = None, kind: int = 1, start: int = T0, end: int | None = None,
    status: tuple[int, str] | None = None, events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": trace_id, "spanId": span_id, "name": name, "kind": kind,
        "startTimeUnixNano": str(start), "endTimeUnixNano": str(end if end is not None else start + SECOND),
        "attributes": attrs(attributes or {}),
    }
    if parent:
        out["parentSpanId"] = parent
    if status:
        out["status"] = {"code": status[0], "message": status[1]} if status[1] else {"code": status[0]}
    if events:
        out["events"] = events
    return out


def traces(*spans: dict[str, Any], resource: dict[str, Any] | None = None, scope: str = "test.scope") -> dict[str, Any]:
    return _export("Spans", "spans", list(spans), resource, scope)


def log_record(
    body: Any = None, attributes: dict[str, Any] | None = None, *, time: int = T0, event_name: str = "",
    trace_id: str = "", span_id: str = "", severity: int = 9, severity_text: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {"timeUnixNano": str(time), "observedTimeUnixNano": str(time),
                           "severityNumber": severity, "attributes": attrs(attributes or {})}
    if body is not None:
        out["body"] = av(body)
    if severity_text:
        out["severityText"] = severity_text
    if event_name:
        out["eventName"] = event_name
    if trace_id:
        out["traceId"] = trace_id
    if span_id:
        out["spanId"] = span_id
    return out


def logs(*records: dict[str, Any], resource: dict[str, Any] | None = None, scope: str = "test.scope") -> dict[str, Any]:
    return _export("Logs", "logRecords", list(records), resource, scope)


def _export(
    signal: str, items_key: str, items: list[dict[str, Any]], resource: dict[str, Any] | None, scope: str,
) -> dict[str, Any]:
    """An OTLP/JSON export request: one resource (default ``service.name=test-agent``), one scope, ``items``."""
    res = {"service.name": "test-agent"} if resource is None else resource
    return {f"resource{signal}": [{
        "resource": {"attributes": attrs(res)},
        f"scope{signal}": [{"scope": {"name": scope}, items_key: items}],
    }]}


def sum_metric(name: str, points: list[dict[str, Any]], *, temporality: int = 1, monotonic: bool = True,
               resource: dict[str, Any] | None = None, unit: str = "") -> dict[str, Any]:
    metric: dict[str, Any] = {"name": name, "sum": {"dataPoints": points, "aggregationTemporality": temporality,
                                                   "isMonotonic": monotonic}}
    if unit:
        metric["unit"] = unit
    return _export("Metrics", "metrics", [metric], resource, "test.scope")


def point(value: float | int, attributes: dict[str, Any] | None = None, *, time: int = T0,
          start: int = T0 - 60 * SECOND) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": attrs(attributes or {}), "startTimeUnixNano": str(start),
                           "timeUnixNano": str(time)}
    if isinstance(value, int):
        out["asInt"] = str(value)
    else:
        out["asDouble"] = value
    return out


# ------------------------------------------------------------------ protobuf

_ID_FIELDS = ("traceId", "spanId", "parentSpanId")
_REQUESTS = {"traces": ExportTraceServiceRequest, "logs": ExportLogsServiceRequest,
             "metrics": ExportMetricsServiceRequest}


def _ids_to_base64(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in _ID_FIELDS and isinstance(v, str):
                out[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                out[k] = _ids_to_base64(v)
        return out
    if isinstance(node, list):
        return [_ids_to_base64(v) for v in node]
    return node


def to_protobuf(doc: dict[str, Any], signal: str = "traces") -> bytes:
    """The same request as protobuf (json_format wants base64 ids; OTLP/JSON has hex)."""
    message = json_format.ParseDict(_ids_to_base64(copy.deepcopy(doc)), _REQUESTS[signal]())
    return bytes(message.SerializeToString())


# ------------------------------------------------------------------ in-process mapping


def map_doc(doc: dict[str, Any] | bytes, signal: str = "traces", *, memo: OtlpMemo | None = None,
            tenant: str = "default", encoding: str = "json", now_ns: int = T0 + 3600 * SECOND) -> MappingResult:
    body = doc if isinstance(doc, bytes) else (to_protobuf(doc, signal) if encoding == "protobuf"
                                               else json.dumps(doc).encode())
    return map_request(signal, encoding, body, tenant=tenant,  # type: ignore[arg-type]
                       memo=memo if memo is not None else OtlpMemo(),
                       prices=prices(), now_ns=now_ns)


def event_dict(event: NewEvent) -> dict[str, Any]:
    """A mapped event in the API's shape (without the chain fields the store assigns)."""
    return {
        "id": event.id, "timestamp": event.timestamp, "sessionId": event.session_id, "agentId": event.agent_id,
        "eventType": event.event_type, "severity": event.severity,
        "payload": orjson.loads(event.payload_json), "metadata": orjson.loads(event.metadata_json),
    }


def events_of(result: MappingResult) -> list[dict[str, Any]]:
    return [event_dict(e) for e in result.events]
