-- Core tables: events with their chain position, sessions, agents, alerts, keys, settings.
-- Times: the verbatim RFC 3339 text is kept (it is hashed); *_ts columns hold the same instant
-- as unix microseconds and are what every range filter, sort and bucket uses.

CREATE TABLE events (
    tenant_id         TEXT    NOT NULL DEFAULT 'default',
    id                TEXT    NOT NULL,
    seq               INTEGER NOT NULL,
    timestamp         TEXT    NOT NULL,
    ts                INTEGER NOT NULL,
    session_id        TEXT    NOT NULL,
    agent_id          TEXT    NOT NULL,
    event_type        TEXT    NOT NULL,
    severity          TEXT    NOT NULL DEFAULT 'info',
    payload           TEXT    NOT NULL,
    metadata          TEXT    NOT NULL DEFAULT '{}',
    prev_hash         TEXT,
    hash              TEXT    NOT NULL,
    -- values extracted once at ingest (never hashed)
    source            TEXT,
    cost_usd          REAL,
    input_tokens      INTEGER,
    output_tokens     INTEGER,
    duration_ms       REAL,
    model             TEXT,
    provider          TEXT,
    tool_name         TEXT,
    -- upstream AgentLens columns, kept for compatibility
    verified_agent_id TEXT,
    pricing_version   TEXT,
    org_id            TEXT    NOT NULL DEFAULT 'default',
    project_id        TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_events_timestamp ON events (tenant_id, ts);
CREATE UNIQUE INDEX idx_events_session_id ON events (tenant_id, session_id, seq);
CREATE INDEX idx_events_session_ts ON events (tenant_id, session_id, ts);
CREATE INDEX idx_events_agent_id ON events (tenant_id, agent_id, ts);
CREATE INDEX idx_events_type ON events (tenant_id, event_type, ts);
CREATE INDEX idx_events_agent_type_ts ON events (tenant_id, agent_id, event_type, ts);

CREATE TABLE sessions (
    tenant_id           TEXT    NOT NULL DEFAULT 'default',
    id                  TEXT    NOT NULL,
    agent_id            TEXT    NOT NULL,
    agent_name          TEXT,
    started_at          TEXT    NOT NULL,
    started_ts          INTEGER NOT NULL,
    ended_at            TEXT,
    status              TEXT    NOT NULL DEFAULT 'active',
    event_count         INTEGER NOT NULL DEFAULT 0,
    tool_call_count     INTEGER NOT NULL DEFAULT 0,
    error_count         INTEGER NOT NULL DEFAULT 0,
    total_cost_usd      REAL    NOT NULL DEFAULT 0,
    llm_call_count      INTEGER NOT NULL DEFAULT 0,
    total_input_tokens  INTEGER NOT NULL DEFAULT 0,
    total_output_tokens INTEGER NOT NULL DEFAULT 0,
    tags                TEXT    NOT NULL DEFAULT '[]',
    last_event_at       TEXT,
    last_event_ts       INTEGER,
    -- head of the session's hash chain: seq and hash of the last appended event
    chain_seq           INTEGER NOT NULL DEFAULT -1,
    chain_head          TEXT,
    org_id              TEXT    NOT NULL DEFAULT 'default',
    project_id          TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_sessions_agent_id ON sessions (tenant_id, agent_id);
CREATE INDEX idx_sessions_started_at ON sessions (tenant_id, started_ts);
CREATE INDEX idx_sessions_status ON sessions (tenant_id, status, started_ts);

-- one row per (session, tag): exact-match tag filters without scanning JSON
CREATE TABLE session_tags (
    tenant_id  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    tag        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, session_id, tag)
);
CREATE INDEX idx_session_tags_tag ON session_tags (tenant_id, tag);

CREATE TABLE agents (
    tenant_id      TEXT    NOT NULL DEFAULT 'default',
    id             TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    description    TEXT,
    first_seen_at  TEXT    NOT NULL,
    first_seen_ts  INTEGER NOT NULL,
    last_seen_at   TEXT    NOT NULL,
    last_seen_ts   INTEGER NOT NULL,
    session_count  INTEGER NOT NULL DEFAULT 0,
    org_id         TEXT    NOT NULL DEFAULT 'default',
    project_id     TEXT,
    model_override TEXT,
    paused_at      TEXT,
    pause_reason   TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_agents_last_seen ON agents (tenant_id, last_seen_ts);

CREATE TABLE alert_rules (
    id              TEXT    PRIMARY KEY,
    tenant_id       TEXT    NOT NULL DEFAULT 'default',
    name            TEXT    NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    condition       TEXT    NOT NULL,
    threshold       REAL    NOT NULL,
    window_minutes  INTEGER NOT NULL,
    scope           TEXT    NOT NULL DEFAULT '{}',
    notify_channels TEXT    NOT NULL DEFAULT '[]',
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX idx_alert_rules_tenant ON alert_rules (tenant_id, id);

-- no foreign key to alert_rules: deleting a rule keeps its history
CREATE TABLE alert_history (
    id            TEXT    PRIMARY KEY,
    tenant_id     TEXT    NOT NULL DEFAULT 'default',
    rule_id       TEXT    NOT NULL,
    triggered_at  TEXT    NOT NULL,
    triggered_ts  INTEGER NOT NULL,
    resolved_at   TEXT,
    current_value REAL    NOT NULL,
    threshold     REAL    NOT NULL,
    message       TEXT    NOT NULL
);
CREATE INDEX idx_alert_history_rule_id ON alert_history (tenant_id, rule_id, triggered_ts);
CREATE INDEX idx_alert_history_tenant_triggered ON alert_history (tenant_id, triggered_ts);

CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    key_hash     TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    scopes       TEXT    NOT NULL DEFAULT '["*"]',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    rate_limit   INTEGER,
    tenant_id    TEXT    NOT NULL DEFAULT 'default',
    created_by   TEXT,
    role         TEXT    NOT NULL DEFAULT 'editor',
    rotated_at   INTEGER,
    expires_at   INTEGER
);
CREATE INDEX idx_api_keys_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE config_kv (
    tenant_id TEXT NOT NULL DEFAULT 'default',
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

-- what retention deleted from a chain: seqs from_seq..to_seq, the hash of the last one
-- (the next surviving event's prev_hash) and a digest of every deleted hash
CREATE TABLE chain_anchors (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         TEXT    NOT NULL,
    session_id        TEXT    NOT NULL,
    from_seq          INTEGER NOT NULL,
    to_seq            INTEGER NOT NULL,
    first_prev_hash   TEXT,
    last_deleted_hash TEXT    NOT NULL,
    deleted_count     INTEGER NOT NULL,
    digest            TEXT    NOT NULL,
    created_at        TEXT    NOT NULL
);
CREATE INDEX idx_chain_anchors_session ON chain_anchors (tenant_id, session_id, to_seq);

CREATE TABLE retention_runs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at        TEXT    NOT NULL,
    cutoff            TEXT    NOT NULL,
    deleted_count     INTEGER NOT NULL,
    sessions_deleted  INTEGER NOT NULL,
    anchored_sessions INTEGER NOT NULL,
    duration_ms       REAL    NOT NULL,
    details           TEXT    NOT NULL DEFAULT '[]'
);
