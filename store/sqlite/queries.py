"""SQLite SQL text (qmark parameters) and the builders of filtered queries; nothing else."""

from __future__ import annotations

from store.model import EventQuery, SessionQuery
from store.plan import EVENT_COLUMNS

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
    (SELECT COUNT(*) FROM events WHERE tenant_id = :t),
    (SELECT COUNT(*) FROM sessions WHERE tenant_id = :t),
    (SELECT COUNT(*) FROM agents WHERE tenant_id = :t),
    (SELECT timestamp FROM events WHERE tenant_id = :t ORDER BY ts ASC, id ASC LIMIT 1),
    (SELECT timestamp FROM events WHERE tenant_id = :t ORDER BY ts DESC, id DESC LIMIT 1)
"""
SELECT_DB_SIZE = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"

# bucket start in microseconds for hour / day / ISO week (Monday); 1970-01-01 was a Thursday,
# so weeks are aligned on 4 days (345600 s) after the epoch.
BUCKET_EXPR = {
    "hour": "(ts / 3600000000) * 3600000000",
    "day": "(ts / 86400000000) * 86400000000",
    "week": "((ts - 345600000000) / 604800000000) * 604800000000 + 345600000000",
}

_ANALYTICS_COLUMNS = """
    COUNT(*),
    SUM(event_type = 'tool_call'),
    SUM(severity IN ('error', 'critical') OR event_type = 'tool_error'),
    AVG(CASE WHEN event_type = 'tool_response' THEN duration_ms END),
    SUM(CASE WHEN event_type IN ('cost_tracked', 'llm_response') THEN cost_usd END),
    COUNT(DISTINCT session_id)"""


def analytics_where(agent: bool, exclude_metrics: bool) -> str:
    where = "tenant_id = ? AND ts >= ? AND ts <= ?"
    if agent:
        where += " AND agent_id = ?"
    if exclude_metrics:
        where += " AND source IS NOT 'otlp_metric'"
    return where


def analytics_buckets(granularity: str, where: str) -> str:
    bucket = BUCKET_EXPR[granularity]
    return (
        f"SELECT {bucket} AS bucket, {_ANALYTICS_COLUMNS} FROM events WHERE {where} GROUP BY bucket ORDER BY bucket"
    )


def analytics_totals(where: str) -> str:
    return f"SELECT {_ANALYTICS_COLUMNS}, COUNT(DISTINCT agent_id) FROM events WHERE {where}"


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
DELETE_EVENT_BY_ROWID = "DELETE FROM events WHERE rowid = ?"
SELECT_ANCHOR_ENDING_AT = (
    "SELECT id, digest, deleted_count FROM chain_anchors WHERE tenant_id = ? AND session_id = ? AND to_seq = ? "
    "ORDER BY id DESC LIMIT 1"
)
SELECT_ANCHOR_STARTING_AT = (
    "SELECT id, to_seq, digest, deleted_count, last_deleted_hash FROM chain_anchors "
    "WHERE tenant_id = ? AND session_id = ? AND from_seq = ? ORDER BY id DESC LIMIT 1"
)
INSERT_ANCHOR = (
    "INSERT INTO chain_anchors (tenant_id, session_id, from_seq, to_seq, first_prev_hash, last_deleted_hash, "
    "deleted_count, digest, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
EXTEND_ANCHOR = "UPDATE chain_anchors SET to_seq = ?, last_deleted_hash = ?, deleted_count = ?, digest = ? WHERE id = ?"
MERGE_ANCHOR_TAIL = "UPDATE chain_anchors SET from_seq = ?, first_prev_hash = ?, deleted_count = ?, digest = ? WHERE id = ?"
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


def in_marks(template: str, n: int) -> str:
    """Fill a ``{marks}`` placeholder with ``n`` qmarks."""
    return template.format(marks=_marks(n))

DELETE_ANCHOR = "DELETE FROM chain_anchors WHERE id = ?"
DELETE_SESSION_ANCHORS = "DELETE FROM chain_anchors WHERE tenant_id = ? AND session_id = ?"
