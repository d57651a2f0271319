"""Pull the values that counters and analytics need out of a payload, once, at ingest."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from store.model import EventFacts

__all__ = ("extract_facts",)

_INT64_MAX = (1 << 63) - 1


def _number(value: Any) -> float | None:
    """A finite JSON number (bools excluded), else ``None``."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value)
    return None


def _count(value: Any) -> int | None:
    f = _number(value)
    if f is None:
        return None
    return max(-_INT64_MAX, min(_INT64_MAX, int(f)))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


_NO_FACTS = EventFacts()


def extract_facts(event_type: str, payload: Mapping[str, Any], metadata: Mapping[str, Any]) -> EventFacts:
    """The facts of one event, taken from the payload as the client sent it (before truncation).

    Using the untruncated payload keeps costs and tokens of an LLM call whose captured prompt
    made the stored payload too large to keep (documented in docs/decisions.md). Runs for every
    ingested event: each type reads only its own keys, and events without facts share one tuple.
    """
    source = metadata.get("source") if metadata else None
    if source is not None and not isinstance(source, str):
        source = None
    reader = _READERS.get(event_type)
    if reader is None:
        tool_name = payload.get("toolName")
        if isinstance(tool_name, str):
            return EventFacts(source=source, tool_name=tool_name)
        return _NO_FACTS if source is None else EventFacts(source=source)
    return reader(payload, source)


def _llm_response(p: Mapping[str, Any], source: str | None) -> EventFacts:
    usage = p.get("usage")
    input_tokens = output_tokens = None
    if isinstance(usage, Mapping):
        input_tokens = _count(usage.get("inputTokens"))
        output_tokens = _count(usage.get("outputTokens"))
    return EventFacts(
        source=source, cost_usd=_number(p.get("costUsd")), input_tokens=input_tokens,
        output_tokens=output_tokens, duration_ms=_number(p.get("latencyMs")), model=_text(p.get("model")),
        provider=_text(p.get("provider")), tool_name=_text(p.get("toolName")),
        cache_read_tokens=_usage_count(p, "cacheReadTokens"), cache_write_tokens=_usage_count(p, "cacheWriteTokens"),
    )


def _cost_tracked(p: Mapping[str, Any], source: str | None) -> EventFacts:
    return EventFacts(
        source=source, cost_usd=_number(p.get("costUsd")), input_tokens=_count(p.get("inputTokens")),
        output_tokens=_count(p.get("outputTokens")), model=_text(p.get("model")), provider=_text(p.get("provider")),
        tool_name=_text(p.get("toolName")), cache_read_tokens=_usage_count(p, "cacheReadTokens"),
        cache_write_tokens=_usage_count(p, "cacheWriteTokens"),
    )


def _model_only(p: Mapping[str, Any], source: str | None) -> EventFacts:
    """llm_call and embedding: model and provider."""
    return EventFacts(
        source=source, model=_text(p.get("model")), provider=_text(p.get("provider")),
        tool_name=_text(p.get("toolName")),
    )


def _tool_call(p: Mapping[str, Any], source: str | None) -> EventFacts:
    return EventFacts(source=source, tool_name=_text(p.get("toolName")))


def _tool_result(p: Mapping[str, Any], source: str | None) -> EventFacts:
    """tool_response and tool_error: the tool and its duration."""
    return EventFacts(source=source, duration_ms=_number(p.get("durationMs")), tool_name=_text(p.get("toolName")))


def _session_started(p: Mapping[str, Any], source: str | None) -> EventFacts:
    raw_tags = p.get("tags")
    tags = tuple(t for t in raw_tags if isinstance(t, str)) if isinstance(raw_tags, list) else None
    return EventFacts(
        source=source, agent_name=_text(p.get("agentName")), tags=tags, tool_name=_text(p.get("toolName")),
    )


def _session_ended(p: Mapping[str, Any], source: str | None) -> EventFacts:
    return EventFacts(source=source, end_reason=_text(p.get("reason")), tool_name=_text(p.get("toolName")))


_READERS: dict[str, Callable[[Mapping[str, Any], str | None], EventFacts]] = {
    "llm_response": _llm_response,
    "cost_tracked": _cost_tracked,
    "llm_call": _model_only,
    "embedding": _model_only,
    "tool_call": _tool_call,
    "tool_response": _tool_result,
    "tool_error": _tool_result,
    "session_started": _session_started,
    "session_ended": _session_ended,
}


def _usage_count(payload: Mapping[str, Any], key: str) -> int | None:
    """``payload[key]``, else ``payload.usage[key]``: the first that is a number (upstream's COALESCE)."""
    value = _count(payload.get(key))
    if value is None:
        usage = payload.get("usage")
        if isinstance(usage, Mapping):
            value = _count(usage.get(key))
    return value
