"""JSON-in-a-column helpers shared by both backends (tolerant of corrupt rows)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import orjson

from store.model import (
    Agent,
    AlertRule,
    AlertRulePatch,
    AlertWindowStats,
    ApiKey,
    RetentionResult,
    Session,
)
from store.plan import SessionState

__all__ = (
    "agent_from_row",
    "alert_window_stats",
    "decode_scope",
    "decode_str_list",
    "encode_scope",
    "patch_alert_rule",
    "retention_details",
    "retention_run",
    "safe_json",
    "session_from_state",
    "with_revoked",
)

Row = Sequence[Any]


def safe_json(text: str | bytes | None, fallback: Any) -> Any:
    """Parse stored JSON text; a corrupt value reads as ``fallback`` instead of failing the request."""
    if text is None:
        return fallback
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return fallback


def decode_str_list(text: str | bytes | None) -> list[str]:
    value = safe_json(text, [])
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def encode_scope(agent_id: str | None, tags: tuple[str, ...] | None) -> str:
    scope: dict[str, Any] = {}
    if agent_id is not None:
        scope["agentId"] = agent_id
    if tags is not None:
        scope["tags"] = list(tags)
    return orjson.dumps(scope).decode()


def decode_scope(text: str | bytes | None) -> tuple[str | None, tuple[str, ...] | None]:
    scope = safe_json(text, {})
    if not isinstance(scope, dict):
        return None, None
    agent = scope.get("agentId")
    tags = scope.get("tags")
    return (
        agent if isinstance(agent, str) else None,
        tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else None,
    )


def session_from_state(s: SessionState, idle_before_us: int) -> Session:
    """The API view of a session row; ``idle`` = active with no event since ``idle_before_us``."""
    last = s.last_event_ts if s.last_event_ts is not None else s.started_ts
    return Session(
        id=s.id, agent_id=s.agent_id, agent_name=s.agent_name, started_at=s.started_at, ended_at=s.ended_at,
        status=s.status, idle=s.status == "active" and last < idle_before_us, event_count=s.event_count,
        tool_call_count=s.tool_call_count, error_count=s.error_count, total_cost_usd=float(s.total_cost_usd),
        llm_call_count=s.llm_call_count, total_input_tokens=s.total_input_tokens,
        total_output_tokens=s.total_output_tokens, tags=s.tags, tenant_id=s.tenant_id,
        last_event_at=s.last_event_at,
    )


def agent_from_row(r: Row) -> Agent:
    """Row of (id, name, description, first_seen_at, last_seen_at, tenant_id, ..., session_count last)."""
    return Agent(
        id=r[0], name=r[1], description=r[2], first_seen_at=r[3], last_seen_at=r[4],
        session_count=int(r[-1]), tenant_id=r[5],
    )


def _f(v: Any) -> float:
    return float(v) if v is not None else 0.0


def alert_window_stats(r: Row | None) -> AlertWindowStats:
    if r is None:
        return AlertWindowStats(0, 0, 0.0, 0.0)
    return AlertWindowStats(int(r[0]), int(r[1] or 0), _f(r[2]), _f(r[3]))


def patch_alert_rule(rule: AlertRule, patch: AlertRulePatch, now: str) -> AlertRule:
    """The rule with the patch applied and ``updatedAt`` bumped."""
    changes: dict[str, Any] = {"updated_at": now}
    for name in ("name", "condition", "threshold", "window_minutes", "enabled", "notify_channels"):
        value = getattr(patch, name)
        if value is not None:
            changes[name] = value
    if patch.scope_set:
        changes["scope_agent_id"] = patch.scope_agent_id
        changes["scope_tags"] = patch.scope_tags
    return dataclasses.replace(rule, **changes)


def with_revoked(key: ApiKey, when: int) -> ApiKey:
    return dataclasses.replace(key, revoked_at=when)


def retention_details(results: Sequence[tuple[str, RetentionResult]]) -> str:
    return orjson.dumps([
        {"tenantId": t, "deletedCount": r.deleted_count, "sessionsDeleted": r.sessions_deleted,
         "anchoredSessions": r.anchored_sessions}
        for t, r in results
    ]).decode()


def retention_run(r: Row) -> dict[str, Any]:
    return {
        "startedAt": r[0], "cutoff": r[1], "deletedCount": int(r[2]), "sessionsDeleted": int(r[3]),
        "anchoredSessions": int(r[4]), "durationMs": float(r[5]), "tenants": safe_json(r[6], []),
    }
