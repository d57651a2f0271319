"""Map decoded metric points: explicit cost metrics -> ``cost_tracked``, others -> ``custom otlp_metric``.

Cost metrics (``claude_code.cost.usage``, ``openclaw.cost.usd``) are sums: a cumulative series
is turned into deltas against the last value committed for the same series (kept in the memo;
a new ``start_time_unix_nano`` or a smaller value is a reset). Histograms map with their sum;
exponential histograms and summaries are accepted and counted, not mapped (otlp.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from collector.mapping import otlp_conventions as conv
from collector.mapping.otlp_common import clean_id, json_value, make_event, number, stable_digest, text
from collector.mapping.otlp_decode_common import summarize
from collector.mapping.otlp_memo import OtlpMemo, SeriesUpdate
from collector.mapping.otlp_model import DecodedMetrics, MetricPoint
from collector.mapping.otlp_spanctx import resource_agent
from collector.mapping.otlp_spans import MappingResult

__all__ = ("COST_METRICS", "map_metrics")

_CUMULATIVE: Final = 2
_DROPPED: Final = frozenset({"claude_code.session.count"})
DEFAULT_SESSION: Final = "otlp-default"


@dataclass(frozen=True, slots=True)
class _CostMetric:
    provider: str | None          # fixed provider, else read from provider_key
    provider_key: str | None
    model_key: str


COST_METRICS: Final = {
    "claude_code.cost.usage": _CostMetric("anthropic", None, "model"),
    "openclaw.cost.usd": _CostMetric(None, "openclaw.provider", "openclaw.model"),
}


def map_metrics(decoded: DecodedMetrics, *, tenant: str, memo: OtlpMemo, now_ns: int) -> MappingResult:
    """Events for the request's data points; cumulative cost updates are returned for commit."""
    result = MappingResult(rejected=decoded.rejected,
                           error_message=summarize(decoded.rejected, "data points", decoded.errors,
                                                   decoded.warnings))
    for point in decoded.points:
        if point.value is None or point.metric_name in _DROPPED:
            result.ignored += 1
            continue
        cost = COST_METRICS.get(point.metric_name)
        if cost is not None and point.point_kind in ("sum", "gauge"):
            _cost_event(point, cost, tenant, memo, now_ns=now_ns, result=result)
        else:
            result.events.append(_metric_event(point, tenant, now_ns))
    result.events.sort(key=lambda e: e.ts_us)
    return result


def _identity(point: MetricPoint) -> tuple[str, str]:
    """(series digest, point digest): the series is resource + scope + name + attributes."""
    series = stable_digest([point.resource.attributes, point.scope.name, point.metric_name, point.attributes])
    return series, stable_digest([series, point.start_time_unix_nano, point.time_unix_nano])


def _base(point: MetricPoint, source: str) -> tuple[str, str, dict[str, Any]]:
    attrs = point.attributes
    session = (conv.session_key(attrs) or clean_id(attrs.get("openclaw.sessionId"))
               or conv.session_key(point.resource.attributes) or DEFAULT_SESSION)
    agent = conv.agent_name(attrs) or resource_agent(point.resource)
    metadata: dict[str, Any] = {"source": source, "metricName": point.metric_name[:256],
                                "serviceName": point.resource.service_name}
    user = clean_id(attrs.get("user.email")) or conv.user_id(attrs)
    if user is not None:
        metadata["userId"] = user
    return session, agent, metadata


def _time(point: MetricPoint, now_ns: int) -> int:
    return point.time_unix_nano or point.start_time_unix_nano or now_ns


def _cost_event(point: MetricPoint, cost: _CostMetric, tenant: str, memo: OtlpMemo, *, now_ns: int,
                result: MappingResult) -> None:
    value = number(point.value)
    if value is None or value < 0:
        result.ignored += 1
        return
    series, digest = _identity(point)
    delta = float(value)
    if point.point_kind == "sum" and point.aggregation_temporality == _CUMULATIVE:
        key = (tenant, series)
        previous = memo.series(key)
        if previous is not None and previous[0] == point.start_time_unix_nano and value >= previous[1]:
            delta = value - previous[1]
        result.series_updates.append(SeriesUpdate(key, point.start_time_unix_nano, float(value)))
    if delta <= 0:
        result.ignored += 1
        return
    attrs = point.attributes
    provider = cost.provider or (text(attrs.get(cost.provider_key)) if cost.provider_key else None) or "unknown"
    session, agent, metadata = _base(point, "otlp_cost_metric")
    if memo.has_logged_cost(tenant, session):
        # The same money already arrived per call (Claude Code api_request logs -> llm_response
        # costUsd): keep the point, but not as a second cost (docs/otlp.md "Cost counted once").
        result.events.append(_metric_event(point, tenant, now_ns, cost_counted_by="logs"))
        return
    payload = {
        "provider": provider,
        "model": text(attrs.get(cost.model_key)) or "unknown",
        "inputTokens": 0, "outputTokens": 0, "totalTokens": 0,
        "costUsd": number(round(delta, 10)) or 0,
        "trigger": point.metric_name,
    }
    result.events.append(make_event(
        tenant=tenant, time_ns=_time(point, now_ns), id_parts=("metric", digest), session_id=session,
        agent_id=agent, event_type="cost_tracked", severity="info", payload=payload, metadata=metadata,
    ))


def _metric_event(point: MetricPoint, tenant: str, now_ns: int, cost_counted_by: str | None = None) -> Any:
    _, digest = _identity(point)
    session, agent, metadata = _base(point, "otlp_metric")
    if cost_counted_by is not None:
        metadata["costCountedBy"] = cost_counted_by
    data: dict[str, Any] = {
        "name": point.metric_name[:256],
        "value": json_value(point.value),
        "kind": point.point_kind,
        "attributes": json_value(point.attributes, cap=1024),
    }
    if point.unit:
        data["unit"] = point.unit[:64]
    if point.aggregation_temporality:
        data["temporality"] = "cumulative" if point.aggregation_temporality == _CUMULATIVE else "delta"
    if point.count is not None:
        data["count"] = point.count
    return make_event(
        tenant=tenant, time_ns=_time(point, now_ns), id_parts=("metric", digest), session_id=session,
        agent_id=agent, event_type="custom", severity="info", payload={"type": "otlp_metric", "data": data},
        metadata=metadata,
    )
