"""SQLite write transactions as plain functions of the writer connection (run on the writer thread)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from store import rowcodec
from store.aggregates import HOUR_US, rollup_rows
from store.errors import Conflict, NotFound
from store.model import (
    AgentPatch,
    AlertHistoryEntry,
    AlertRule,
    AlertRulePatch,
    ApiKey,
    InsertResult,
    SessionPatch,
)
from store.plan import AgentState, EventRow, SessionState, plan_insert
from store.retention import Anchored, DeletedRun, RetentionBatch, merge_anchor, plan_retention_batch
from store.spans import NewSpan
from store.sqlite import queries as q
from store.sqlite import rows
from store.sqlite.connections import insert_rows
from store.wire import Wire, events_from_wire, spans_from_wire, wire_length

__all__ = (
    "delete_alert_rule",
    "delete_empty_sessions",
    "delete_expired_batch",
    "delete_spans_batch",
    "fix_rollups_after_retention",
    "insert_alert_history",
    "insert_alert_rule",
    "insert_api_key",
    "insert_events",
    "put_settings",
    "record_retention_run",
    "resolve_alert_history",
    "revoke_api_key",
    "split_insert_result",
    "touch_api_key",
    "update_alert_rule",
    "upsert_agent",
    "upsert_session",
)

# SQLite allows 32766 host parameters; stay far below for IN (...) lists.
IN_CHUNK = 500
_T = TypeVar("_T")


def chunks(items: Sequence[_T], size: int = IN_CHUNK) -> list[Sequence[_T]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


# ------------------------------------------------------------------ events


def insert_events(db: sqlite3.Connection, *, wire: Wire, span_rows: Wire) -> InsertResult:
    """Read what the plan needs, plan (dedupe, chain, counters), write every row (store/plan.py).

    ``wire`` is ``event_wire(events)``, ``span_rows`` is ``span_wire(spans)``.
    """
    events = events_from_wire(wire)
    spans = spans_from_wire(span_rows)
    by_tenant: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for ev in events:
        ids, sids, aids = by_tenant.setdefault(ev.tenant_id, (set(), set(), set()))
        if ev.dedupe:
            ids.add(ev.id)
        sids.add(ev.session_id)
        aids.add(ev.agent_id)
    existing: dict[tuple[str, str], str] = {}
    sessions: dict[tuple[str, str], SessionState] = {}
    agents: dict[tuple[str, str], AgentState] = {}
    for tenant, (ids, sids, aids) in by_tenant.items():
        for chunk in chunks(sorted(ids)):
            for event_id, digest in db.execute(q.in_marks(q.SELECT_EXISTING_IDS, len(chunk)), (tenant, *chunk)):
                existing[(tenant, event_id)] = digest
        for chunk in chunks(sorted(sids)):
            for row in db.execute(q.in_marks(q.SELECT_SESSIONS_BY_IDS, len(chunk)), (tenant, *chunk)):
                st = rows.session_state(row)
                sessions[(tenant, st.id)] = st
        for chunk in chunks(sorted(aids)):
            for row in db.execute(q.in_marks(q.SELECT_AGENTS_BY_IDS, len(chunk)), (tenant, *chunk)):
                ag = rows.agent_state(row)
                agents[(tenant, ag.id)] = ag
    plan = plan_insert(events, existing=existing, sessions=sessions, agents=agents)
    if plan.event_rows:
        insert_rows(db, q.INSERT_EVENT, plan.event_rows)
        insert_rows(db, q.UPSERT_SESSION_STATE, [rows.session_state_row(s) for s in plan.sessions])
        insert_rows(db, q.UPSERT_AGENT_STATE, [rows.agent_state_row(a) for a in plan.agents])
        for s in plan.sessions:
            if s.tags_changed:
                db.execute(q.DELETE_SESSION_TAGS, (s.tenant_id, s.id))
                insert_rows(db, q.INSERT_SESSION_TAG, [(s.tenant_id, s.id, t) for t in s.tags])
    _write_rollups_and_spans(db, plan.event_rows, spans)
    return InsertResult(
        outcomes=tuple(plan.outcomes), inserted=plan.inserted, duplicates=plan.duplicates,
        sessions_touched=tuple((s.tenant_id, s.id) for s in plan.sessions),
    )


def split_insert_result(result: InsertResult, wires: Sequence[Wire]) -> list[InsertResult]:
    """The result of one insert of several ``event_wire`` joined, as one result per wire."""
    parts: list[InsertResult] = []
    start = 0
    for wire in wires:
        n = wire_length(wire)
        outcomes = result.outcomes[start:start + n]
        start += n
        duplicates = sum(1 for o in outcomes if o.duplicate)
        tenants = wire[0] if wire else ()
        touched = dict.fromkeys((t, o.session_id) for t, o in zip(tenants, outcomes, strict=True) if not o.duplicate)
        parts.append(InsertResult(outcomes=outcomes, inserted=len(outcomes) - duplicates, duplicates=duplicates,
                                  sessions_touched=tuple(touched)))
    return parts


def _write_rollups_and_spans(db: sqlite3.Connection, event_rows: Sequence[EventRow], spans: Sequence[NewSpan]) -> None:
    """Inside the insert transaction: rollup increments of the inserted events, then the spans."""
    if event_rows:
        session_rows, type_rows = rollup_rows(event_rows)
        insert_rows(db, q.UPSERT_ROLLUP_SESSIONS, session_rows)
        insert_rows(db, q.UPSERT_ROLLUP_TYPES, type_rows)
    if spans:
        resources: dict[tuple[str, str], tuple[str, int]] = {}
        for s in spans:
            key = (s.tenant_id, s.resource_key)
            seen = resources.get(key)
            if seen is None or s.start_ns > seen[1]:
                resources[key] = (s.resource_json, s.start_ns)
        insert_rows(db, q.UPSERT_SPAN_RESOURCE, [(t, k, body, last) for (t, k), (body, last) in resources.items()])
        insert_rows(db, q.INSERT_SPAN, [(
            s.tenant_id, s.trace_id, s.span_id, s.parent_span_id, s.session_id, s.agent_id, s.service_name, s.name,
            s.kind, s.start_ns, s.end_ns, s.duration_ns, s.status_code, s.resource_key, s.body_json,
        ) for s in spans])


# ------------------------------------------------------------------ sessions, agents


def _update_fields(db: sqlite3.Connection, template: str, values: Mapping[str, Any], tenant: str, key: str) -> None:
    if values:
        assignments = ", ".join(f"{col} = ?" for col in values)
        db.execute(template.format(assignments=assignments), (*values.values(), tenant, key))


def upsert_session(
    db: sqlite3.Connection, *, tenant: str, patch: SessionPatch, values: Mapping[str, Any], started_at: str,
    started_ts: int,
) -> None:
    """Update the given fields, or insert with defaults (``started_at`` used only on insert)."""
    if db.execute(q.SELECT_SESSION, (tenant, patch.id)).fetchone() is not None:
        _update_fields(db, q.UPDATE_SESSION_FIELDS, values, tenant, patch.id)
    else:
        db.execute(q.INSERT_SESSION_DEFAULTS, (
            tenant, patch.id, patch.agent_id or "", patch.agent_name, started_at, started_ts,
            patch.ended_at, patch.status or "active", patch.event_count or 0, patch.tool_call_count or 0,
            patch.error_count or 0, patch.total_cost_usd or 0.0, patch.llm_call_count or 0,
            patch.total_input_tokens or 0, patch.total_output_tokens or 0,
            values.get("tags", "[]"), started_at, started_ts, tenant,
        ))
    if patch.tags is not None:
        db.execute(q.DELETE_SESSION_TAGS, (tenant, patch.id))
        insert_rows(db, q.INSERT_SESSION_TAG, [(tenant, patch.id, t) for t in patch.tags])


def upsert_agent(
    db: sqlite3.Connection, *, tenant: str, patch: AgentPatch, values: Mapping[str, Any], seen: str, seen_ts: int,
) -> None:
    """Update the given fields, or insert with defaults (first and last seen = ``seen``)."""
    if db.execute(q.SELECT_AGENT, (tenant, patch.id)).fetchone() is not None:
        _update_fields(db, q.UPDATE_AGENT_FIELDS, values, tenant, patch.id)
    else:
        db.execute(q.INSERT_AGENT_DEFAULTS, (
            tenant, patch.id, patch.name or patch.id, patch.description, seen, seen_ts, seen, seen_ts, tenant,
        ))


# ------------------------------------------------------------------ alert rules and history


def insert_alert_rule(db: sqlite3.Connection, *, row: tuple[Any, ...]) -> None:
    db.execute(q.INSERT_ALERT_RULE, row)


def update_alert_rule(
    db: sqlite3.Connection, *, tenant: str, rule_id: str, patch: AlertRulePatch, now: str,
) -> AlertRule:
    row = db.execute(q.SELECT_ALERT_RULE, (tenant, rule_id)).fetchone()
    if row is None:
        raise NotFound("Alert rule not found")
    updated = rowcodec.patch_alert_rule(rows.alert_rule(row), patch, now)
    r = rows.alert_rule_row(updated)
    db.execute(q.UPDATE_ALERT_RULE, (*r[1:8], updated.updated_at, tenant, rule_id))
    return updated


def delete_alert_rule(db: sqlite3.Connection, *, tenant: str, rule_id: str) -> None:
    if db.execute(q.DELETE_ALERT_RULE, (tenant, rule_id)).rowcount == 0:
        raise NotFound("Alert rule not found")


def insert_alert_history(db: sqlite3.Connection, *, tenant: str, entry: AlertHistoryEntry, triggered_ts: int) -> None:
    db.execute(q.INSERT_ALERT_HISTORY, (
        entry.id, entry.rule_id, entry.triggered_at, triggered_ts, entry.resolved_at, entry.current_value,
        entry.threshold, entry.message, tenant,
    ))


def resolve_alert_history(db: sqlite3.Connection, *, tenant: str, entry_id: str, resolved_at: str) -> None:
    if db.execute(q.RESOLVE_ALERT_HISTORY, (resolved_at, tenant, entry_id)).rowcount == 0:
        raise NotFound("Alert history entry not found")


# ------------------------------------------------------------------ keys and settings


def insert_api_key(db: sqlite3.Connection, *, key: ApiKey) -> None:
    try:
        db.execute(q.INSERT_API_KEY, rows.api_key_row(key))
    except sqlite3.IntegrityError as exc:
        raise Conflict("API key already exists") from exc


def revoke_api_key(db: sqlite3.Connection, *, tenant: str | None, key_id: str, when: int) -> ApiKey:
    row = db.execute(q.SELECT_API_KEY, (key_id,)).fetchone()
    if row is None or (tenant is not None and row[4] != tenant):
        raise NotFound("API key not found")
    key = rows.api_key(row)
    if key.revoked_at is not None:
        raise Conflict("API key already revoked")
    db.execute(q.REVOKE_API_KEY, (when, key_id))
    return rowcodec.with_revoked(key, when)


def touch_api_key(db: sqlite3.Connection, *, key_id: str, when: int) -> None:
    db.execute(q.TOUCH_API_KEY, (when, key_id))


def put_settings(db: sqlite3.Connection, *, tenant: str, values: Mapping[str, str]) -> None:
    insert_rows(db, q.UPSERT_SETTING, [(tenant, k, v) for k, v in values.items()])


# ------------------------------------------------------------------ retention


def delete_expired_batch(
    db: sqlite3.Connection, *, tenant: str, cutoff_us: int, batch_size: int, now: str,
) -> tuple[list[RetentionBatch], list[DeletedRun]]:
    """Delete up to ``batch_size`` of the oldest expired events, anchoring every deleted run first."""
    batch = [
        RetentionBatch(int(r[0]), r[1], int(r[2]), r[3], r[4])
        for r in db.execute(q.SELECT_EXPIRED_BATCH, (tenant, cutoff_us, batch_size))
    ]
    if not batch:
        return [], []
    runs = plan_retention_batch(batch)
    for run in runs:
        _record_anchor(db, tenant, run, now)
    for rowids in chunks([b.rowid for b in batch]):
        db.execute(q.in_marks(q.DELETE_EVENTS_BY_ROWIDS, len(rowids)), rowids)
    return batch, runs


def _record_anchor(db: sqlite3.Connection, tenant: str, run: DeletedRun, now: str) -> None:
    """Add a deleted run of seqs to the session's anchors, merging with adjacent ones."""
    left = db.execute(q.SELECT_ANCHOR_ENDING_AT, (tenant, run.session_id, run.from_seq - 1)).fetchone()
    right = db.execute(q.SELECT_ANCHOR_STARTING_AT, (tenant, run.session_id, run.to_seq + 1)).fetchone()
    w = merge_anchor(run, Anchored(*left) if left else None, Anchored(*right) if right else None)
    if w.delete_id is not None:
        db.execute(q.DELETE_ANCHOR, (w.delete_id,))
    if w.update_id is not None:
        db.execute(q.REWRITE_ANCHOR, (
            w.from_seq, w.to_seq, w.first_prev_hash, w.last_hash, w.count, w.digest, w.update_id,
        ))
    else:
        db.execute(q.INSERT_ANCHOR, (
            tenant, run.session_id, w.from_seq, w.to_seq, w.first_prev_hash, w.last_hash, w.count, w.digest, now,
        ))


