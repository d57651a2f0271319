"""PostgreSQL SQL text ($n parameters) and the builders of filtered queries; nothing else."""

from __future__ import annotations

from collections.abc import Sequence

from store.aggregates import EventAggQuery, PercentileQuery, SessionAggQuery
from store.model import EventQuery, SessionQuery
from store.plan import EVENT_COLUMNS
from store.spans import SpanAnd, SpanCmp, SpanContains, SpanFilter, SpanScan, check_span_cmp

# ruff: noqa: E501

# ------------------------------------------------------------------ migrations, locks, liveness

CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at TEXT   NOT NULL
)"""
SELECT_APPLIED_MIGRATIONS = "SELECT version, name FROM schema_migrations ORDER BY version"
RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)"

ADVISORY_LOCK = "SELECT pg_advisory_lock($1)"
ADVISORY_UNLOCK = "SELECT pg_advisory_unlock($1)"
ADVISORY_TRY_LOCK = "SELECT pg_try_advisory_lock($1)"
ADVISORY_XACT_LOCK = "SELECT pg_advisory_xact_lock($1)"

SELECT_ONE = "SELECT 1"

LISTEN = "LISTEN {channel}"   # channel: a constant identifier, never user input
NOTIFY_MANY = "SELECT count(pg_notify($1, p)) FROM unnest($2::text[]) AS p"

# ------------------------------------------------------------------ events

EVENT_FIELDS = "id, timestamp, session_id, agent_id, event_type, severity, payload, metadata, prev_hash, hash, tenant_id, seq, ts"

_EVENT_TYPES = (
    "text", "text", "bigint", "text", "bigint", "text", "text", "text", "text", "text", "text", "text", "text",
    "text", "float8", "bigint", "bigint", "float8", "text", "text", "text", "bigint", "bigint",
)
# Ingest writes events with binary COPY into EVENTS_TABLE (EVENT_COLUMNS order), the fastest path
# measured (bench/pg_insert_paths.py, docs/postgres.md); the two alternatives it was measured
# against stay here for that script. INSERT_EVENTS_UNNEST: one array parameter per column.
INSERT_EVENTS_UNNEST = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_EVENT_TYPES))
    + ")"
)
INSERT_EVENT = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(EVENT_COLUMNS)))})"
EVENTS_TABLE = "events"

SELECT_EXISTING_IDS = (
    "SELECT e.tenant_id, e.id, e.hash FROM events e "
    "JOIN unnest($1::text[], $2::text[]) AS k(t, i) ON e.tenant_id = k.t AND e.id = k.i"
)

SELECT_EVENT = f"SELECT {EVENT_FIELDS} FROM events WHERE tenant_id = $1 AND id = $2"
SELECT_EVENTS_BY_IDS = f"SELECT {EVENT_FIELDS} FROM events WHERE tenant_id = $1 AND id = ANY($2::text[]) ORDER BY ts, id"

SELECT_TIMELINE = f"SELECT {EVENT_FIELDS} FROM events WHERE tenant_id = $1 AND session_id = $2 ORDER BY ts, id"
SELECT_TIMELINE_LIMIT = SELECT_TIMELINE + " LIMIT $3"
SELECT_TIMELINE_AFTER = (
    f"SELECT {EVENT_FIELDS} FROM events WHERE tenant_id = $1 AND session_id = $2 AND (ts, id) > ($3, $4) "
    "ORDER BY ts, id LIMIT $5"
)
SELECT_EVENT_POSITION = "SELECT ts, id FROM events WHERE tenant_id = $1 AND session_id = $2 AND id = $3"

SELECT_CHAIN_CHUNK = (
    f"SELECT {EVENT_FIELDS} FROM events WHERE tenant_id = $1 AND session_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
)

# ------------------------------------------------------------------ sessions

SESSION_FIELDS = (
    "id, agent_id, agent_name, started_at, started_ts, ended_at, status, event_count, tool_call_count, "
    "error_count, total_cost_usd, llm_call_count, total_input_tokens, total_output_tokens, tags, tenant_id, "
    "last_event_at, last_event_ts, chain_seq, chain_head"
)

SELECT_SESSION = f"SELECT {SESSION_FIELDS} FROM sessions WHERE tenant_id = $1 AND id = $2"
SELECT_SESSION_FOR_UPDATE = SELECT_SESSION + " FOR UPDATE"

# Ingest, step 1: a placeholder row for every session of the batch that does not exist yet, so
# step 2 can lock it. Keys arrive sorted; rows are inserted (and conflicts waited on) in that
# order. Returns the keys this transaction created (they do not "exist" for the planner).
INSERT_SESSION_PLACEHOLDERS = """
INSERT INTO sessions (tenant_id, id, agent_id, started_at, started_ts, project_id)
SELECT t, i, a, s, st, t FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS k(t, i, a, s, st)
ON CONFLICT (tenant_id, id) DO NOTHING
RETURNING tenant_id, id
"""
# Ingest, step 2: lock every session row of the batch in (tenant, id) order -- the same order in
# every process, so two writers never wait on each other in a cycle.
LOCK_SESSIONS = f"""
SELECT {', '.join('s.' + c.strip() for c in SESSION_FIELDS.split(','))}
FROM sessions s JOIN unnest($1::text[], $2::text[]) AS k(t, i) ON s.tenant_id = k.t AND s.id = k.i
ORDER BY s.tenant_id, s.id
FOR UPDATE OF s
"""
DELETE_SESSION_PLACEHOLDERS = """
DELETE FROM sessions s USING unnest($1::text[], $2::text[]) AS k(t, i)
WHERE s.tenant_id = k.t AND s.id = k.i AND s.chain_seq = -1 AND s.event_count = 0
"""

UPSERT_SESSION_STATE = """
INSERT INTO sessions (tenant_id, id, agent_id, agent_name, started_at, started_ts, ended_at, status,
    event_count, tool_call_count, error_count, total_cost_usd, llm_call_count, total_input_tokens,
    total_output_tokens, tags, last_event_at, last_event_ts, chain_seq, chain_head, project_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
ON CONFLICT (tenant_id, id) DO UPDATE SET
    agent_id = excluded.agent_id, started_at = excluded.started_at, started_ts = excluded.started_ts,
    agent_name = excluded.agent_name, ended_at = excluded.ended_at, status = excluded.status,
    event_count = excluded.event_count, tool_call_count = excluded.tool_call_count,
    error_count = excluded.error_count, total_cost_usd = excluded.total_cost_usd,
    llm_call_count = excluded.llm_call_count, total_input_tokens = excluded.total_input_tokens,
    total_output_tokens = excluded.total_output_tokens, tags = excluded.tags,
    last_event_at = excluded.last_event_at, last_event_ts = excluded.last_event_ts,
    chain_seq = excluded.chain_seq, chain_head = excluded.chain_head
"""

DELETE_SESSION_TAGS = "DELETE FROM session_tags WHERE tenant_id = $1 AND session_id = $2"
INSERT_SESSION_TAG = "INSERT INTO session_tags (tenant_id, session_id, tag) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"

# ingest: replace the tags of every session whose session_started event carried tags, in two statements
DELETE_TAGS_OF_KEYS = """
DELETE FROM session_tags st USING unnest($1::text[], $2::text[]) AS k(t, i)
WHERE st.tenant_id = k.t AND st.session_id = k.i
"""
INSERT_TAGS = """
INSERT INTO session_tags (tenant_id, session_id, tag)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING
"""

UPDATE_SESSION_FIELDS = "UPDATE sessions SET {assignments} WHERE tenant_id = ${t} AND id = ${i}"

INSERT_SESSION_DEFAULTS = """
INSERT INTO sessions (tenant_id, id, agent_id, agent_name, started_at, started_ts, ended_at, status,
    event_count, tool_call_count, error_count, total_cost_usd, llm_call_count, total_input_tokens,
    total_output_tokens, tags, last_event_at, last_event_ts, project_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
ON CONFLICT (tenant_id, id) DO NOTHING
"""

# ------------------------------------------------------------------ agents

AGENT_FIELDS = "a.id, a.name, a.description, a.first_seen_at, a.last_seen_at, a.tenant_id, a.first_seen_ts, a.last_seen_ts"

SELECT_AGENTS_BY_KEYS = (
    f"SELECT {AGENT_FIELDS} FROM agents a "
    "JOIN unnest($1::text[], $2::text[]) AS k(t, i) ON a.tenant_id = k.t AND a.id = k.i"
)

# Agents are not locked by ingest (many sessions share one agent): the update keeps the earliest
# first-seen, the latest last-seen and a name once given, whatever order two writers commit in.
UPSERT_AGENT_STATE = """
INSERT INTO agents (tenant_id, id, name, first_seen_at, first_seen_ts, last_seen_at, last_seen_ts, project_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (tenant_id, id) DO UPDATE SET
    name = CASE WHEN agents.name = agents.id THEN excluded.name ELSE agents.name END,
    first_seen_at = CASE WHEN excluded.first_seen_ts < agents.first_seen_ts THEN excluded.first_seen_at ELSE agents.first_seen_at END,
    first_seen_ts = LEAST(agents.first_seen_ts, excluded.first_seen_ts),
    last_seen_at = CASE WHEN excluded.last_seen_ts > agents.last_seen_ts THEN excluded.last_seen_at ELSE agents.last_seen_at END,
    last_seen_ts = GREATEST(agents.last_seen_ts, excluded.last_seen_ts)
"""

_AGENT_SESSION_COUNT = "(SELECT COUNT(*) FROM sessions s WHERE s.tenant_id = a.tenant_id AND s.agent_id = a.id)"
SELECT_AGENTS = f"SELECT {AGENT_FIELDS}, {_AGENT_SESSION_COUNT} FROM agents a WHERE a.tenant_id = $1 ORDER BY a.last_seen_ts DESC, a.id DESC"
SELECT_AGENT = f"SELECT {AGENT_FIELDS}, {_AGENT_SESSION_COUNT} FROM agents a WHERE a.tenant_id = $1 AND a.id = $2"
SELECT_AGENT_FOR_UPDATE = "SELECT id FROM agents WHERE tenant_id = $1 AND id = $2 FOR UPDATE"
UPDATE_AGENT_FIELDS = "UPDATE agents SET {assignments} WHERE tenant_id = ${t} AND id = ${i}"
INSERT_AGENT_DEFAULTS = """
INSERT INTO agents (tenant_id, id, name, description, first_seen_at, first_seen_ts, last_seen_at, last_seen_ts, project_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (tenant_id, id) DO NOTHING
"""

# ------------------------------------------------------------------ stats and analytics

SELECT_STATS = """
SELECT
    (SELECT COALESCE(SUM(event_count), 0) FROM rollup_types_hourly WHERE tenant_id = $1),
    (SELECT COUNT(*) FROM sessions WHERE tenant_id = $1),
    (SELECT COUNT(*) FROM agents WHERE tenant_id = $1),
    (SELECT timestamp FROM events WHERE tenant_id = $1 ORDER BY ts ASC, id ASC LIMIT 1),
    (SELECT timestamp FROM events WHERE tenant_id = $1 ORDER BY ts DESC, id DESC LIMIT 1)
"""
SELECT_DB_SIZE = "SELECT pg_database_size(current_database())"

_ERROR = "(severity IN ('error', 'critical') OR event_type = 'tool_error')"


def alert_window_stats(agent: bool, tags: bool) -> str:
    """Parameters: tenant, from, to, [agent], [tags as one text array]."""
    where = "e.tenant_id = $1 AND e.ts >= $2 AND e.ts <= $3 AND e.source IS DISTINCT FROM 'otlp_metric'"
    n = 4
    if agent:
        where += f" AND e.agent_id = ${n}"
        n += 1
    if tags:
        where += (
            " AND EXISTS (SELECT 1 FROM session_tags st WHERE st.tenant_id = e.tenant_id"
            f" AND st.session_id = e.session_id AND st.tag = ANY(${n}::text[]))"
        )
    return (
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE e.severity IN ('error', 'critical') OR e.event_type = 'tool_error'), "
        "SUM(e.cost_usd) FILTER (WHERE e.event_type IN ('cost_tracked', 'llm_response')), "
        "AVG(e.duration_ms) FILTER (WHERE e.event_type = 'tool_response') "
        f"FROM events e WHERE {where}"
    )


# ------------------------------------------------------------------ alert rules and history

ALERT_RULE_FIELDS = "id, name, enabled, condition, threshold, window_minutes, scope, notify_channels, created_at, updated_at, tenant_id"
INSERT_ALERT_RULE = f"INSERT INTO alert_rules ({ALERT_RULE_FIELDS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
SELECT_ALERT_RULE = f"SELECT {ALERT_RULE_FIELDS} FROM alert_rules WHERE tenant_id = $1 AND id = $2"
SELECT_ALERT_RULE_FOR_UPDATE = SELECT_ALERT_RULE + " FOR UPDATE"
SELECT_ALERT_RULES = f"SELECT {ALERT_RULE_FIELDS} FROM alert_rules WHERE tenant_id = $1 ORDER BY created_at, id"
UPDATE_ALERT_RULE = """
UPDATE alert_rules SET name = $1, enabled = $2, condition = $3, threshold = $4, window_minutes = $5, scope = $6,
    notify_channels = $7, updated_at = $8
WHERE tenant_id = $9 AND id = $10
"""
DELETE_ALERT_RULE = "DELETE FROM alert_rules WHERE tenant_id = $1 AND id = $2"

HISTORY_FIELDS = "id, rule_id, triggered_at, resolved_at, current_value, threshold, message, tenant_id"
INSERT_ALERT_HISTORY = (
    "INSERT INTO alert_history (id, rule_id, triggered_at, triggered_ts, resolved_at, current_value, threshold, message, tenant_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)
RESOLVE_ALERT_HISTORY = "UPDATE alert_history SET resolved_at = $1 WHERE tenant_id = $2 AND id = $3"


def alert_history_page(by_rule: bool) -> tuple[str, str]:
    """(page, count); parameters: tenant, [rule], then limit and offset for the page."""
    where = "tenant_id = $1" + (" AND rule_id = $2" if by_rule else "")
    n = 3 if by_rule else 2
    return (
        f"SELECT {HISTORY_FIELDS} FROM alert_history WHERE {where} ORDER BY triggered_ts DESC, id DESC LIMIT ${n} OFFSET ${n + 1}",
        f"SELECT COUNT(*) FROM alert_history WHERE {where}",
    )


# ------------------------------------------------------------------ keys and settings

KEY_FIELDS = "id, key_hash, name, scopes, tenant_id, created_at, last_used_at, revoked_at, expires_at"
INSERT_API_KEY = f"INSERT INTO api_keys ({KEY_FIELDS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
SELECT_API_KEY_BY_HASH = f"SELECT {KEY_FIELDS} FROM api_keys WHERE key_hash = $1"
SELECT_API_KEY_FOR_UPDATE = f"SELECT {KEY_FIELDS} FROM api_keys WHERE id = $1 FOR UPDATE"
SELECT_API_KEYS_ALL = f"SELECT {KEY_FIELDS} FROM api_keys ORDER BY created_at, id"
SELECT_API_KEYS_TENANT = f"SELECT {KEY_FIELDS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id"
REVOKE_API_KEY = "UPDATE api_keys SET revoked_at = $1 WHERE id = $2"
TOUCH_API_KEY = "UPDATE api_keys SET last_used_at = $1 WHERE id = $2"
COUNT_USABLE_API_KEYS = "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)"

SELECT_SETTINGS = "SELECT key, value FROM config_kv WHERE tenant_id = $1"
UPSERT_SETTING = (
    "INSERT INTO config_kv (tenant_id, key, value) VALUES ($1, $2, $3) "
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
    "SELECT id, session_id, seq, hash, prev_hash FROM events WHERE tenant_id = $1 AND ts <= $2 "
    "ORDER BY ts LIMIT $3"
)
DELETE_EVENTS_BY_IDS = "DELETE FROM events WHERE tenant_id = $1 AND id = ANY($2::text[])"
_ANCHOR_ROW = "id, from_seq, to_seq, first_prev_hash, last_deleted_hash, deleted_count, digest"
SELECT_ANCHOR_ENDING_AT = (
    f"SELECT {_ANCHOR_ROW} FROM chain_anchors WHERE tenant_id = $1 AND session_id = $2 AND to_seq = $3 "
    "ORDER BY id DESC LIMIT 1"
)
SELECT_ANCHOR_STARTING_AT = (
    f"SELECT {_ANCHOR_ROW} FROM chain_anchors WHERE tenant_id = $1 AND session_id = $2 AND from_seq = $3 "
    "ORDER BY id DESC LIMIT 1"
)
INSERT_ANCHOR = (
    "INSERT INTO chain_anchors (tenant_id, session_id, from_seq, to_seq, first_prev_hash, last_deleted_hash, "
    "deleted_count, digest, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)
REWRITE_ANCHOR = (
    "UPDATE chain_anchors SET from_seq = $1, to_seq = $2, first_prev_hash = $3, last_deleted_hash = $4, "
    "deleted_count = $5, digest = $6 WHERE id = $7"
)
DELETE_ANCHOR = "DELETE FROM chain_anchors WHERE id = $1"
DELETE_SESSION_ANCHORS = "DELETE FROM chain_anchors WHERE tenant_id = $1 AND session_id = $2"
SELECT_ANCHORS = (
    "SELECT from_seq, to_seq, first_prev_hash, last_deleted_hash FROM chain_anchors "
    "WHERE tenant_id = $1 AND session_id = $2 ORDER BY from_seq"
)
# Lock the sessions first (the same order as ingest), then look for their events in a new
# statement: under READ COMMITTED it sees whatever a concurrent ingest committed meanwhile.
LOCK_SESSIONS_OF_TENANT = (
    "SELECT id FROM sessions WHERE tenant_id = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE"
)
DELETE_SESSIONS_IF_EMPTY = """
DELETE FROM sessions s WHERE s.tenant_id = $1 AND s.id = ANY($2::text[])
    AND NOT EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = s.tenant_id AND e.session_id = s.id)
RETURNING s.id
"""
DELETE_TAGS_OF_SESSIONS = "DELETE FROM session_tags WHERE tenant_id = $1 AND session_id = ANY($2::text[])"
DELETE_ANCHORS_OF_SESSIONS = "DELETE FROM chain_anchors WHERE tenant_id = $1 AND session_id = ANY($2::text[])"
INSERT_RETENTION_RUN = (
    "INSERT INTO retention_runs (started_at, cutoff, deleted_count, sessions_deleted, anchored_sessions, duration_ms, details) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)"
)
SELECT_RETENTION_RUNS = (
    "SELECT started_at, cutoff, deleted_count, sessions_deleted, anchored_sessions, duration_ms, details "
    "FROM retention_runs ORDER BY id DESC LIMIT $1"
)


# ------------------------------------------------------------------ filtered event and session queries


class Params:
    """Collects query parameters and hands out their ``$n`` placeholders."""

    def __init__(self, *initial: object) -> None:
        self.values: list[object] = list(initial)

    def add(self, value: object) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def count_events_rollup(q: EventQuery, p: Params) -> str:
    """The count of an EventQuery that ``rollup_countable`` accepts, from the per-type rollup."""
    sql = "SELECT COALESCE(SUM(event_count), 0) FROM rollup_types_hourly WHERE tenant_id = $1"
    if q.event_types:
        sql += f" AND event_type = ANY({p.add(list(q.event_types))}::text[])"
    if q.exclude_metrics:
        sql += " AND metric = 0"
    return sql


def event_filters(q: EventQuery, p: Params) -> str:
    """WHERE clause (without the keyword) for an EventQuery; the tenant is ``$1`` in ``p``."""
    clauses = ["tenant_id = $1"]
    if q.session_id is not None:
        clauses.append(f"session_id = {p.add(q.session_id)}")
    if q.agent_id is not None:
        clauses.append(f"agent_id = {p.add(q.agent_id)}")
    if q.event_types:
        clauses.append(f"event_type = ANY({p.add(list(q.event_types))}::text[])")
    if q.severities:
        clauses.append(f"severity = ANY({p.add(list(q.severities))}::text[])")
    if q.from_us is not None:
        clauses.append(f"ts >= {p.add(q.from_us)}")
    if q.to_us is not None:
        clauses.append(f"ts <= {p.add(q.to_us)}")
    if q.search:
        # ILIKE under COLLATE "C" folds ASCII letters only: SQLite's LIKE, exactly.
        clauses.append(f"payload ILIKE {p.add(q.search)} ESCAPE '\\'")
    if q.exclude_metrics:
        clauses.append("source IS DISTINCT FROM 'otlp_metric'")
    return " AND ".join(clauses)


def select_events(where: str, order: str, p: Params, limit: int, offset: int) -> str:
    direction = "DESC" if order == "desc" else "ASC"
    return (
        f"SELECT {EVENT_FIELDS} FROM events WHERE {where} ORDER BY ts {direction}, id {direction} "
        f"LIMIT {p.add(limit)} OFFSET {p.add(offset)}"
    )


def count_events(where: str) -> str:
    return f"SELECT COUNT(*) FROM events WHERE {where}"


def session_filters(q: SessionQuery, idle_before_us: int, p: Params) -> str:
    """WHERE clause for a SessionQuery; ``idle`` is derived from the last event time."""
    clauses = ["tenant_id = $1"]
    if q.agent_id is not None:
        clauses.append(f"agent_id = {p.add(q.agent_id)}")
    if q.statuses:
        ors: list[str] = []
        stored = [s for s in q.statuses if s in ("completed", "error")]
        if stored:
            ors.append(f"status = ANY({p.add(stored)}::text[])")
        if "active" in q.statuses and "idle" in q.statuses:
            ors.append("status = 'active'")
        elif "active" in q.statuses:
            ors.append(f"(status = 'active' AND COALESCE(last_event_ts, started_ts) >= {p.add(idle_before_us)})")
        elif "idle" in q.statuses:
            ors.append(f"(status = 'active' AND COALESCE(last_event_ts, started_ts) < {p.add(idle_before_us)})")
        clauses.append("(" + (" OR ".join(ors) if ors else "FALSE") + ")")
    if q.from_us is not None:
        clauses.append(f"started_ts >= {p.add(q.from_us)}")
    if q.to_us is not None:
        clauses.append(f"started_ts <= {p.add(q.to_us)}")
    if q.tags:
        clauses.append(
            "EXISTS (SELECT 1 FROM session_tags st WHERE st.tenant_id = sessions.tenant_id "
            f"AND st.session_id = sessions.id AND st.tag = ANY({p.add(list(q.tags))}::text[]))"
        )
    return " AND ".join(clauses)


def select_sessions(where: str, p: Params, limit: int, offset: int) -> str:
    return (
        f"SELECT {SESSION_FIELDS} FROM sessions WHERE {where} ORDER BY started_ts DESC, id DESC "
        f"LIMIT {p.add(limit)} OFFSET {p.add(offset)}"
    )


def count_sessions(where: str) -> str:
    return f"SELECT COUNT(*) FROM sessions WHERE {where}"


def assignments(columns: list[str], first: int) -> str:
    """``col = $first, col2 = $first+1, ...`` for a dynamic UPDATE."""
    return ", ".join(f"{col} = ${first + n}" for n, col in enumerate(columns))


def update_fields(template: str, columns: list[str]) -> str:
    """``UPDATE_SESSION_FIELDS`` or ``UPDATE_AGENT_FIELDS`` for ``columns``: their values, then tenant and id."""
    return template.format(assignments=assignments(columns, 1), t=len(columns) + 1, i=len(columns) + 2)


# ------------------------------------------------------------------ analytics rollups and aggregations
# (store/aggregates.py decides which hours come from the rollups and which from the events)

_ROLLUP_SESSION_COLUMNS = (
    "tenant_id, hour, agent_id, session_id, metric, event_count, tool_call_count, error_count, latency_sum, "
    "latency_count, cost_sum, cost_count, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens"
)
_ROLLUP_TYPE_COLUMNS = (
    "tenant_id, hour, event_type, model, provider, tool_name, metric, event_count, error_count, cost_sum, "
    "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, duration_sum, duration_count"
)
_ADD_SESSIONS = """
ON CONFLICT (tenant_id, hour, agent_id, session_id, metric) DO UPDATE SET
    event_count = rollup_sessions_hourly.event_count + excluded.event_count,
    tool_call_count = rollup_sessions_hourly.tool_call_count + excluded.tool_call_count,
    error_count = rollup_sessions_hourly.error_count + excluded.error_count,
    latency_sum = rollup_sessions_hourly.latency_sum + excluded.latency_sum,
    latency_count = rollup_sessions_hourly.latency_count + excluded.latency_count,
    cost_sum = rollup_sessions_hourly.cost_sum + excluded.cost_sum,
    cost_count = rollup_sessions_hourly.cost_count + excluded.cost_count,
    input_tokens = rollup_sessions_hourly.input_tokens + excluded.input_tokens,
    output_tokens = rollup_sessions_hourly.output_tokens + excluded.output_tokens,
    cache_read_tokens = rollup_sessions_hourly.cache_read_tokens + excluded.cache_read_tokens,
    cache_write_tokens = rollup_sessions_hourly.cache_write_tokens + excluded.cache_write_tokens
"""
_ADD_TYPES = """
ON CONFLICT (tenant_id, hour, event_type, model, provider, tool_name, metric) DO UPDATE SET
    event_count = rollup_types_hourly.event_count + excluded.event_count,
    error_count = rollup_types_hourly.error_count + excluded.error_count,
    cost_sum = rollup_types_hourly.cost_sum + excluded.cost_sum,
    input_tokens = rollup_types_hourly.input_tokens + excluded.input_tokens,
    output_tokens = rollup_types_hourly.output_tokens + excluded.output_tokens,
    cache_read_tokens = rollup_types_hourly.cache_read_tokens + excluded.cache_read_tokens,
    cache_write_tokens = rollup_types_hourly.cache_write_tokens + excluded.cache_write_tokens,
    duration_sum = rollup_types_hourly.duration_sum + excluded.duration_sum,
    duration_count = rollup_types_hourly.duration_count + excluded.duration_count
"""
_SESSION_ROLLUP_TYPES = ("text", "bigint", "text", "text", "bigint", "bigint", "bigint", "bigint", "float8",
                         "bigint", "float8", "bigint", "bigint", "bigint", "bigint", "bigint")
_TYPE_ROLLUP_TYPES = ("text", "bigint", "text", "text", "text", "text", "bigint", "bigint", "bigint",
                      "float8", "bigint", "bigint", "bigint", "bigint", "float8", "bigint")
# one array parameter per column; the rows are pre-aggregated (one per key) and sorted by key
UPSERT_ROLLUP_SESSIONS = (
    f"INSERT INTO rollup_sessions_hourly ({_ROLLUP_SESSION_COLUMNS}) SELECT * FROM unnest("
    + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_SESSION_ROLLUP_TYPES)) + ")" + _ADD_SESSIONS
)
UPSERT_ROLLUP_TYPES = (
    f"INSERT INTO rollup_types_hourly ({_ROLLUP_TYPE_COLUMNS}) SELECT * FROM unnest("
    + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_TYPE_ROLLUP_TYPES)) + ")" + _ADD_TYPES
)

_HOUR_OF_TS = "ts - (((ts % 3600000000) + 3600000000) % 3600000000)"
_COST_TYPES = "('cost_tracked', 'llm_response')"
_METRIC = "(source IS NOT DISTINCT FROM 'otlp_metric')::int"
_TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
_COST_TOKENS = ", ".join(f"COALESCE(SUM({c}) FILTER (WHERE event_type IN {_COST_TYPES}), 0)" for c in _TOKEN_COLUMNS)

DELETE_ROLLUP_SESSIONS_UNTIL = "DELETE FROM rollup_sessions_hourly WHERE tenant_id = $1 AND hour <= $2"
DELETE_ROLLUP_TYPES_UNTIL = "DELETE FROM rollup_types_hourly WHERE tenant_id = $1 AND hour <= $2"
RECOMPUTE_ROLLUP_SESSIONS = f"""
INSERT INTO rollup_sessions_hourly ({_ROLLUP_SESSION_COLUMNS})
SELECT tenant_id, {_HOUR_OF_TS}, agent_id, session_id, {_METRIC}, COUNT(*),
    COUNT(*) FILTER (WHERE event_type = 'tool_call'), COUNT(*) FILTER (WHERE {_ERROR}),
    COALESCE(SUM(duration_ms) FILTER (WHERE event_type = 'tool_response'), 0),
    COUNT(duration_ms) FILTER (WHERE event_type = 'tool_response'),
    COALESCE(SUM(cost_usd) FILTER (WHERE event_type IN {_COST_TYPES}), 0),
    COUNT(*) FILTER (WHERE event_type IN {_COST_TYPES}), {_COST_TOKENS}
FROM events WHERE tenant_id = $1 AND ts >= $2 AND ts < $3 GROUP BY 1, 2, 3, 4, 5
""" + _ADD_SESSIONS
RECOMPUTE_ROLLUP_TYPES = f"""
INSERT INTO rollup_types_hourly ({_ROLLUP_TYPE_COLUMNS})
SELECT tenant_id, {_HOUR_OF_TS}, event_type, COALESCE(model, ''), COALESCE(provider, ''),
    COALESCE(tool_name, ''), {_METRIC}, COUNT(*), COUNT(*) FILTER (WHERE {_ERROR}), COALESCE(SUM(cost_usd), 0),
    COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_read_tokens), 0),
    COALESCE(SUM(cache_write_tokens), 0), COALESCE(SUM(duration_ms), 0), COUNT(duration_ms)
FROM events WHERE tenant_id = $1 AND ts >= $2 AND ts < $3 GROUP BY 1, 2, 3, 4, 5, 6, 7
""" + _ADD_TYPES


def _bucket(column: str, step_offset: tuple[int, int] | None) -> str:
    """Bucket start of a microsecond column, floored (also before 1970); NULL for a single bucket."""
    if step_offset is None:
        return "NULL::bigint"
    step, offset = int(step_offset[0]), int(step_offset[1])
    return f"({column} - ((({column} - {offset}) % {step}) + {step}) % {step})"


def _session_rollup_where(tenant: str, q: SessionAggQuery, full: tuple[int, int], p: Params) -> str:
    """The session rollup's rows of the whole hours ``full`` that a SessionAggQuery selects."""
    where = f"tenant_id = {p.add(tenant)} AND hour >= {p.add(full[0])} AND hour < {p.add(full[1])}"
    if q.agent_id is not None:
        where += f" AND agent_id = {p.add(q.agent_id)}"
    if q.exclude_metrics:
        where += " AND metric = 0"
    return where


def _session_events_where(tenant: str, q: SessionAggQuery, lo: int, hi: int, p: Params) -> str:
    """The events in ``[lo, hi]`` (a partial hour) that a SessionAggQuery selects."""
    where = f"tenant_id = {p.add(tenant)} AND ts >= {p.add(lo)} AND ts <= {p.add(hi)}"
    if q.agent_id is not None:
        where += f" AND agent_id = {p.add(q.agent_id)}"
    if q.exclude_metrics:
        where += " AND source IS DISTINCT FROM 'otlp_metric'"
    return where


def session_agg(
    tenant: str, q: SessionAggQuery, full: tuple[int, int] | None, raw: Sequence[tuple[int, int]], *,
    with_totals: bool = False,
) -> tuple[str, list[object]]:
    """Rows of (kind, bucket, agent|NULL, sessions, agents, counters...): kind 0 per bucket (and agent);
    with ``with_totals`` one more row of kind 1 for the whole range from the same materialized rows."""
    p = Params()
    parts: list[str] = []
    if full is not None:
        parts.append(
            "SELECT hour, agent_id, session_id, event_count, tool_call_count, error_count, latency_sum, latency_count, "
            f"cost_sum, cost_count, {', '.join(_TOKEN_COLUMNS)} FROM rollup_sessions_hourly "
            f"WHERE {_session_rollup_where(tenant, q, full, p)}"
        )
    for lo, hi in raw:
        parts.append(
            f"SELECT ts, agent_id, session_id, 1::bigint, (event_type = 'tool_call')::int, {_ERROR}::int, "
            "CASE WHEN event_type = 'tool_response' THEN duration_ms END, "
            "(event_type = 'tool_response' AND duration_ms IS NOT NULL)::int, "
            f"CASE WHEN event_type IN {_COST_TYPES} THEN cost_usd END, (event_type IN {_COST_TYPES})::int, "
            + ", ".join(f"CASE WHEN event_type IN {_COST_TYPES} THEN {c} END" for c in _TOKEN_COLUMNS)
            + f" FROM events WHERE {_session_events_where(tenant, q, lo, hi, p)}"
        )
    bucket = _bucket("t", q.buckets.step_and_offset())
    agent = "agent_id" if q.by_agent else "NULL::text"
    group = ["b"] + (["agent_id"] if q.by_agent else [])
    sums = (
        "COUNT(DISTINCT session_id), COUNT(DISTINCT agent_id), SUM(c), SUM(tc), SUM(ec), COALESCE(SUM(ls), 0), "
        "SUM(lc), COALESCE(SUM(cs), 0), SUM(cc), COALESCE(SUM(ti), 0), COALESCE(SUM(tout), 0), "
        "COALESCE(SUM(tcr), 0), COALESCE(SUM(tcw), 0)"
    )
    sql = (
        "WITH r(t, agent_id, session_id, c, tc, ec, ls, lc, cs, cc, ti, tout, tcr, tcw) AS MATERIALIZED ("
        + " UNION ALL ".join(parts) + ") "
        f"SELECT 0, {bucket} AS b, {agent}, {sums} FROM r GROUP BY {', '.join(group)} "
        + (f"UNION ALL SELECT 1, NULL::bigint, NULL::text, {sums} FROM r " if with_totals else "")
        + f"ORDER BY 1, {', '.join(str(i + 2) for i in range(len(group)))}"
    )
    return sql, p.values


def _dimension_filters(q: EventAggQuery | PercentileQuery, p: Params, *, rollup: bool) -> str:
    where = ""
    if q.event_types:
        where += f" AND event_type = ANY({p.add(list(q.event_types))}::text[])"
    for column, value in (("agent_id", q.agent_id), ("model", q.model), ("provider", q.provider),
                          ("tool_name", q.tool_name)):
        if value is not None:
            where += f" AND {column} = {p.add(value)}"
    if isinstance(q, EventAggQuery) and q.has_tool_name:
        where += " AND tool_name <> ''" if rollup else " AND tool_name IS NOT NULL AND tool_name <> ''"
    if q.exclude_metrics:
        where += " AND metric = 0" if rollup else " AND source IS DISTINCT FROM 'otlp_metric'"
    return where


def event_agg(
    tenant: str, q: EventAggQuery, full: tuple[int, int] | None, raw: Sequence[tuple[int, int]],
) -> tuple[str, list[object]]:
    """Rows of (bucket, *group_by values ('' = none), events, errors, cost, in, out, cache read, cache write,
    duration sum, duration count)."""
    p = Params()
    parts: list[str] = []
    cols = "agent_id, event_type, model, provider, tool_name"
    if full is not None:
        where = f"tenant_id = {p.add(tenant)} AND hour >= {p.add(full[0])} AND hour < {p.add(full[1])}"
        where += _dimension_filters(q, p, rollup=True)
        parts.append(  # no agent dimension here: callers send per-agent questions to the events (event_split)
            "SELECT hour, ''::text COLLATE \"C\", event_type, model, provider, tool_name, event_count, error_count, cost_sum, "
            "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, duration_sum, duration_count "
            f"FROM rollup_types_hourly WHERE {where}"
        )
    for lo, hi in raw:
        where = f"tenant_id = {p.add(tenant)} AND ts >= {p.add(lo)} AND ts <= {p.add(hi)}"
        where += _dimension_filters(q, p, rollup=False)
        parts.append(
            "SELECT ts, agent_id, event_type, COALESCE(model, ''), COALESCE(provider, ''), COALESCE(tool_name, ''), "
            f"1::bigint, {_ERROR}::int, cost_usd, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
            f"duration_ms, (duration_ms IS NOT NULL)::int FROM events WHERE {where}"
        )
    bucket = _bucket("t", q.buckets.step_and_offset())
    group = ["b", *q.group_by]
    sql = (
        f"WITH r(t, {cols}, c, ec, cs, it, ot, cr, cw, ds, dc) AS (" + " UNION ALL ".join(parts) + ") "
        f"SELECT {bucket} AS b{''.join(', ' + d for d in q.group_by)}, SUM(c), SUM(ec), COALESCE(SUM(cs), 0), "
        "COALESCE(SUM(it), 0), COALESCE(SUM(ot), 0), COALESCE(SUM(cr), 0), COALESCE(SUM(cw), 0), "
        f"COALESCE(SUM(ds), 0), SUM(dc) FROM r GROUP BY {', '.join(group)} ORDER BY {', '.join(group)}"
    )
    return sql, p.values


def top_sessions_by_cost(
    tenant: str, q: SessionAggQuery, full: tuple[int, int] | None, raw: Sequence[tuple[int, int]], limit: int,
) -> tuple[str, list[object]]:
    """Rows of (session, cost, cost events) for sessions with cost events, most expensive first."""
    p = Params()
    parts: list[str] = []
    if full is not None:
        where = _session_rollup_where(tenant, q, full, p) + " AND cost_count > 0"
        parts.append(f"SELECT session_id, cost_sum, cost_count FROM rollup_sessions_hourly WHERE {where}")
    for lo, hi in raw:
        where = _session_events_where(tenant, q, lo, hi, p) + f" AND event_type IN {_COST_TYPES}"
        parts.append(f"SELECT session_id, cost_usd, 1::bigint FROM events WHERE {where}")
    sql = (
        "WITH r(session_id, cs, cc) AS (" + " UNION ALL ".join(parts) + ") "
        "SELECT session_id, COALESCE(SUM(cs), 0) AS cost, SUM(cc) FROM r GROUP BY session_id HAVING SUM(cc) > 0 "
        f"ORDER BY cost DESC, session_id LIMIT {p.add(limit)}"
    )
    return sql, p.values


def duration_percentiles(tenant: str, q: PercentileQuery) -> tuple[str, list[object]]:
    """Rows of (bucket, *group_by ('' = none), n, [values]): ``percentile_cont`` interpolates between
    the closest ranks at ``(n - 1) * p``, the same rule as the SQLite path."""
    p = Params()
    where = (f"tenant_id = {p.add(tenant)} AND ts >= {p.add(q.from_us)} AND ts <= {p.add(q.to_us)} "
             "AND duration_ms IS NOT NULL")
    where += _dimension_filters(q, p, rollup=False)
    dims = [f"COALESCE({d}, '')" if d in ("model", "provider", "tool_name") else d for d in q.group_by]
    group = ", ".join(["b", *(str(i + 2) for i in range(len(dims)))])
    pcts = p.add([float(x) for x in q.percentiles])
    sql = (
        f"SELECT {_bucket('ts', q.buckets.step_and_offset())} AS b{''.join(', ' + d for d in dims)}, COUNT(*), "
        f"percentile_cont({pcts}::float8[]) WITHIN GROUP (ORDER BY duration_ms) "
        f"FROM events WHERE {where} GROUP BY {group} ORDER BY {group}"
    )
    return sql, p.values


AGENT_SESSION_TOTALS = """
SELECT agent_id, COUNT(*), SUM(event_count), SUM(error_count), COALESCE(SUM(total_cost_usd), 0)
FROM sessions WHERE tenant_id = $1 AND started_ts >= $2 AND started_ts <= $3 GROUP BY agent_id
"""
AGENT_ENDED_SESSIONS = """
SELECT agent_id, started_ts, ended_at FROM sessions
WHERE tenant_id = $1 AND started_ts >= $2 AND started_ts <= $3 AND ended_at IS NOT NULL
"""

# ------------------------------------------------------------------ spans (Tempo)

_SPAN_COLUMNS = (
    "tenant_id, trace_id, span_id, parent_span_id, session_id, agent_id, service_name, name, kind, start_ns, "
    "end_ns, duration_ns, status_code, resource_key, body"
)
_SPAN_TYPES = ("text", "text", "text", "text", "text", "text", "text", "text", "bigint", "bigint", "bigint",
               "bigint", "bigint", "text", "text")
# spans sorted by key: concurrent writers of the same spans wait for each other, never deadlock
INSERT_SPANS = (
    f"INSERT INTO spans ({_SPAN_COLUMNS}) SELECT * FROM unnest("
    + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_SPAN_TYPES)) + ") ON CONFLICT DO NOTHING"
)
UPSERT_SPAN_RESOURCES = """
INSERT INTO span_resources (tenant_id, key, body, last_seen_ns)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
ON CONFLICT (tenant_id, key) DO UPDATE SET last_seen_ns = GREATEST(span_resources.last_seen_ns, excluded.last_seen_ns)
"""
_SPAN_FIELDS = (
    "s.tenant_id, s.trace_id, s.span_id, s.parent_span_id, s.session_id, s.agent_id, s.service_name, s.name, "
    "s.kind, s.start_ns, s.end_ns, s.status_code, s.resource_key, COALESCE(r.body, ''), s.body"
)
_SPAN_FROM = "FROM spans s LEFT JOIN span_resources r ON r.tenant_id = s.tenant_id AND r.key = s.resource_key"
SELECT_TRACE_SPANS = (
    f"SELECT {_SPAN_FIELDS} {_SPAN_FROM} WHERE s.tenant_id = $1 AND s.trace_id = ANY($2::text[])"
)
SELECT_SPAN_RESOURCES = (
    "SELECT key, body FROM span_resources WHERE tenant_id = $1 AND last_seen_ns >= $2 "
    "ORDER BY last_seen_ns DESC, key LIMIT $3"
)
SELECT_TRACE_EVENTS = (
    f"SELECT {EVENT_FIELDS} FROM events WHERE tenant_id = $1 AND session_id = ANY($2::text[]) AND ts >= $3 "
    "AND ts <= $4 AND (source IS NULL OR source NOT IN ('otlp', 'otlp_genai')) ORDER BY ts, id LIMIT $5"
)
DELETE_SPANS_BATCH = (
    "DELETE FROM spans WHERE ctid = ANY(ARRAY(SELECT ctid FROM spans WHERE tenant_id = $1 AND start_ns <= $2 LIMIT $3))"
)
DELETE_STALE_SPAN_RESOURCES = "DELETE FROM span_resources WHERE tenant_id = $1 AND last_seen_ns <= $2"

