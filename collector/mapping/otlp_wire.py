"""OTLP/HTTP wire formats: request media types, Export*ServiceResponse and google.rpc.Status bodies."""

from __future__ import annotations

from typing import Final, Literal

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

__all__ = (
    "CONTENT_TYPES",
    "GRPC_CODES",
    "Encoding",
    "Signal",
    "export_response",
    "media_encoding",
    "status_body",
    "varint",
)

Encoding = Literal["protobuf", "json"]
Signal = Literal["traces", "logs", "metrics"]

# Response content types, exactly (no charset): Go and the collector compare them verbatim.
CONTENT_TYPES: Final[dict[str, str]] = {"protobuf": "application/x-protobuf", "json": "application/json"}
_MEDIA_TYPES: Final[dict[str, Encoding]] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}
# HTTP status -> google.rpc.Code, as the collector maps them (statusconversion).
GRPC_CODES: Final = {400: 3, 401: 16, 403: 7, 404: 12, 405: 12, 413: 3, 415: 3, 429: 8, 500: 13,
                     502: 14, 503: 14, 504: 14}
_MAX_MESSAGE: Final = 4000   # responses must stay far below the clients' 4 MiB / 64 KiB reads


def media_encoding(content_type: str | None) -> Encoding | None:
    """``protobuf`` / ``json`` for a request Content-Type (parameters and case ignored), else ``None``."""
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    return _MEDIA_TYPES.get(media)


def status_body(code: int, message: str, encoding: Encoding) -> bytes:
    """A ``google.rpc.Status`` (code = 1, message = 2) in the request's encoding."""
    message = message[:_MAX_MESSAGE]
    if encoding == "json":
        return orjson.dumps({"code": code, "message": message})
    out = bytearray()
    if code:
        out += b"\x08" + varint(code)
    raw = message.encode("utf-8", "replace")
    if raw:
        out += b"\x12" + varint(len(raw)) + raw
    return bytes(out)


def export_response(signal: Signal, encoding: Encoding, rejected: int, message: str) -> bytes:
    """The ``Export<Signal>ServiceResponse``; ``partial_success`` only when something is to report."""
    message = message[:_MAX_MESSAGE]
    if encoding == "json":
        if not rejected and not message:
            return b"{}"
        field = {"traces": "rejectedSpans", "logs": "rejectedLogRecords", "metrics": "rejectedDataPoints"}[signal]
        partial: dict[str, str] = {}
        if rejected:
            partial[field] = str(rejected)  # int64 is a string in OTLP/JSON
        if message:
            partial["errorMessage"] = message
        return orjson.dumps({"partialSuccess": partial})
    if not rejected and not message:
        return b""
    if signal == "traces":
        return bytes(ExportTraceServiceResponse(
            partial_success=ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
        ).SerializeToString())
    if signal == "logs":
        return bytes(ExportLogsServiceResponse(
            partial_success=ExportLogsPartialSuccess(rejected_log_records=rejected, error_message=message)
        ).SerializeToString())
    return bytes(ExportMetricsServiceResponse(
        partial_success=ExportMetricsPartialSuccess(rejected_data_points=rejected, error_message=message)
    ).SerializeToString())


def varint(value: int) -> bytes:
    """A protobuf base-128 varint (negative values as their 64-bit two's complement)."""
    if value < 0:
        value += 1 << 64  # int32 negatives are sign-extended to 10 bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
