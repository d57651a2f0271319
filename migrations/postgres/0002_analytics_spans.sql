-- Analytics and traces; the same tables, columns and indexes as migrations/sqlite/0002 (read its
-- header). Keys use COLLATE "C" like 0001. The cache-token backfill parses payloads with a
-- temporary function that treats a payload that is not JSON as carrying no tokens.

ALTER TABLE events ADD COLUMN cache_read_tokens BIGINT;
ALTER TABLE events ADD COLUMN cache_write_tokens BIGINT;

CREATE FUNCTION pg_temp.agentlens_usage_count(doc text, name text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    j jsonb;
    v jsonb;
BEGIN
    BEGIN
        j := doc::jsonb;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END;
    IF jsonb_typeof(j) <> 'object' THEN
        RETURN NULL;
    END IF;
    v := j -> name;
    IF v IS NULL OR jsonb_typeof(v) <> 'number' THEN
        v := CASE WHEN jsonb_typeof(j -> 'usage') = 'object' THEN j -> 'usage' -> name END;
    END IF;
    IF v IS NULL OR jsonb_typeof(v) <> 'number' THEN
        RETURN NULL;
    END IF;
    RETURN GREATEST(LEAST(trunc((v #>> '{}')::numeric), 9223372036854775807), -9223372036854775807)::bigint;
END $$;

UPDATE events SET
    cache_read_tokens = pg_temp.agentlens_usage_count(payload, 'cacheReadTokens'),
    cache_write_tokens = pg_temp.agentlens_usage_count(payload, 'cacheWriteTokens')
WHERE event_type IN ('cost_tracked', 'llm_response') AND strpos(payload, 'cache') > 0;

DROP FUNCTION pg_temp.agentlens_usage_count(text, text);

CREATE TABLE rollup_sessions_hourly (
    tenant_id       TEXT COLLATE "C" NOT NULL,
    hour            BIGINT           NOT NULL,
    agent_id        TEXT COLLATE "C" NOT NULL,
    session_id      TEXT COLLATE "C" NOT NULL,
    metric          BIGINT           NOT NULL,
    event_count     BIGINT           NOT NULL,
    tool_call_count BIGINT           NOT NULL,
    error_count     BIGINT           NOT NULL,
    latency_sum     DOUBLE PRECISION NOT NULL,
    latency_count   BIGINT           NOT NULL,
    cost_sum        DOUBLE PRECISION NOT NULL,
    cost_count      BIGINT           NOT NULL,
    PRIMARY KEY (tenant_id, hour, agent_id, session_id, metric)
);

CREATE TABLE rollup_events_hourly (
    tenant_id          TEXT COLLATE "C" NOT NULL,
    hour               BIGINT           NOT NULL,
    agent_id           TEXT COLLATE "C" NOT NULL,
    event_type         TEXT COLLATE "C" NOT NULL,
    model              TEXT COLLATE "C" NOT NULL,
    provider           TEXT COLLATE "C" NOT NULL,
    tool_name          TEXT COLLATE "C" NOT NULL,
    metric             BIGINT           NOT NULL,
    event_count        BIGINT           NOT NULL,
    error_count        BIGINT           NOT NULL,
    cost_sum           DOUBLE PRECISION NOT NULL,
    input_tokens       BIGINT           NOT NULL,
    output_tokens      BIGINT           NOT NULL,
    cache_read_tokens  BIGINT           NOT NULL,
    cache_write_tokens BIGINT           NOT NULL,
    duration_sum       DOUBLE PRECISION NOT NULL,
    duration_count     BIGINT           NOT NULL,
    PRIMARY KEY (tenant_id, hour, agent_id, event_type, model, provider, tool_name, metric)
);

INSERT INTO rollup_sessions_hourly
SELECT tenant_id, ts - (((ts % 3600000000) + 3600000000) % 3600000000), agent_id, session_id,
    (source IS NOT DISTINCT FROM 'otlp_metric')::int, COUNT(*), COUNT(*) FILTER (WHERE event_type = 'tool_call'),
    COUNT(*) FILTER (WHERE severity IN ('error', 'critical') OR event_type = 'tool_error'),
    COALESCE(SUM(duration_ms) FILTER (WHERE event_type = 'tool_response'), 0),
    COUNT(duration_ms) FILTER (WHERE event_type = 'tool_response'),
    COALESCE(SUM(cost_usd) FILTER (WHERE event_type IN ('cost_tracked', 'llm_response')), 0),
    COUNT(*) FILTER (WHERE event_type IN ('cost_tracked', 'llm_response'))
FROM events GROUP BY 1, 2, 3, 4, 5;

INSERT INTO rollup_events_hourly
SELECT tenant_id, ts - (((ts % 3600000000) + 3600000000) % 3600000000), agent_id, event_type,
    COALESCE(model, ''), COALESCE(provider, ''), COALESCE(tool_name, ''),
    (source IS NOT DISTINCT FROM 'otlp_metric')::int,
    COUNT(*), COUNT(*) FILTER (WHERE severity IN ('error', 'critical') OR event_type = 'tool_error'),
    COALESCE(SUM(cost_usd), 0), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
    COALESCE(SUM(cache_read_tokens), 0), COALESCE(SUM(cache_write_tokens), 0),
    COALESCE(SUM(duration_ms), 0), COUNT(duration_ms)
FROM events GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

CREATE TABLE spans (
    tenant_id      TEXT COLLATE "C" NOT NULL,
    trace_id       TEXT COLLATE "C" NOT NULL,
    span_id        TEXT COLLATE "C" NOT NULL,
    parent_span_id TEXT COLLATE "C" NOT NULL DEFAULT '',
    session_id     TEXT COLLATE "C" NOT NULL,
    agent_id       TEXT COLLATE "C" NOT NULL,
    service_name   TEXT COLLATE "C" NOT NULL DEFAULT '',
    name           TEXT COLLATE "C" NOT NULL,
    kind           BIGINT           NOT NULL,
    start_ns       BIGINT           NOT NULL,
    end_ns         BIGINT           NOT NULL,
    duration_ns    BIGINT           NOT NULL,
    status_code    BIGINT           NOT NULL,
    resource_key   TEXT COLLATE "C" NOT NULL,
    body           TEXT             NOT NULL,
    PRIMARY KEY (tenant_id, trace_id, span_id)
);
CREATE INDEX idx_spans_start ON spans (tenant_id, start_ns);
CREATE INDEX idx_spans_session ON spans (tenant_id, session_id, start_ns);

CREATE TABLE span_resources (
    tenant_id    TEXT COLLATE "C" NOT NULL,
    key          TEXT COLLATE "C" NOT NULL,
    body         TEXT             NOT NULL,
    last_seen_ns BIGINT           NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