def _span_filter(f: SpanFilter, p: Params) -> str:
    if isinstance(f, SpanCmp):
        check_span_cmp(f)
        return f"s.{f.column} {f.op} {p.add(f.value)}"
    if isinstance(f, SpanContains):
        return f"strpos({'s.body' if f.target == 'body' else 'r.body'}, {p.add(f.needle)}) > 0"
    if not f.items:
        return "TRUE" if isinstance(f, SpanAnd) else "FALSE"
    joiner = " AND " if isinstance(f, SpanAnd) else " OR "
    return "(" + joiner.join(_span_filter(item, p) for item in f.items) + ")"


def scan_spans(tenant: str, scan: SpanScan) -> tuple[str, list[object]]:
    p = Params()
    where = (f"s.tenant_id = {p.add(tenant)} AND s.start_ns >= {p.add(scan.start_ns)} "
             f"AND s.start_ns <= {p.add(scan.end_ns)}")
    if scan.before is not None:
        where += (f" AND (s.start_ns, s.trace_id, s.span_id) < "
                  f"({p.add(scan.before[0])}, {p.add(scan.before[1])}, {p.add(scan.before[2])})")
    if scan.where is not None:
        where += " AND " + _span_filter(scan.where, p)
    sql = (
        f"SELECT {_SPAN_FIELDS} {_SPAN_FROM} WHERE {where} "
        f"ORDER BY s.start_ns DESC, s.trace_id DESC, s.span_id DESC LIMIT {p.add(scan.limit)}"
    )
    return sql, p.values
