-- Core tables: events with their chain position, sessions, agents, alerts, keys, settings.
-- The same tables, columns and indexes as migrations/sqlite/0001_init.sql, in PostgreSQL types:
-- INTEGER -> BIGINT (SQLite integers are 64-bit), REAL -> DOUBLE PRECISION, enabled -> BOOLEAN.
-- Times: the verbatim RFC 3339 text is kept (it is hashed); *_ts columns hold the same instant
-- as unix microseconds and are what every range filter, sort and bucket uses.
-- payload/metadata stay TEXT: the exact JSON that was hashed (jsonb would reorder keys).
-- Keys and sorted text use COLLATE "C" (code point order, as SQLite's BINARY) whatever the
-- database's default collation is, so both dialects order ids identically.

CREATE TABLE events (
    tenant_id         TEXT COLLATE "C" NOT NULL DEFAULT 'default',
    id                TEXT COLLATE "C" NOT NULL,
    seq               BIGINT           NOT NULL,
    timestamp         TEXT             NOT NULL,
    ts                BIGINT           NOT NULL,
    session_id        TEXT COLLATE "C" NOT NULL,
    agent_id          TEXT COLLATE "C" NOT NULL,
    event_type        TEXT COLLATE "C" NOT NULL,
    severity          TEXT COLLATE "C" NOT NULL DEFAULT 'info',
    payload           TEXT COLLATE "C" NOT NULL,
    metadata          TEXT             NOT NULL DEFAULT '{}',
    prev_hash         TEXT,
    hash              TEXT             NOT NULL,
    -- values extracted once at ingest (never hashed)
    source            TEXT COLLATE "C",
    cost_usd          DOUBLE PRECISION,
    input_tokens      BIGINT,
    output_tokens     BIGINT,
    duration_ms       DOUBLE PRECISION,
    model             TEXT,
    provider          TEXT,
    tool_name         TEXT,
    -- upstream AgentLens columns, kept for compatibility
    verified_agent_id TEXT,
    pricing_version   TEXT,
    org_id            TEXT             NOT NULL DEFAULT 'default',
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
    tenant_id           TEXT COLLATE "C" NOT NULL DEFAULT 'default',
    id                  TEXT COLLATE "C" NOT NULL,
    agent_id            TEXT COLLATE "C" NOT NULL,
    agent_name          TEXT,
    started_at          TEXT             NOT NULL,
    started_ts          BIGINT           NOT NULL,
    ended_at            TEXT,
    status              TEXT COLLATE "C" NOT NULL DEFAULT 'active',
    event_count         BIGINT           NOT NULL DEFAULT 0,
    tool_call_count     BIGINT           NOT NULL DEFAULT 0,
    error_count         BIGINT           NOT NULL DEFAULT 0,
    total_cost_usd      DOUBLE PRECISION NOT NULL DEFAULT 0,
    llm_call_count      BIGINT           NOT NULL DEFAULT 0,
    total_input_tokens  BIGINT           NOT NULL DEFAULT 0,
    total_output_tokens BIGINT           NOT NULL DEFAULT 0,
    tags                TEXT             NOT NULL DEFAULT '[]',
    last_event_at       TEXT,
    last_event_ts       BIGINT,
    -- head of the session's hash chain: seq and hash of the last appended event
    chain_seq           BIGINT           NOT NULL DEFAULT -1,
    chain_head          TEXT,
    org_id              TEXT             NOT NULL DEFAULT 'default',
    project_id          TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_sessions_agent_id ON sessions (tenant_id, agent_id);
CREATE INDEX idx_sessions_started_at ON sessions (tenant_id, started_ts);
CREATE INDEX idx_sessions_status ON sessions (tenant_id, status, started_ts);

-- one row per (session, tag): exact-match tag filters without scanning JSON
CREATE TABLE session_tags (
    tenant_id  TEXT COLLATE "C" NOT NULL,
    session_id TEXT COLLATE "C" NOT NULL,
    tag        TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, session_id, tag)
);
CREATE INDEX idx_session_tags_tag ON session_tags (tenant_id, tag);

CREATE TABLE agents (
    tenant_id      TEXT COLLATE "C" NOT NULL DEFAULT 'default',
    id             TEXT COLLATE "C" NOT NULL,
    name           TEXT             NOT NULL,
    description    TEXT,
    first_seen_at  TEXT             NOT NULL,
    first_seen_ts  BIGINT           NOT NULL,
    last_seen_at   TEXT             NOT NULL,
    last_seen_ts   BIGINT           NOT NULL,
    session_count  BIGINT           NOT NULL DEFAULT 0,
    org_id         TEXT             NOT NULL DEFAULT 'default',
    project_id     TEXT,
    model_override TEXT,
    paused_at      TEXT,
    pause_reason   TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_agents_last_seen ON agents (tenant_id, last_seen_ts);

CREATE TABLE alert_rules (
    id              TEXT COLLATE "C" PRIMARY KEY,
    tenant_id       TEXT COLLATE "C" NOT NULL DEFAULT 'default',
    name            TEXT             NOT NULL,
    enabled         BOOLEAN          NOT NULL DEFAULT TRUE,
    condition       TEXT             NOT NULL,
    threshold       DOUBLE PRECISION NOT NULL,
    window_minutes  BIGINT           NOT NULL,
    scope           TEXT             NOT NULL DEFAULT '{}',
    notify_channels TEXT             NOT NULL DEFAULT '[]',
    created_at      TEXT COLLATE "C" NOT NULL,
    updated_at      TEXT             NOT NULL
);
CREATE INDEX idx_alert_rules_tenant ON alert_rules (tenant_id, id);

-- no foreign key to alert_rules: deleting a rule keeps its history
CREATE TABLE alert_history (
    id            TEXT COLLATE "C" PRIMARY KEY,
    tenant_id     TEXT COLLATE "C" NOT NULL DEFAULT 'default',
    rule_id       TEXT COLLATE "C" NOT NULL,
    triggered_at  TEXT             NOT NULL,
    triggered_ts  BIGINT           NOT NULL,
    resolved_at   TEXT,
    current_value DOUBLE PRECISION NOT NULL,
    threshold     DOUBLE PRECISION NOT NULL,
    message       TEXT             NOT NULL
);
CREATE INDEX idx_alert_history_rule_id ON alert_history (tenant_id, rule_id, triggered_ts);
CREATE INDEX idx_alert_history_tenant_triggered ON alert_history (tenant_id, triggered_ts);

CREATE TABLE api_keys (
    id           TEXT COLLATE "C" PRIMARY KEY,
    key_hash     TEXT COLLATE "C" NOT NULL UNIQUE,
    name         TEXT             NOT NULL,
    scopes       TEXT             NOT NULL DEFAULT '["*"]',
    created_at   BIGINT           NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    rate_limit   BIGINT,
    tenant_id    TEXT COLLATE "C" NOT NULL DEFAULT 'default',
    created_by   TEXT,
    role         TEXT             NOT NULL DEFAULT 'editor',
    rotated_at   BIGINT,
    expires_at   BIGINT
);
CREATE INDEX idx_api_keys_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE config_kv (
    tenant_id TEXT COLLATE "C" NOT NULL DEFAULT 'default',
    key       TEXT COLLATE "C" NOT NULL,
    value     TEXT             NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

-- what retention deleted from a chain: seqs from_seq..to_seq, the hash of the last one
-- (the next surviving event's prev_hash) and a digest of every deleted hash
CREATE TABLE chain_anchors (
    id                BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id         TEXT COLLATE "C" NOT NULL,
    session_id        TEXT COLLATE "C" NOT NULL,
    from_seq          BIGINT           NOT NULL,
    to_seq            BIGINT           NOT NULL,
    first_prev_hash   TEXT,
    last_deleted_hash TEXT             NOT NULL,
    deleted_count     BIGINT           NOT NULL,
    digest            TEXT             NOT NULL,
    created_at        TEXT             NOT NULL
);
CREATE INDEX idx_chain_anchors_session ON chain_anchors (tenant_id, session_id, to_seq);

CREATE TABLE retention_runs (
    id                BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    started_at        TEXT             NOT NULL,
    cutoff            TEXT             NOT NULL,
    deleted_count     BIGINT           NOT NULL,
    sessions_deleted  BIGINT           NOT NULL,
    anchored_sessions BIGINT           NOT NULL,
    duration_ms       DOUBLE PRECISION NOT NULL,
    details           TEXT             NOT NULL DEFAULT '[]'
);
