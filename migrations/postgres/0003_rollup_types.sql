-- The per-type rollup without the agent dimension; the session rollup gains token sums. The same
-- change as migrations/sqlite/0003_rollup_types.sql (read its header).

CREATE TABLE rollup_types_hourly (
    tenant_id          TEXT COLLATE "C" NOT NULL,
    hour               BIGINT           NOT NULL,
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
    PRIMARY KEY (tenant_id, hour, event_type, model, provider, tool_name, metric)
);

INSERT INTO rollup_types_hourly
SELECT tenant_id, hour, event_type, model, provider, tool_name, metric, SUM(event_count), SUM(error_count),
    COALESCE(SUM(cost_sum), 0), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens),
    SUM(cache_write_tokens), COALESCE(SUM(duration_sum), 0), SUM(duration_count)
FROM rollup_events_hourly GROUP BY 1, 2, 3, 4, 5, 6, 7;

DROP TABLE rollup_events_hourly;

ALTER TABLE rollup_sessions_hourly ADD COLUMN input_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_sessions_hourly ADD COLUMN output_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_sessions_hourly ADD COLUMN cache_read_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_sessions_hourly ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;

UPDATE rollup_sessions_hourly r SET input_tokens = t.i, output_tokens = t.o, cache_read_tokens = t.cr,
    cache_write_tokens = t.cw
FROM (
    SELECT tenant_id, ts - (((ts % 3600000000) + 3600000000) % 3600000000) AS hour, agent_id, session_id,
        (source IS NOT DISTINCT FROM 'otlp_metric')::int AS metric, COALESCE(SUM(input_tokens), 0) AS i,
        COALESCE(SUM(output_tokens), 0) AS o, COALESCE(SUM(cache_read_tokens), 0) AS cr,
        COALESCE(SUM(cache_write_tokens), 0) AS cw
    FROM events WHERE event_type IN ('cost_tracked', 'llm_response') GROUP BY 1, 2, 3, 4, 5
) AS t
WHERE r.tenant_id = t.tenant_id AND r.hour = t.hour AND r.agent_id = t.agent_id AND r.session_id = t.session_id
    AND r.metric = t.metric;
