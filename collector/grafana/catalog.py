"""The JSON data source's metric catalog: names, labels, what each can be grouped and filtered by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = (
    "DIMENSIONS",
    "FILTER_KEYS",
    "METRICS",
    "Metric",
    "metric_list",
)

Kind = Literal["events", "sessions", "percentile", "table"]

# payload / ad-hoc filter key -> the store's dimension name
DIMENSIONS: Final = {"agent": "agent_id", "model": "model", "provider": "provider", "event_type": "event_type",
                     "tool": "tool_name"}
FILTER_KEYS: Final = tuple(DIMENSIONS)
COST_TYPES: Final = ("cost_tracked", "llm_response")


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    label: str
    kind: Kind
    event_types: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()          # payload group_by values it accepts
    unit: str = ""
    percentile: float | None = None         # percentile metrics
    value: str = ""                         # which sum of the aggregate is the value


_EVENT_DIMS: Final = ("agent", "model", "provider", "event_type", "tool")
_LLM_DIMS: Final = ("agent", "model", "provider")
_TOOL_DIMS: Final = ("agent", "tool")

METRICS: Final = {m.name: m for m in (
    Metric("events", "Events", "events", group_by=_EVENT_DIMS, value="count"),
    Metric("errors", "Errors (severity error/critical, tool_error)", "events", group_by=_EVENT_DIMS, value="errors"),
    Metric("error_rate", "Error rate (errors / events)", "events", group_by=_EVENT_DIMS, value="error_rate"),
    Metric("cost_usd", "Cost (USD, cost_tracked + llm_response)", "events", COST_TYPES, _LLM_DIMS, "USD", value="cost"),
    Metric("input_tokens", "Input tokens", "events", COST_TYPES, _LLM_DIMS, value="input"),
    Metric("output_tokens", "Output tokens", "events", COST_TYPES, _LLM_DIMS, value="output"),
    Metric("total_tokens", "Tokens (input + output)", "events", COST_TYPES, _LLM_DIMS, value="tokens"),
    Metric("llm_calls", "LLM calls (llm_response)", "events", ("llm_response",), _LLM_DIMS, value="count"),
    Metric("llm_latency_avg", "LLM latency, mean (ms)", "events", ("llm_response",), _LLM_DIMS, "ms",
           value="avg_duration"),
    Metric("llm_latency_p50", "LLM latency P50 (ms)", "percentile", ("llm_response",), _LLM_DIMS, "ms", 0.5),
    Metric("llm_latency_p95", "LLM latency P95 (ms)", "percentile", ("llm_response",), _LLM_DIMS, "ms", 0.95),
    Metric("tool_calls", "Tool calls", "events", ("tool_call",), _TOOL_DIMS, value="count"),
    Metric("tool_errors", "Tool errors", "events", ("tool_error",), _TOOL_DIMS, value="count"),
    Metric("tool_latency", "Tool latency, mean (ms, tool_response)", "events", ("tool_response",), _TOOL_DIMS,
           "ms", value="avg_duration"),
    Metric("tool_latency_p95", "Tool latency P95 (ms, tool_response)", "percentile", ("tool_response",),
           _TOOL_DIMS, "ms", 0.95),
    Metric("sessions", "Active sessions (with events in the interval)", "sessions", group_by=("agent",)),
    Metric("tools_table", "Table: tools (calls, errors, error rate, durations)", "table"),
    Metric("failing_tools", "Table: tools with errors, most errors first", "table"),
    Metric("models_table", "Table: LLM models (calls, cost, tokens, latency)", "table"),
    Metric("agents_table", "Table: agents (sessions, events, errors, cost)", "table"),
    Metric("sessions_table", "Table: sessions started in the range", "table"),
)}


def _select(name: str, label: str, options: list[dict[str, str]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "label": label, "type": "select", "reloadMetric": False, "width": 20}
    if options is not None:
        out["options"] = options
    return out


def metric_list() -> list[dict[str, Any]]:
    """``POST /metrics``: every metric with its payloads (select options inline, or via metric-payload-options)."""
    out = []
    for m in METRICS.values():
        payloads = []
        if m.group_by:
            payloads.append(_select("group_by", "Group by",
                                    [{"label": "none", "value": "none"}]
                                    + [{"label": g, "value": g} for g in m.group_by]))
        if m.kind != "table":
            payloads.append(_select("format", "Format", [{"label": "time series", "value": "time_series"},
                                                         {"label": "table", "value": "table"}]))
        for key in ("agent", "model", "provider", "event_type", "tool"):
            if m.kind == "table" or key in m.group_by:
                payloads.append(_select(key, key.replace("_", " ").capitalize()))
        out.append({"value": m.name, "label": m.label, "payloads": payloads})
    return out
