-- Analytics and traces (docs/decisions.md "Analytics and Grafana"):
-- * cache-token columns on events (extracted at ingest like the other facts; backfilled here),
-- * two hourly rollups maintained in the ingest transaction (and backfilled here), so analytics
--   over long ranges read hours instead of events,
-- * the spans of OTLP traces for the Tempo API, with their resource and scope stored once.
-- Hours are unix microseconds floored to the hour (correct for times before 1970 too).

ALTER TABLE events ADD COLUMN cache_read_tokens INTEGER;
ALTER TABLE events ADD COLUMN cache_write_tokens INTEGER;

-- payload.X, else payload.usage.X: the first that is a JSON number (collector/mapping/facts.py)
UPDATE events SET
    cache_read_tokens = CASE
        WHEN json_type(payload, '$.cacheReadTokens') IN ('integer', 'real')
            THEN CAST(json_extract(payload, '$.cacheReadTokens') AS INTEGER)
        WHEN json_type(payload, '$.usage.cacheReadTokens') IN ('integer', 'real')
            THEN CAST(json_extract(payload, '$.usage.cacheReadTokens') AS INTEGER)
    END,
    cache_write_tokens = CASE
        WHEN json_type(payload, '$.cacheWriteTokens') IN ('integer', 'real')
            THEN CAST(json_extract(payload, '$.cacheWriteTokens') AS INTEGER)
        WHEN json_type(payload, '$.usage.cacheWriteTokens') IN ('integer', 'real')
            THEN CAST(json_extract(payload, '$.usage.cacheWriteTokens') AS INTEGER)
    END
WHERE event_type IN ('cost_tracked', 'llm_response') AND instr(payload, 'cache') > 0 AND json_valid(payload);

-- one row per (hour, agent, session, metric-or-not): counters of /api/analytics and distinct sessions
CREATE TABLE rollup_sessions_hourly (
    tenant_id       TEXT    NOT NULL,
    hour            INTEGER NOT NULL,
    agent_id        TEXT    NOT NULL,
    session_id      TEXT    NOT NULL,
    metric          INTEGER NOT NULL,   -- 1 for events with metadata.source = 'otlp_metric'
    event_count     INTEGER NOT NULL,
    tool_call_count INTEGER NOT NULL,
    error_count     INTEGER NOT NULL,   -- severity error/critical, or tool_error
    latency_sum     REAL    NOT NULL,   -- durationMs of tool_response events
    latency_count   INTEGER NOT NULL,
    cost_sum        REAL    NOT NULL,   -- costUsd of cost_tracked and llm_response events
    cost_count      INTEGER NOT NULL,   -- cost_tracked and llm_response events
    PRIMARY KEY (tenant_id, hour, agent_id, session_id, metric)
) WITHOUT ROWID;

-- one row per (hour, agent, type, model, provider, tool, metric-or-not); '' stands for "none"
CREATE TABLE rollup_events_hourly (
    tenant_id          TEXT    NOT NULL,
    hour               INTEGER NOT NULL,
    agent_id           TEXT    NOT NULL,
    event_type         TEXT    NOT NULL,
    model              TEXT    NOT NULL,
    provider           TEXT    NOT NULL,
    tool_name          TEXT    NOT NULL,
    metric             INTEGER NOT NULL,
    event_count        INTEGER NOT NULL,
    error_count        INTEGER NOT NULL,
    cost_sum           REAL    NOT NULL,
    input_tokens       INTEGER NOT NULL,
    output_tokens      INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    duration_sum       REAL    NOT NULL,   -- durationMs (tools) / latencyMs (llm_response)
    duration_count     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, hour, agent_id, event_type, model, provider, tool_name, metric)
) WITHOUT ROWID;

INSERT INTO rollup_sessions_hourly
SELECT tenant_id, ts - (((ts % 3600000000) + 3600000000) % 3600000000), agent_id, session_id,
    source IS 'otlp_metric', COUNT(*), SUM(event_type = 'tool_call'),
    SUM(severity IN ('error', 'critical') OR event_type = 'tool_error'),
    TOTAL(CASE WHEN event_type = 'tool_response' THEN duration_ms END),
    COUNT(CASE WHEN event_type = 'tool_response' THEN duration_ms END),
    TOTAL(CASE WHEN event_type IN ('cost_tracked', 'llm_response') THEN cost_usd END),
    SUM(event_type IN ('cost_tracked', 'llm_response'))
FROM events GROUP BY 1, 2, 3, 4, 5;

INSERT INTO rollup_events_hourly
SELECT tenant_id, ts - (((ts % 3600000000) + 3600000000) % 3600000000), agent_id, event_type,
    COALESCE(model, ''), COALESCE(provider, ''), COALESCE(tool_name, ''), source IS 'otlp_metric',
    COUNT(*), SUM(severity IN ('error', 'critical') OR event_type = 'tool_error'), TOTAL(cost_usd),
    COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_read_tokens), 0),
    COALESCE(SUM(cache_write_tokens), 0), TOTAL(duration_ms), COUNT(duration_ms)
FROM events GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

-- OTLP spans as received (ids lowercase hex, times unix nanoseconds); ``body`` holds the typed
-- attributes, span events, links and the rest (collector/tempo/codec.py), opaque to SQL
CREATE TABLE spans (
    tenant_id      TEXT    NOT NULL,
    trace_id       TEXT    NOT NULL,
    span_id        TEXT    NOT NULL,
    parent_span_id TEXT    NOT NULL DEFAULT '',
    session_id     TEXT    NOT NULL,
    agent_id       TEXT    NOT NULL,
    service_name   TEXT    NOT NULL DEFAULT '',
    name           TEXT    NOT NULL,
    kind           INTEGER NOT NULL,
    start_ns       INTEGER NOT NULL,
    end_ns         INTEGER NOT NULL,
    duration_ns    INTEGER NOT NULL,
    status_code    INTEGER NOT NULL,
    resource_key   TEXT    NOT NULL,
    body           TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, trace_id, span_id)
);
CREATE INDEX idx_spans_start ON spans (tenant_id, start_ns);
CREATE INDEX idx_spans_session ON spans (tenant_id, session_id, start_ns);

-- resource + instrumentation scope of spans, stored once per distinct pair
CREATE TABLE span_resources (
    tenant_id    TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    last_seen_ns INTEGER NOT NULL,   -- the latest start of a span stored with it (retention)
    PRIMARY KEY (tenant_id, key)
);
