"""Row tuples <-> model objects, the same for both backends (column orders as in each backend's queries.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import orjson

from store.aggregates import EventAgg
from store.chain import Anchor
from store.model import AgentPatch, AlertHistoryEntry, AlertRule, AlertRuleInput, ApiKey, SessionPatch, StoredEvent
from store.plan import AgentState, SessionState
from store.rowcodec import decode_scope, decode_str_list, encode_scope
from store.spans import StoredSpan

__all__ = (
    "agent_patch_values",
    "agent_state",
    "agent_state_row",
    "alert_history_entry",
    "alert_rule",
    "alert_rule_row",
    "api_key",
    "api_key_row",
    "chain_anchor",
    "event_agg",
    "new_alert_rule",
    "session_patch_values",
    "session_state",
    "session_state_row",
    "stored_event",
    "stored_span",
)



class Row(Protocol):
    """A driver row read by position: a sqlite3 tuple or an asyncpg.Record."""

    def __getitem__(self, index: int, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


def stored_event(r: Row) -> StoredEvent:
    """Columns in ``queries.EVENT_FIELDS`` order, which is the field order of ``StoredEvent``."""
    return StoredEvent._make(r)


def chain_anchor(r: Row) -> Anchor:
    """A row of ``queries.SELECT_ANCHORS``."""
    return Anchor(int(r[0]), int(r[1]), r[2], r[3])


def session_state(r: Row) -> SessionState:
    return SessionState(
        id=r[0], agent_id=r[1], agent_name=r[2], started_at=r[3], started_ts=r[4], ended_at=r[5],
        status=r[6], event_count=r[7], tool_call_count=r[8], error_count=r[9], total_cost_usd=r[10],
        llm_call_count=r[11], total_input_tokens=r[12], total_output_tokens=r[13],
        tags=tuple(decode_str_list(r[14])), tenant_id=r[15], last_event_at=r[16], last_event_ts=r[17],
        chain_seq=r[18], chain_head=r[19], exists=True,
    )


def session_state_row(s: SessionState) -> tuple[Any, ...]:
    """Parameters of ``UPSERT_SESSION_STATE`` (the cost as a float: asyncpg binds no ints to a double)."""
    return (
        s.tenant_id, s.id, s.agent_id, s.agent_name, s.started_at, s.started_ts, s.ended_at, s.status,
        s.event_count, s.tool_call_count, s.error_count, float(s.total_cost_usd), s.llm_call_count,
        s.total_input_tokens, s.total_output_tokens, orjson.dumps(list(s.tags)).decode(),
        s.last_event_at, s.last_event_ts, s.chain_seq, s.chain_head, s.tenant_id,
    )


def agent_state(r: Row) -> AgentState:
    return AgentState(
        id=r[0], name=r[1], first_seen_at=r[3], last_seen_at=r[4], tenant_id=r[5],
        first_seen_ts=r[6], last_seen_ts=r[7], exists=True,
    )


def agent_state_row(a: AgentState) -> tuple[Any, ...]:
    return (a.tenant_id, a.id, a.name, a.first_seen_at, a.first_seen_ts, a.last_seen_at, a.last_seen_ts, a.tenant_id)


def alert_rule(r: Row) -> AlertRule:
    agent_id, tags = decode_scope(r[6])
    return AlertRule(
        id=r[0], name=r[1], enabled=bool(r[2]), condition=r[3], threshold=float(r[4]),
        window_minutes=int(r[5]), scope_agent_id=agent_id, scope_tags=tags,
        notify_channels=tuple(decode_str_list(r[7])), created_at=r[8], updated_at=r[9], tenant_id=r[10],
    )


def new_alert_rule(tenant: str, rule: AlertRuleInput, *, rule_id: str, now: str) -> AlertRule:
    """The row a new rule is stored as: a fresh id and ``createdAt = updatedAt = now``."""
    return AlertRule(
        id=rule_id, name=rule.name, enabled=rule.enabled, condition=rule.condition, threshold=rule.threshold,
        window_minutes=rule.window_minutes, scope_agent_id=rule.scope_agent_id, scope_tags=rule.scope_tags,
        notify_channels=rule.notify_channels, created_at=now, updated_at=now, tenant_id=tenant,
    )


def alert_rule_row(rule: AlertRule) -> tuple[Any, ...]:
    """Parameters of ``INSERT_ALERT_RULE``: ``enabled`` as a bool (SQLite stores it as 1 or 0)."""
    return (
        rule.id, rule.name, bool(rule.enabled), rule.condition, float(rule.threshold), rule.window_minutes,
        encode_scope(rule.scope_agent_id, rule.scope_tags), orjson.dumps(list(rule.notify_channels)).decode(),
        rule.created_at, rule.updated_at, rule.tenant_id,
    )


def alert_history_entry(r: Row) -> AlertHistoryEntry:
    return AlertHistoryEntry(
        id=r[0], rule_id=r[1], triggered_at=r[2], resolved_at=r[3], current_value=float(r[4]),
        threshold=float(r[5]), message=r[6], tenant_id=r[7],
    )


def api_key(r: Row) -> ApiKey:
    return ApiKey(
        id=r[0], key_hash=r[1], name=r[2], scopes=tuple(decode_str_list(r[3])), tenant_id=r[4],
        created_at=int(r[5]), last_used_at=r[6], revoked_at=r[7], expires_at=r[8],
    )


def api_key_row(k: ApiKey) -> tuple[Any, ...]:
    return (
        k.id, k.key_hash, k.name, orjson.dumps(list(k.scopes)).decode(), k.tenant_id, k.created_at,
        k.last_used_at, k.revoked_at, k.expires_at,
    )


_SESSION_PATCH_COLUMNS: tuple[str, ...] = (
    "agent_id", "agent_name", "started_at", "ended_at", "status", "event_count", "tool_call_count",
    "error_count", "total_cost_usd", "llm_call_count", "total_input_tokens", "total_output_tokens",
)


def session_patch_values(p: SessionPatch) -> dict[str, Any]:
    """Column -> value for the fields a patch sets (tags encoded as JSON text)."""
    values: dict[str, Any] = {col: getattr(p, col) for col in _SESSION_PATCH_COLUMNS if getattr(p, col) is not None}
    if "total_cost_usd" in values:
        values["total_cost_usd"] = float(values["total_cost_usd"])
    if p.tags is not None:
        values["tags"] = orjson.dumps(list(p.tags)).decode()
    return values


def agent_patch_values(p: AgentPatch) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if p.name is not None:
        values["name"] = p.name
    if p.description is not None:
        values["description"] = p.description
    return values


def stored_span(r: Row) -> StoredSpan:
    """Columns in ``queries._SPAN_FIELDS`` order."""
    return StoredSpan(
        tenant_id=r[0], trace_id=r[1], span_id=r[2], parent_span_id=r[3], session_id=r[4], agent_id=r[5],
        service_name=r[6], name=r[7], kind=int(r[8]), start_ns=int(r[9]), end_ns=int(r[10]),
        status_code=int(r[11]), resource_key=r[12], resource_json=r[13], body_json=r[14],
    )


def event_agg(r: Row, n: int) -> EventAgg:
    """A row of ``queries.event_agg`` with ``n`` group-by values (``''`` reads as ``None``)."""
    return EventAgg(
        bucket_us=None if r[0] is None else int(r[0]), keys=tuple(r[i] or None for i in range(1, 1 + n)),
        event_count=int(r[1 + n]), error_count=int(r[2 + n] or 0), cost_usd=float(r[3 + n] or 0),
        input_tokens=int(r[4 + n]), output_tokens=int(r[5 + n]), cache_read_tokens=int(r[6 + n]),
        cache_write_tokens=int(r[7 + n]), duration_sum=float(r[8 + n] or 0), duration_count=int(r[9 + n] or 0),
    )
