"""Pull the values that counters and analytics need out of a payload, once, at ingest."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from store.model import EventFacts

__all__ = ("extract_facts",)

_INT64_MAX = (1 << 63) - 1
_COST_TYPES = frozenset({"cost_tracked", "llm_response"})
_TOOL_TYPES = frozenset({"tool_call", "tool_response", "tool_error"})
_MODEL_TYPES = frozenset({"llm_call", "llm_response", "cost_tracked", "embedding"})


def _number(value: Any) -> float | None:
    """A finite JSON number (bools excluded), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _count(value: Any) -> int | None:
    f = _number(value)
    if f is None:
        return None
    return max(-_INT64_MAX, min(_INT64_MAX, int(f)))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def extract_facts(event_type: str, payload: Mapping[str, Any], metadata: Mapping[str, Any]) -> EventFacts:
    """The facts of one event, taken from the payload as the client sent it (before truncation).

    Using the untruncated payload keeps costs and tokens of an LLM call whose captured prompt
    made the stored payload too large to keep (documented in docs/decisions.md).
    """
    source = _text(metadata.get("source"))
    cost = input_tokens = output_tokens = None
    duration = None
    model = provider = tool_name = agent_name = end_reason = None
    tags: tuple[str, ...] | None = None

    cache_read = cache_write = None
    if event_type in _COST_TYPES:
        cost = _number(payload.get("costUsd"))
        cache_read = _usage_count(payload, "cacheReadTokens")
        cache_write = _usage_count(payload, "cacheWriteTokens")
    if event_type == "llm_response":
        usage = payload.get("usage")
        if isinstance(usage, Mapping):
            input_tokens = _count(usage.get("inputTokens"))
            output_tokens = _count(usage.get("outputTokens"))
        duration = _number(payload.get("latencyMs"))
    elif event_type == "cost_tracked":
        input_tokens = _count(payload.get("inputTokens"))
        output_tokens = _count(payload.get("outputTokens"))
    if event_type in _MODEL_TYPES:
        model = _text(payload.get("model"))
        provider = _text(payload.get("provider"))
    if event_type in _TOOL_TYPES or "toolName" in payload:
        tool_name = _text(payload.get("toolName"))
    if event_type in ("tool_response", "tool_error"):
        duration = _number(payload.get("durationMs"))
    elif event_type == "session_started":
        agent_name = _text(payload.get("agentName"))
        raw_tags = payload.get("tags")
        if isinstance(raw_tags, list):
            tags = tuple(t for t in raw_tags if isinstance(t, str))
    elif event_type == "session_ended":
        end_reason = _text(payload.get("reason"))
    return EventFacts(
        source=source, cost_usd=cost, input_tokens=input_tokens, output_tokens=output_tokens,
        duration_ms=duration, model=model, provider=provider, tool_name=tool_name,
        agent_name=agent_name, tags=tags, end_reason=end_reason,
        cache_read_tokens=cache_read, cache_write_tokens=cache_write,
    )


def _usage_count(payload: Mapping[str, Any], key: str) -> int | None:
    """``payload[key]``, else ``payload.usage[key]``: the first that is a number (upstream's COALESCE)."""
    value = _count(payload.get(key))
    if value is None:
        usage = payload.get("usage")
        if isinstance(usage, Mapping):
            value = _count(usage.get(key))
    return value