def delete_empty_sessions(db: sqlite3.Connection, *, tenant: str, session_ids: Sequence[str]) -> list[str]:
    """Delete the given sessions that no longer have events (with their tags and anchors)."""
    deleted: list[str] = []
    for sid in session_ids:
        if db.execute(q.DELETE_SESSION_IF_EMPTY, (tenant, sid)).rowcount:
            deleted.append(sid)
            db.execute(q.DELETE_ORPHAN_TAGS, (tenant, sid))
            db.execute(q.DELETE_SESSION_ANCHORS, (tenant, sid))
    return deleted


def fix_rollups_after_retention(db: sqlite3.Connection, *, tenant: str, cutoff_us: int) -> None:
    """Drop rollup hours wholly before the cutoff and recompute the cutoff's own hour from events."""
    hour = cutoff_us - cutoff_us % HOUR_US
    db.execute(q.DELETE_ROLLUP_SESSIONS_UNTIL, (tenant, hour))
    db.execute(q.DELETE_ROLLUP_TYPES_UNTIL, (tenant, hour))
    db.execute(q.RECOMPUTE_ROLLUP_SESSIONS, (tenant, hour, hour + HOUR_US))
    db.execute(q.RECOMPUTE_ROLLUP_TYPES, (tenant, hour, hour + HOUR_US))


def delete_spans_batch(db: sqlite3.Connection, *, tenant: str, cutoff_ns: int, batch_size: int) -> int:
    """Delete up to ``batch_size`` spans started by ``cutoff_ns``; on the last batch, stale resources too."""
    deleted = int(db.execute(q.DELETE_SPANS_BATCH, (tenant, cutoff_ns, batch_size)).rowcount)
    if deleted < batch_size:
        db.execute(q.DELETE_STALE_SPAN_RESOURCES, (tenant, cutoff_ns))
    return deleted


def record_retention_run(
    db: sqlite3.Connection, *, started_at: str, cutoff: str, totals: tuple[int, int, int], duration_ms: float,
    details: str,
) -> None:
    db.execute(q.INSERT_RETENTION_RUN, (started_at, cutoff, *totals, duration_ms, details))
