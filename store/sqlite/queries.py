"""SQLite SQL text (qmark parameters) and the builders of filtered queries; nothing else."""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Sequence

from store.aggregates import EventAggQuery, PercentileQuery, SessionAggQuery
from store.model import EventQuery, SessionQuery
from store.plan import EVENT_COLUMNS
from store.spans import SpanAnd, SpanCmp, SpanContains, SpanFilter, SpanScan, check_span_cmp

# ruff: noqa: E501

# ------------------------------------------------------------------ migrations

CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at TEXT    NOT NULL
)"""
SELECT_APPLIED_MIGRATIONS = "SELECT version, name FROM schema_migrations ORDER BY version"
# filled with an int, a [a-z0-9_] name and a fixed-format time, then run inside the migration's script
RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name, applied_at) VALUES ({version}, '{name}', '{applied_at}')"

SELECT_ONE = "SELECT 1"

# ------------------------------------------------------------------ events

EVENT_FIELDS = "id, timestamp, session_id, agent_id, event_type, severity, payload, metadata, prev_hash, hash, tenant_id, seq, ts"

INSERT_EVENT = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"

SELECT_EXISTING_IDS = "SELECT id, hash FROM events WHERE tenant_id = ? AND id IN ({marks})"

SELECT_EVENT = f"SELECT {EVENT_FIELDS} FROM events WHERE tenant_id = ? AND id = ?"
SELECT_EVENTS_BY_IDS = f"SELECT {EVENT_FIELDS} FROM events WHERE tenant_id = ? AND id IN ({{marks}})"

SELECT_TIMELINE = f"SELECT {EVENT_FIELDS} FROM events WHERE tenant_id = ? AND session_id = ? ORDER BY ts, id"
SELECT_TIMELINE_LIMIT = SELECT_TIMELINE + " LIMIT ?"
SELECT_TIMELINE_AFTER = (
    f"SELECT {EVENT_FIELDS} FROM events WHERE tenant_id = ? AND session_id = ? AND (ts > ? OR (ts = ? AND id > ?)) "
    "ORDER BY ts, id LIMIT ?"
)
SELECT_EVENT_POSITION = "SELECT ts, id FROM events WHERE tenant_id = ? AND session_id = ? AND id = ?"

SELECT_CHAIN_CHUNK = (
    f"SELECT {EVENT_FIELDS} FROM events WHERE tenant_id = ? AND session_id = ? AND seq > ? ORDER BY seq LIMIT ?"
)

# ------------------------------------------------------------------ sessions

SESSION_FIELDS = (
    "id, agent_id, agent_name, started_at, started_ts, ended_at, status, event_count, tool_call_count, "
    "error_count, total_cost_usd, llm_call_count, total_input_tokens, total_output_tokens, tags, tenant_id, "
    "last_event_at, last_event_ts, chain_seq, chain_head"
)

SELECT_SESSION = f"SELECT {SESSION_FIELDS} FROM sessions WHERE tenant_id = ? AND id = ?"
SELECT_SESSIONS_BY_IDS = f"SELECT {SESSION_FIELDS} FROM sessions WHERE tenant_id = ? AND id IN ({{marks}})"

UPSERT_SESSION_STATE = """
INSERT INTO sessions (tenant_id, id, agent_id, agent_name, started_at, started_ts, ended_at, status,
    event_count, tool_call_count, error_count, total_cost_usd, llm_call_count, total_input_tokens,
    total_output_tokens, tags, last_event_at, last_event_ts, chain_seq, chain_head, project_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, id) DO UPDATE SET
    agent_name = excluded.agent_name, ended_at = excluded.ended_at, status = excluded.status,
    event_count = excluded.event_count, tool_call_count = excluded.tool_call_count,
    error_count = excluded.error_count, total_cost_usd = excluded.total_cost_usd,
    llm_call_count = excluded.llm_call_count, total_input_tokens = excluded.total_input_tokens,
    total_output_tokens = excluded.total_output_tokens, tags = excluded.tags,
    last_event_at = excluded.last_event_at, last_event_ts = excluded.last_event_ts,
    chain_seq = excluded.chain_seq, chain_head = excluded.chain_head
