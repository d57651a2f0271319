"""One OTLP request body (signal, encoding) -> decoded items and mapped events, in one call."""

from __future__ import annotations

from collector.mapping.otlp_decode_json import decode_logs_json, decode_metrics_json, decode_traces_json
from collector.mapping.otlp_decode_pb import decode_logs_pb, decode_metrics_pb, decode_traces_pb
from collector.mapping.otlp_logs import map_logs
from collector.mapping.otlp_memo import OtlpMemo
from collector.mapping.otlp_metrics import map_metrics
from collector.mapping.otlp_prices import PriceTable
from collector.mapping.otlp_spans import MappingResult, map_traces
from collector.mapping.otlp_wire import Encoding, Signal

__all__ = ("map_request",)


def map_request(signal: Signal, encoding: Encoding, body: bytes, *, tenant: str, memo: OtlpMemo,
                prices: PriceTable, now_ns: int) -> MappingResult:
    """Decode and map; raises ``DecodeError`` when the body cannot be decoded (400)."""
    if signal == "traces":
        traces = decode_traces_pb(body) if encoding == "protobuf" else decode_traces_json(body)
        return map_traces(traces, tenant=tenant, memo=memo, prices=prices, now_ns=now_ns)
    if signal == "logs":
        logs = decode_logs_pb(body) if encoding == "protobuf" else decode_logs_json(body)
        return map_logs(logs, tenant=tenant, memo=memo, prices=prices, now_ns=now_ns)
    metrics = decode_metrics_pb(body) if encoding == "protobuf" else decode_metrics_json(body)
    return map_metrics(metrics, tenant=tenant, memo=memo, now_ns=now_ns)
