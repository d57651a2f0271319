"""Event builders and time helpers for the store contract suite (events go through build_event)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collector.ids import new_ulid
from collector.mapping.build import build_event
from store.model import NewEvent
from store.timefmt import format_ms, parse_rfc3339

__all__ = (
    "BASE_US",
    "MINUTE_US",
    "contains_pattern",
    "cost",
    "custom",
    "ev",
    "llm_response",
    "session_ended",
    "session_started",
    "tool_call",
    "tool_error",
    "tool_response",
    "ts",
    "us",
)

BASE_US = parse_rfc3339("2026-11-27T10:00:00Z")
MINUTE_US = 60_000_000


def ts(seconds: float = 0) -> str:
    """The server-style timestamp ``seconds`` after 2026-11-27T10:00:00Z (millisecond precision)."""
    return format_ms(BASE_US + round(seconds * 1_000_000))


def us(timestamp: str) -> int:
    return parse_rfc3339(timestamp)


def ev(
    session: str = "s1",
    event_type: str = "custom",
    payload: Mapping[str, Any] | None = None,
    *,
    at: str | float = 0,
    tenant: str = "default",
    agent: str = "agent-1",
    severity: str = "info",
    metadata: Mapping[str, Any] | None = None,
    event_id: str | None = None,
) -> NewEvent:
    """One event as a receiver would build it; ``event_id`` given = a client id (deduplicated)."""
    stamp = at if isinstance(at, str) else ts(at)
    return build_event(
        tenant=tenant,
        event_id=event_id if event_id is not None else new_ulid(),
        dedupe=event_id is not None,
        timestamp=stamp,
        ts_us=parse_rfc3339(stamp),
        session_id=session,
        agent_id=agent,
        event_type=event_type,
        severity=severity,
        payload=payload if payload is not None else {"type": "t", "data": {}},
        metadata=metadata if metadata is not None else {},
    )


def custom(session: str = "s1", data: Mapping[str, Any] | None = None, **kw: Any) -> NewEvent:
    return ev(session, "custom", {"type": "t", "data": dict(data or {})}, **kw)


def session_started(
    session: str = "s1", agent_name: str | None = None, tags: list[str] | None = None, **kw: Any,
) -> NewEvent:
    payload: dict[str, Any] = {}
    if agent_name is not None:
        payload["agentName"] = agent_name
    if tags is not None:
        payload["tags"] = tags
    return ev(session, "session_started", payload, **kw)


def session_ended(session: str = "s1", reason: str = "completed", **kw: Any) -> NewEvent:
    return ev(session, "session_ended", {"reason": reason}, **kw)


def tool_call(session: str = "s1", tool: str = "search", **kw: Any) -> NewEvent:
    return ev(session, "tool_call", {"toolName": tool, "callId": "c1", "arguments": {}}, **kw)


def tool_response(session: str = "s1", duration_ms: float = 100, tool: str = "search", **kw: Any) -> NewEvent:
    payload = {"callId": "c1", "toolName": tool, "result": "ok", "durationMs": duration_ms}
    return ev(session, "tool_response", payload, **kw)


def tool_error(session: str = "s1", duration_ms: float = 50, **kw: Any) -> NewEvent:
    payload = {"callId": "c1", "toolName": "search", "error": "boom", "durationMs": duration_ms}
    return ev(session, "tool_error", payload, **kw)


def cost(session: str = "s1", cost_usd: float = 0.05, tokens: tuple[int, int] = (10, 5), **kw: Any) -> NewEvent:
    payload = {
        "provider": "openai", "model": "gpt-4o", "inputTokens": tokens[0], "outputTokens": tokens[1],
        "totalTokens": sum(tokens), "costUsd": cost_usd,
    }
    return ev(session, "cost_tracked", payload, **kw)


def llm_response(
    session: str = "s1", cost_usd: float = 0.10, tokens: tuple[int, int] = (100, 20), latency_ms: float = 900,
    **kw: Any,
) -> NewEvent:
    payload = {
        "callId": "l1", "provider": "openai", "model": "gpt-4o", "completion": "hi", "finishReason": "stop",
        "usage": {"inputTokens": tokens[0], "outputTokens": tokens[1], "totalTokens": sum(tokens)},
        "costUsd": cost_usd, "latencyMs": latency_ms,
    }
    return ev(session, "llm_response", payload, **kw)


def contains_pattern(term: str) -> str:
    """``EventQuery.search`` as the API builds it: ``%term%`` with ``\\ % _`` escaped by a backslash."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