"""

DELETE_SESSION_TAGS = "DELETE FROM session_tags WHERE tenant_id = ? AND session_id = ?"
INSERT_SESSION_TAG = "INSERT OR IGNORE INTO session_tags (tenant_id, session_id, tag) VALUES (?, ?, ?)"

UPDATE_SESSION_FIELDS = "UPDATE sessions SET {assignments} WHERE tenant_id = ? AND id = ?"

INSERT_SESSION_DEFAULTS = """
INSERT INTO sessions (tenant_id, id, agent_id, agent_name, started_at, started_ts, ended_at, status,
    event_count, tool_call_count, error_count, total_cost_usd, llm_call_count, total_input_tokens,
    total_output_tokens, tags, last_event_at, last_event_ts, project_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

# ------------------------------------------------------------------ agents

AGENT_FIELDS = "a.id, a.name, a.description, a.first_seen_at, a.last_seen_at, a.tenant_id, a.first_seen_ts, a.last_seen_ts"

SELECT_AGENTS_BY_IDS = f"SELECT {AGENT_FIELDS} FROM agents a WHERE a.tenant_id = ? AND a.id IN ({{marks}})"

UPSERT_AGENT_STATE = """
INSERT INTO agents (tenant_id, id, name, first_seen_at, first_seen_ts, last_seen_at, last_seen_ts, project_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, id) DO UPDATE SET
    name = excluded.name, first_seen_at = excluded.first_seen_at, first_seen_ts = excluded.first_seen_ts,
    last_seen_at = excluded.last_seen_at, last_seen_ts = excluded.last_seen_ts
"""

_AGENT_SESSION_COUNT = "(SELECT COUNT(*) FROM sessions s WHERE s.tenant_id = a.tenant_id AND s.agent_id = a.id)"
SELECT_AGENTS = f"SELECT {AGENT_FIELDS}, {_AGENT_SESSION_COUNT} FROM agents a WHERE a.tenant_id = ? ORDER BY a.last_seen_ts DESC, a.id DESC"
SELECT_AGENT = f"SELECT {AGENT_FIELDS}, {_AGENT_SESSION_COUNT} FROM agents a WHERE a.tenant_id = ? AND a.id = ?"
UPDATE_AGENT_FIELDS = "UPDATE agents SET {assignments} WHERE tenant_id = ? AND id = ?"
INSERT_AGENT_DEFAULTS = """
INSERT INTO agents (tenant_id, id, name, description, first_seen_at, first_seen_ts, last_seen_at, last_seen_ts, project_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

# ------------------------------------------------------------------ stats and analytics

SELECT_STATS = """
SELECT
    (SELECT COALESCE(SUM(event_count), 0) FROM rollup_types_hourly WHERE tenant_id = :t),
    (SELECT COUNT(*) FROM sessions WHERE tenant_id = :t),
    (SELECT COUNT(*) FROM agents WHERE tenant_id = :t),
    (SELECT timestamp FROM events WHERE tenant_id = :t ORDER BY ts ASC, id ASC LIMIT 1),
    (SELECT timestamp FROM events WHERE tenant_id = :t ORDER BY ts DESC, id DESC LIMIT 1)
"""
SELECT_DB_SIZE = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"

def alert_window_stats(agent: bool, tags: int) -> str:
    where = "e.tenant_id = ? AND e.ts >= ? AND e.ts <= ? AND e.source IS NOT 'otlp_metric'"
    if agent:
        where += " AND e.agent_id = ?"
    if tags:
        marks = ", ".join("?" * tags)
        where += (
            " AND EXISTS (SELECT 1 FROM session_tags st WHERE st.tenant_id = e.tenant_id"
            f" AND st.session_id = e.session_id AND st.tag IN ({marks}))"
        )
    return (
        "SELECT COUNT(*), SUM(e.severity IN ('error', 'critical') OR e.event_type = 'tool_error'), "
        "SUM(CASE WHEN e.event_type IN ('cost_tracked', 'llm_response') THEN e.cost_usd END), "
        "AVG(CASE WHEN e.event_type = 'tool_response' THEN e.duration_ms END) "
        f"FROM events e WHERE {where}"
    )


# ------------------------------------------------------------------ alert rules and history

ALERT_RULE_FIELDS = "id, name, enabled, condition, threshold, window_minutes, scope, notify_channels, created_at, updated_at, tenant_id"
INSERT_ALERT_RULE = f"INSERT INTO alert_rules ({ALERT_RULE_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
SELECT_ALERT_RULE = f"SELECT {ALERT_RULE_FIELDS} FROM alert_rules WHERE tenant_id = ? AND id = ?"
SELECT_ALERT_RULES = f"SELECT {ALERT_RULE_FIELDS} FROM alert_rules WHERE tenant_id = ? ORDER BY created_at, id"
UPDATE_ALERT_RULE = """
UPDATE alert_rules SET name = ?, enabled = ?, condition = ?, threshold = ?, window_minutes = ?, scope = ?,
    notify_channels = ?, updated_at = ?
WHERE tenant_id = ? AND id = ?
"""
DELETE_ALERT_RULE = "DELETE FROM alert_rules WHERE tenant_id = ? AND id = ?"

HISTORY_FIELDS = "id, rule_id, triggered_at, resolved_at, current_value, threshold, message, tenant_id"
INSERT_ALERT_HISTORY = (
    "INSERT INTO alert_history (id, rule_id, triggered_at, triggered_ts, resolved_at, current_value, threshold, message, tenant_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
RESOLVE_ALERT_HISTORY = "UPDATE alert_history SET resolved_at = ? WHERE tenant_id = ? AND id = ?"


def alert_history_page(by_rule: bool) -> tuple[str, str]:
    where = "tenant_id = ?" + (" AND rule_id = ?" if by_rule else "")
    return (
        f"SELECT {HISTORY_FIELDS} FROM alert_history WHERE {where} ORDER BY triggered_ts DESC, id DESC LIMIT ? OFFSET ?",
        f"SELECT COUNT(*) FROM alert_history WHERE {where}",
    )


# ------------------------------------------------------------------ keys and settings

KEY_FIELDS = "id, key_hash, name, scopes, tenant_id, created_at, last_used_at, revoked_at, expires_at"
INSERT_API_KEY = f"INSERT INTO api_keys ({KEY_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
SELECT_API_KEY_BY_HASH = f"SELECT {KEY_FIELDS} FROM api_keys WHERE key_hash = ?"
SELECT_API_KEY = f"SELECT {KEY_FIELDS} FROM api_keys WHERE id = ?"
SELECT_API_KEYS_ALL = f"SELECT {KEY_FIELDS} FROM api_keys ORDER BY created_at, id"
SELECT_API_KEYS_TENANT = f"SELECT {KEY_FIELDS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id"
REVOKE_API_KEY = "UPDATE api_keys SET revoked_at = ? WHERE id = ?"
TOUCH_API_KEY = "UPDATE api_keys SET last_used_at = ? WHERE id = ?"
COUNT_USABLE_API_KEYS = "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"

SELECT_SETTINGS = "SELECT key, value FROM config_kv WHERE tenant_id = ?"
UPSERT_SETTING = (
    "INSERT INTO config_kv (tenant_id, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value"
)

SELECT_TENANTS = """
SELECT tenant_id FROM sessions GROUP BY tenant_id
UNION SELECT tenant_id FROM alert_rules
UNION SELECT tenant_id FROM api_keys
UNION SELECT tenant_id FROM config_kv
"""

# ------------------------------------------------------------------ retention

SELECT_EXPIRED_BATCH = (
    "SELECT rowid, session_id, seq, hash, prev_hash FROM events WHERE tenant_id = ? AND ts <= ? "
    "ORDER BY ts LIMIT ?"
)
DELETE_EVENTS_BY_ROWIDS = "DELETE FROM events WHERE rowid IN ({marks})"
_ANCHOR_ROW = "id, from_seq, to_seq, first_prev_hash, last_deleted_hash, deleted_count, digest"
SELECT_ANCHOR_ENDING_AT = (
    f"SELECT {_ANCHOR_ROW} FROM chain_anchors WHERE tenant_id = ? AND session_id = ? AND to_seq = ? "
    "ORDER BY id DESC LIMIT 1"
)
SELECT_ANCHOR_STARTING_AT = (
    f"SELECT {_ANCHOR_ROW} FROM chain_anchors WHERE tenant_id = ? AND session_id = ? AND from_seq = ? "
    "ORDER BY id DESC LIMIT 1"
)
INSERT_ANCHOR = (
    "INSERT INTO chain_anchors (tenant_id, session_id, from_seq, to_seq, first_prev_hash, last_deleted_hash, "
    "deleted_count, digest, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
REWRITE_ANCHOR = (
    "UPDATE chain_anchors SET from_seq = ?, to_seq = ?, first_prev_hash = ?, last_deleted_hash = ?, "
    "deleted_count = ?, digest = ? WHERE id = ?"
)
SELECT_ANCHORS = (
    "SELECT from_seq, to_seq, first_prev_hash, last_deleted_hash FROM chain_anchors "
    "WHERE tenant_id = ? AND session_id = ? ORDER BY from_seq"
)
DELETE_SESSION_IF_EMPTY = """
DELETE FROM sessions WHERE tenant_id = ? AND id = ?
    AND NOT EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = sessions.tenant_id AND e.session_id = sessions.id)
