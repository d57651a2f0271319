"""Domain objects -> the AgentLens JSON shapes (camelCase), in one place."""

from __future__ import annotations

from typing import Any

import orjson

from store.model import (
    Agent,
    AlertHistoryEntry,
    AlertRule,
    ChainVerification,
    Session,
    StorageStats,
    StoredEvent,
)

__all__ = (
    "agent_json",
    "alert_history_json",
    "alert_rule_json",
    "event_json",
    "session_json",
    "stats_json",
    "verification_json",
)


def _stored_json(text: str) -> orjson.Fragment | dict[str, Any]:
    """The stored JSON text byte for byte; a row corrupted outside the service reads as ``{}``.

    Parsing costs ~2 µs per event; it keeps one damaged row from making a whole response
    invalid JSON (the chain verification still reports the damage).
    """
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return orjson.Fragment(text)


def event_json(e: StoredEvent, *, verified: bool = False) -> dict[str, Any]:
    """Payload and metadata go out as the stored text, byte for byte (it is what was hashed).

    ``verified``: the event's hash was just recomputed from this very text (a valid chain), so the
    text is the JSON we wrote and needs no check.
    """
    if verified:
        payload: orjson.Fragment | dict[str, Any] = orjson.Fragment(e.payload_json)
        metadata: orjson.Fragment | dict[str, Any] = orjson.Fragment(e.metadata_json)
    else:
        payload, metadata = _stored_json(e.payload_json), _stored_json(e.metadata_json)
    return {
        "id": e.id,
        "timestamp": e.timestamp,
        "sessionId": e.session_id,
        "agentId": e.agent_id,
        "eventType": e.event_type,
        "severity": e.severity,
        "payload": payload,
        "metadata": metadata,
        "prevHash": e.prev_hash,
        "hash": e.hash,
        "tenantId": e.tenant_id,
    }


def session_json(s: Session) -> dict[str, Any]:
    return {
        "id": s.id,
        "agentId": s.agent_id,
        "agentName": s.agent_name,
        "startedAt": s.started_at,
        "endedAt": s.ended_at,
        "status": s.status,
        "idle": s.idle,
        "eventCount": s.event_count,
        "toolCallCount": s.tool_call_count,
        "errorCount": s.error_count,
        "totalCostUsd": s.total_cost_usd,
        "llmCallCount": s.llm_call_count,
        "totalInputTokens": s.total_input_tokens,
        "totalOutputTokens": s.total_output_tokens,
        "tags": list(s.tags),
        "tenantId": s.tenant_id,
    }


def agent_json(a: Agent) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "description": a.description,
        "firstSeenAt": a.first_seen_at,
        "lastSeenAt": a.last_seen_at,
        "sessionCount": a.session_count,
        "tenantId": a.tenant_id,
    }


def verification_json(v: ChainVerification) -> dict[str, Any]:
    return {
        "valid": v.valid,
        "failedAtSeq": v.failed_at_seq,
        "reason": v.reason,
        "eventCount": v.event_count,
        "anchored": v.anchored,
    }


def stats_json(s: StorageStats) -> dict[str, Any]:
    out: dict[str, Any] = {
        "totalEvents": s.total_events,
        "totalSessions": s.total_sessions,
        "totalAgents": s.total_agents,
    }
    if s.oldest_event is not None:
        out["oldestEvent"] = s.oldest_event
    if s.newest_event is not None:
        out["newestEvent"] = s.newest_event
    out["storageSizeBytes"] = s.storage_size_bytes
    return out


def alert_rule_json(r: AlertRule) -> dict[str, Any]:
    scope: dict[str, Any] = {}
    if r.scope_agent_id is not None:
        scope["agentId"] = r.scope_agent_id
    if r.scope_tags is not None:
        scope["tags"] = list(r.scope_tags)
    return {
        "id": r.id,
        "name": r.name,
        "enabled": r.enabled,
        "condition": r.condition,
        "threshold": r.threshold,
        "windowMinutes": r.window_minutes,
        "scope": scope,
        "notifyChannels": list(r.notify_channels),
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
        "tenantId": r.tenant_id,
    }


def alert_history_json(h: AlertHistoryEntry) -> dict[str, Any]:
    return {
        "id": h.id,
        "ruleId": h.rule_id,
        "triggeredAt": h.triggered_at,
        "resolvedAt": h.resolved_at,
        "currentValue": h.current_value,
        "threshold": h.threshold,
        "message": h.message,
        "tenantId": h.tenant_id,
    }