"""
DELETE_ORPHAN_TAGS = """
DELETE FROM session_tags WHERE tenant_id = ? AND session_id = ?
    AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.tenant_id = session_tags.tenant_id AND s.id = session_tags.session_id)
"""
INSERT_RETENTION_RUN = (
    "INSERT INTO retention_runs (started_at, cutoff, deleted_count, sessions_deleted, anchored_sessions, duration_ms, details) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
SELECT_RETENTION_RUNS = (
    "SELECT started_at, cutoff, deleted_count, sessions_deleted, anchored_sessions, duration_ms, details "
    "FROM retention_runs ORDER BY id DESC LIMIT ?"
)


# ------------------------------------------------------------------ filtered event and session queries


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def event_filters(q: EventQuery) -> tuple[str, list[object]]:
    """WHERE clause (without the keyword) and parameters for an EventQuery."""
    clauses = ["tenant_id = ?"]
    params: list[object] = []
    if q.session_id is not None:
        clauses.append("session_id = ?")
        params.append(q.session_id)
    if q.agent_id is not None:
        clauses.append("agent_id = ?")
        params.append(q.agent_id)
    if q.event_types:
        clauses.append(f"event_type IN ({_marks(len(q.event_types))})")
        params.extend(q.event_types)
    if q.severities:
        clauses.append(f"severity IN ({_marks(len(q.severities))})")
        params.extend(q.severities)
    if q.from_us is not None:
        clauses.append("ts >= ?")
        params.append(q.from_us)
    if q.to_us is not None:
        clauses.append("ts <= ?")
        params.append(q.to_us)
    if q.search:
        clauses.append("payload LIKE ? ESCAPE '\\'")
        params.append(q.search)
    if q.exclude_metrics:
        clauses.append("source IS NOT 'otlp_metric'")
    return " AND ".join(clauses), params


def select_events(where: str, order: str) -> str:
    direction = "DESC" if order == "desc" else "ASC"
    return f"SELECT {EVENT_FIELDS} FROM events WHERE {where} ORDER BY ts {direction}, id {direction} LIMIT ? OFFSET ?"


def count_events(where: str) -> str:
    return f"SELECT COUNT(*) FROM events WHERE {where}"


def count_events_rollup(q: EventQuery) -> tuple[str, list[object]]:
    """The count of an EventQuery that ``rollup_countable`` accepts, from the per-type rollup."""
    sql = "SELECT COALESCE(SUM(event_count), 0) FROM rollup_types_hourly WHERE tenant_id = ?"
    params: list[object] = []
    if q.event_types:
        sql += f" AND event_type IN ({_marks(len(q.event_types))})"
        params.extend(q.event_types)
    if q.exclude_metrics:
        sql += " AND metric = 0"
    return sql, params


def session_filters(q: SessionQuery, idle_before_us: int) -> tuple[str, list[object]]:
    """WHERE clause and parameters for a SessionQuery; ``idle`` is derived from the last event time."""
    clauses = ["tenant_id = ?"]
    params: list[object] = []
    if q.agent_id is not None:
        clauses.append("agent_id = ?")
        params.append(q.agent_id)
    if q.statuses:
        ors: list[str] = []
        stored = [s for s in q.statuses if s in ("completed", "error")]
        if stored:
            ors.append(f"status IN ({_marks(len(stored))})")
            params.extend(stored)
        if "active" in q.statuses and "idle" in q.statuses:
            ors.append("status = 'active'")
        elif "active" in q.statuses:
            ors.append("(status = 'active' AND COALESCE(last_event_ts, started_ts) >= ?)")
            params.append(idle_before_us)
        elif "idle" in q.statuses:
            ors.append("(status = 'active' AND COALESCE(last_event_ts, started_ts) < ?)")
            params.append(idle_before_us)
        clauses.append("(" + (" OR ".join(ors) if ors else "0") + ")")
    if q.from_us is not None:
        clauses.append("started_ts >= ?")
        params.append(q.from_us)
    if q.to_us is not None:
        clauses.append("started_ts <= ?")
        params.append(q.to_us)
    if q.tags:
        clauses.append(
            "EXISTS (SELECT 1 FROM session_tags st WHERE st.tenant_id = sessions.tenant_id "
            f"AND st.session_id = sessions.id AND st.tag IN ({_marks(len(q.tags))}))"
        )
        params.extend(q.tags)
    return " AND ".join(clauses), params


def select_sessions(where: str) -> str:
    return f"SELECT {SESSION_FIELDS} FROM sessions WHERE {where} ORDER BY started_ts DESC, id DESC LIMIT ? OFFSET ?"


def count_sessions(where: str) -> str:
    return f"SELECT COUNT(*) FROM sessions WHERE {where}"


@functools.lru_cache(maxsize=256)
def multi_row(sql: str, rows: int) -> str:
    """``INSERT ... VALUES (?, ...) [tail]`` with the VALUES tuple repeated for ``rows`` rows.

    One statement per many rows lets SQLite insert them in one step without the GIL; executemany
    re-takes the GIL for every row, which stalls the writer thread behind the event loop.
    """
    m = _VALUES_TUPLE.search(sql)
    if m is None:
        raise ValueError("not a single-row INSERT ... VALUES (...) statement")
    return sql[:m.start(1)] + ", ".join([m[1]] * rows) + sql[m.end(1):]


_VALUES_TUPLE = re.compile(r"VALUES\s*(\((?:\s*\?\s*,)*\s*\?\s*\))")


def in_marks(template: str, n: int) -> str:
    """Fill a ``{marks}`` placeholder with ``n`` qmarks."""
    return template.format(marks=_marks(n))

DELETE_ANCHOR = "DELETE FROM chain_anchors WHERE id = ?"
DELETE_SESSION_ANCHORS = "DELETE FROM chain_anchors WHERE tenant_id = ? AND session_id = ?"


# ------------------------------------------------------------------ analytics rollups and aggregations
# (store/aggregates.py decides which hours come from the rollups and which from the events)

UPSERT_ROLLUP_SESSIONS = """
INSERT INTO rollup_sessions_hourly (tenant_id, hour, agent_id, session_id, metric, event_count, tool_call_count,
    error_count, latency_sum, latency_count, cost_sum, cost_count, input_tokens, output_tokens, cache_read_tokens,
    cache_write_tokens)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, hour, agent_id, session_id, metric) DO UPDATE SET
    event_count = event_count + excluded.event_count, tool_call_count = tool_call_count + excluded.tool_call_count,
    error_count = error_count + excluded.error_count, latency_sum = latency_sum + excluded.latency_sum,
    latency_count = latency_count + excluded.latency_count, cost_sum = cost_sum + excluded.cost_sum,
    cost_count = cost_count + excluded.cost_count, input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
    cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens
"""
UPSERT_ROLLUP_TYPES = """
INSERT INTO rollup_types_hourly (tenant_id, hour, event_type, model, provider, tool_name, metric,
    event_count, error_count, cost_sum, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    duration_sum, duration_count)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, hour, event_type, model, provider, tool_name, metric) DO UPDATE SET
    event_count = event_count + excluded.event_count, error_count = error_count + excluded.error_count,
    cost_sum = cost_sum + excluded.cost_sum, input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
    cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
    duration_sum = duration_sum + excluded.duration_sum, duration_count = duration_count + excluded.duration_count
"""

_HOUR_OF_TS = "ts - (((ts % 3600000000) + 3600000000) % 3600000000)"
_ERROR = "(severity IN ('error', 'critical') OR event_type = 'tool_error')"
_COST_TYPES = "('cost_tracked', 'llm_response')"
_COST_TOKENS = ", ".join(
    f"COALESCE(SUM(CASE WHEN event_type IN {_COST_TYPES} THEN {c} END), 0)"
    for c in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
)

# retention: the rollups of hours before the cutoff's hour go, the cutoff's hour is recomputed
DELETE_ROLLUP_SESSIONS_UNTIL = "DELETE FROM rollup_sessions_hourly WHERE tenant_id = ? AND hour <= ?"
DELETE_ROLLUP_TYPES_UNTIL = "DELETE FROM rollup_types_hourly WHERE tenant_id = ? AND hour <= ?"
RECOMPUTE_ROLLUP_SESSIONS = f"""
INSERT INTO rollup_sessions_hourly
SELECT tenant_id, {_HOUR_OF_TS}, agent_id, session_id, source IS 'otlp_metric', COUNT(*),
    SUM(event_type = 'tool_call'), SUM({_ERROR}),
    TOTAL(CASE WHEN event_type = 'tool_response' THEN duration_ms END),
    COUNT(CASE WHEN event_type = 'tool_response' THEN duration_ms END),
    TOTAL(CASE WHEN event_type IN {_COST_TYPES} THEN cost_usd END), SUM(event_type IN {_COST_TYPES}),
    {_COST_TOKENS}
FROM events WHERE tenant_id = ? AND ts >= ? AND ts < ? GROUP BY 1, 2, 3, 4, 5
"""
RECOMPUTE_ROLLUP_TYPES = f"""
INSERT INTO rollup_types_hourly
SELECT tenant_id, {_HOUR_OF_TS}, event_type, COALESCE(model, ''), COALESCE(provider, ''),
    COALESCE(tool_name, ''), source IS 'otlp_metric', COUNT(*), SUM({_ERROR}), TOTAL(cost_usd),
    COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_read_tokens), 0),
    COALESCE(SUM(cache_write_tokens), 0), TOTAL(duration_ms), COUNT(duration_ms)
FROM events WHERE tenant_id = ? AND ts >= ? AND ts < ? GROUP BY 1, 2, 3, 4, 5, 6, 7
"""


# computed once for the buckets and the totals of /api/analytics (SQLite >= 3.35 takes the hint)
_MATERIALIZED = "MATERIALIZED " if sqlite3.sqlite_version_info >= (3, 35) else ""


def _bucket(column: str, step_offset: tuple[int, int] | None) -> str:
    """Bucket start of a microsecond column, floored (also before 1970); NULL for a single bucket."""
    if step_offset is None:
        return "NULL"
    step, offset = int(step_offset[0]), int(step_offset[1])
    return f"({column} - ((({column} - {offset}) % {step}) + {step}) % {step})"


class _Args:
    """Collects qmark parameters next to the clauses that use them."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def __call__(self, value: object) -> str:
        self.values.append(value)
        return "?"


def _session_rollup_where(tenant: str, q: SessionAggQuery, full: tuple[int, int], a: _Args) -> str:
    """The session rollup's rows of the whole hours ``full`` that a SessionAggQuery selects."""
    where = f"tenant_id = {a(tenant)} AND hour >= {a(full[0])} AND hour < {a(full[1])}"
    if q.agent_id is not None:
        where += f" AND agent_id = {a(q.agent_id)}"
    if q.exclude_metrics:
        where += " AND metric = 0"
    return where


def _session_events_where(tenant: str, q: SessionAggQuery, lo: int, hi: int, a: _Args) -> str:
    """The events in ``[lo, hi]`` (a partial hour) that a SessionAggQuery selects."""
    where = f"tenant_id = {a(tenant)} AND ts >= {a(lo)} AND ts <= {a(hi)}"
    if q.agent_id is not None:
        where += f" AND agent_id = {a(q.agent_id)}"
    if q.exclude_metrics:
        where += " AND source IS NOT 'otlp_metric'"
    return where


def session_agg(
    tenant: str, q: SessionAggQuery, full: tuple[int, int] | None, raw: Sequence[tuple[int, int]], *,
    with_totals: bool = False,
) -> tuple[str, list[object]]:
    """Rows of (kind, bucket, agent|NULL, sessions, agents, events, tool calls, errors, latency sum/count, cost
    sum/count, tokens): kind 0 per bucket (and agent); with ``with_totals`` one more row of kind 1 for the
    whole range, computed from the same (materialized) rows so the raw edges are read once."""
    a = _Args()
    parts: list[str] = []
    if full is not None:
        parts.append(
            "SELECT hour, agent_id, session_id, event_count, tool_call_count, error_count, latency_sum, latency_count, "
            "cost_sum, cost_count, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens "
            f"FROM rollup_sessions_hourly WHERE {_session_rollup_where(tenant, q, full, a)}"
        )
    for lo, hi in raw:
        parts.append(
            f"SELECT ts, agent_id, session_id, 1, event_type = 'tool_call', {_ERROR}, "
            "CASE WHEN event_type = 'tool_response' THEN duration_ms END, "
            "event_type = 'tool_response' AND duration_ms IS NOT NULL, "
            f"CASE WHEN event_type IN {_COST_TYPES} THEN cost_usd END, event_type IN {_COST_TYPES}, "
            + ", ".join(f"CASE WHEN event_type IN {_COST_TYPES} THEN {c} END"
                        for c in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"))
            + f" FROM events WHERE {_session_events_where(tenant, q, lo, hi, a)}"
        )
    bucket = _bucket("t", q.buckets.step_and_offset())
    agent = "agent_id" if q.by_agent else "NULL"
    group = ["b"] + (["agent_id"] if q.by_agent else [])
    sums = (
        "COUNT(DISTINCT session_id), COUNT(DISTINCT agent_id), SUM(c), SUM(tc), SUM(ec), TOTAL(ls), SUM(lc), "
        "TOTAL(cs), SUM(cc), COALESCE(SUM(ti), 0), COALESCE(SUM(tout), 0), COALESCE(SUM(tcr), 0), "
        "COALESCE(SUM(tcw), 0)"
    )
    sql = (
        f"WITH r(t, agent_id, session_id, c, tc, ec, ls, lc, cs, cc, ti, tout, tcr, tcw) AS {_MATERIALIZED}("
        + " UNION ALL ".join(parts) + ") "
        f"SELECT 0, {bucket} AS b, {agent}, {sums} FROM r GROUP BY {', '.join(group)} "
        + (f"UNION ALL SELECT 1, NULL, NULL, {sums} FROM r " if with_totals else "")
        + f"ORDER BY 1, {', '.join(str(i + 2) for i in range(len(group)))}"
    )
    return sql, a.values


def _dimension_filters(q: EventAggQuery | PercentileQuery, a: _Args, *, rollup: bool) -> str:
    where = ""
    if q.event_types:
        where += f" AND event_type IN ({', '.join(a(t) for t in q.event_types)})"
    for column, value in (("agent_id", q.agent_id), ("model", q.model), ("provider", q.provider),
                          ("tool_name", q.tool_name)):
        if value is not None:
            where += f" AND {column} = {a(value)}"
    if isinstance(q, EventAggQuery) and q.has_tool_name:
        where += " AND tool_name <> ''" if rollup else " AND tool_name IS NOT NULL AND tool_name <> ''"
    if q.exclude_metrics:
        where += " AND metric = 0" if rollup else " AND source IS NOT 'otlp_metric'"
    return where


def _dims(group_by: Sequence[str], *, raw: bool) -> list[str]:
    return [f"COALESCE({d}, '')" if raw and d in ("model", "provider", "tool_name") else d for d in group_by]


def event_agg(tenant: str, q: EventAggQuery, full: tuple[int, int] | None, raw: Sequence[tuple[int, int]]) -> tuple[str, list[object]]:
    """Rows of (bucket, *group_by values ('' = none), events, errors, cost, in, out, cache read, cache write,
    duration sum, duration count)."""
    a = _Args()
    parts: list[str] = []
    cols = "agent_id, event_type, model, provider, tool_name"
    if full is not None:
        where = f"tenant_id = {a(tenant)} AND hour >= {a(full[0])} AND hour < {a(full[1])}"
        where += _dimension_filters(q, a, rollup=True)
        parts.append(  # no agent dimension here: callers send per-agent questions to the events (event_split)
            "SELECT hour, '', event_type, model, provider, tool_name, event_count, error_count, cost_sum, input_tokens, "
            "output_tokens, cache_read_tokens, cache_write_tokens, duration_sum, duration_count "
            f"FROM rollup_types_hourly WHERE {where}"
        )
    for lo, hi in raw:
        where = f"tenant_id = {a(tenant)} AND ts >= {a(lo)} AND ts <= {a(hi)}"
        where += _dimension_filters(q, a, rollup=False)
        parts.append(
            "SELECT ts, agent_id, event_type, COALESCE(model, ''), COALESCE(provider, ''), COALESCE(tool_name, ''), "
            f"1, {_ERROR}, cost_usd, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
            f"duration_ms, duration_ms IS NOT NULL FROM events WHERE {where}"
        )
    bucket = _bucket("t", q.buckets.step_and_offset())
    group = ["b", *q.group_by]
    sql = (
        f"WITH r(t, {cols}, c, ec, cs, it, ot, cr, cw, ds, dc) AS (" + " UNION ALL ".join(parts) + ") "
        f"SELECT {bucket} AS b{''.join(', ' + d for d in q.group_by)}, SUM(c), SUM(ec), TOTAL(cs), "
        "COALESCE(SUM(it), 0), COALESCE(SUM(ot), 0), COALESCE(SUM(cr), 0), COALESCE(SUM(cw), 0), TOTAL(ds), SUM(dc) "
        f"FROM r GROUP BY {', '.join(group)} ORDER BY {', '.join(group)}"
    )
    return sql, a.values


def top_sessions_by_cost(
    tenant: str, q: SessionAggQuery, full: tuple[int, int] | None, raw: Sequence[tuple[int, int]], limit: int,
) -> tuple[str, list[object]]:
    """Rows of (session, cost, cost events) for sessions with cost events, most expensive first."""
    a = _Args()
    parts: list[str] = []
    if full is not None:
        where = _session_rollup_where(tenant, q, full, a) + " AND cost_count > 0"
        parts.append(f"SELECT session_id, cost_sum, cost_count FROM rollup_sessions_hourly WHERE {where}")
    for lo, hi in raw:
        where = _session_events_where(tenant, q, lo, hi, a) + f" AND event_type IN {_COST_TYPES}"
        parts.append(f"SELECT session_id, cost_usd, 1 FROM events WHERE {where}")
    sql = (
        "WITH r(session_id, cs, cc) AS (" + " UNION ALL ".join(parts) + ") "
        "SELECT session_id, TOTAL(cs) AS cost, SUM(cc) FROM r GROUP BY session_id HAVING SUM(cc) > 0 "
        f"ORDER BY cost DESC, session_id LIMIT {a(limit)}"
    )
    return sql, a.values


def duration_values(tenant: str, q: PercentileQuery) -> tuple[str, list[object]]:
    """Rows of (bucket, *group_by ('' = none), duration) sorted by group then duration.

    The percentiles are picked from the sorted stream in Python (store.aggregates_fold): a plain
    ordered scan is several times faster in SQLite than window functions over the same rows.
    """
    a = _Args()
    where = f"tenant_id = {a(tenant)} AND ts >= {a(q.from_us)} AND ts <= {a(q.to_us)} AND duration_ms IS NOT NULL"
    where += _dimension_filters(q, a, rollup=False)
    dims = _dims(q.group_by, raw=True)
    order = ", ".join([*(str(i + 2) for i in range(len(dims))), f"{len(dims) + 2}"])
    sql = (
        f"SELECT {_bucket('ts', q.buckets.step_and_offset())} AS b{''.join(', ' + d for d in dims)}, duration_ms "
        f"FROM events WHERE {where} ORDER BY b{', ' if order else ''}{order}"
    )
    return sql, a.values


AGENT_SESSION_TOTALS = """
SELECT agent_id, COUNT(*), SUM(event_count), SUM(error_count), TOTAL(total_cost_usd)
FROM sessions WHERE tenant_id = ? AND started_ts >= ? AND started_ts <= ? GROUP BY agent_id
"""
AGENT_ENDED_SESSIONS = """
SELECT agent_id, started_ts, ended_at FROM sessions
WHERE tenant_id = ? AND started_ts >= ? AND started_ts <= ? AND ended_at IS NOT NULL
"""

# ------------------------------------------------------------------ spans (Tempo)

SPAN_COLUMNS = (
    "tenant_id, trace_id, span_id, parent_span_id, session_id, agent_id, service_name, name, kind, start_ns, "
    "end_ns, duration_ns, status_code, resource_key, body"
)
INSERT_SPAN = f"INSERT OR IGNORE INTO spans ({SPAN_COLUMNS}) VALUES ({', '.join('?' * 15)})"
UPSERT_SPAN_RESOURCE = """
INSERT INTO span_resources (tenant_id, key, body, last_seen_ns) VALUES (?, ?, ?, ?)
ON CONFLICT (tenant_id, key) DO UPDATE SET last_seen_ns = MAX(last_seen_ns, excluded.last_seen_ns)
"""
_SPAN_FIELDS = (
    "s.tenant_id, s.trace_id, s.span_id, s.parent_span_id, s.session_id, s.agent_id, s.service_name, s.name, "
    "s.kind, s.start_ns, s.end_ns, s.status_code, s.resource_key, COALESCE(r.body, ''), s.body"
)
_SPAN_FROM = "FROM spans s LEFT JOIN span_resources r ON r.tenant_id = s.tenant_id AND r.key = s.resource_key"
SELECT_TRACE_SPANS = (
    # no ORDER BY: with one, SQLite's planner walks idx_spans_start instead of the primary key (sorted in Python)
    f"SELECT {_SPAN_FIELDS} {_SPAN_FROM} WHERE s.tenant_id = ? AND s.trace_id IN ({{marks}})"
)
SELECT_SPAN_RESOURCES = (
    "SELECT key, body FROM span_resources WHERE tenant_id = ? AND last_seen_ns >= ? "
    "ORDER BY last_seen_ns DESC, key LIMIT ?"
)
SELECT_TRACE_EVENTS = (
    f"SELECT {EVENT_FIELDS} FROM events WHERE tenant_id = ? AND session_id IN ({{marks}}) AND ts >= ? AND ts <= ? "
    "AND (source IS NULL OR source NOT IN ('otlp', 'otlp_genai')) ORDER BY ts, id LIMIT ?"
)
DELETE_SPANS_BATCH = (
    "DELETE FROM spans WHERE rowid IN (SELECT rowid FROM spans WHERE tenant_id = ? AND start_ns <= ? LIMIT ?)"
)
DELETE_STALE_SPAN_RESOURCES = "DELETE FROM span_resources WHERE tenant_id = ? AND last_seen_ns <= ?"

def _span_filter(f: SpanFilter, a: _Args) -> str:
    if isinstance(f, SpanCmp):
        check_span_cmp(f)
        return f"s.{f.column} {f.op} {a(f.value)}"
    if isinstance(f, SpanContains):
        return f"instr({'s.body' if f.target == 'body' else 'r.body'}, {a(f.needle)}) > 0"
    joiner = " AND " if isinstance(f, SpanAnd) else " OR "
    if not f.items:
        return "1" if isinstance(f, SpanAnd) else "0"
    return "(" + joiner.join(_span_filter(item, a) for item in f.items) + ")"


def scan_spans(tenant: str, scan: SpanScan) -> tuple[str, list[object]]:
    a = _Args()
    where = f"s.tenant_id = {a(tenant)} AND s.start_ns >= {a(scan.start_ns)} AND s.start_ns <= {a(scan.end_ns)}"
    if scan.before is not None:
        where += f" AND (s.start_ns, s.trace_id, s.span_id) < ({a(scan.before[0])}, {a(scan.before[1])}, {a(scan.before[2])})"
    if scan.where is not None:
        where += " AND " + _span_filter(scan.where, a)
    sql = (
        f"SELECT {_SPAN_FIELDS} {_SPAN_FROM} WHERE {where} "
        f"ORDER BY s.start_ns DESC, s.trace_id DESC, s.span_id DESC LIMIT {a(scan.limit)}"
    )
    return sql, a.values
