-- The per-type rollup without the agent dimension (docs/decisions.md "Analytics and Grafana"):
-- with the agent in its key it held ~0.4 rows per event on a 200-agent workload and cost ~5 % of
-- ingest. Per-agent costs and tokens now come from the session rollup, which gains token sums
-- (cost_tracked + llm_response events); other per-agent figures read the events.

CREATE TABLE rollup_types_hourly (
    tenant_id          TEXT    NOT NULL,
    hour               INTEGER NOT NULL,
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
    duration_sum       REAL    NOT NULL,
    duration_count     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, hour, event_type, model, provider, tool_name, metric)
) WITHOUT ROWID;

INSERT INTO rollup_types_hourly
SELECT tenant_id, hour, event_type, model, provider, tool_name, metric, SUM(event_count), SUM(error_count),
    TOTAL(cost_sum), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
    TOTAL(duration_sum), SUM(duration_count)
FROM rollup_events_hourly GROUP BY 1, 2, 3, 4, 5, 6, 7;

DROP TABLE rollup_events_hourly;

ALTER TABLE rollup_sessions_hourly ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_sessions_hourly ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_sessions_hourly ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_sessions_hourly ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;

UPDATE rollup_sessions_hourly SET input_tokens = t.i, output_tokens = t.o, cache_read_tokens = t.cr,
    cache_write_tokens = t.cw
FROM (
    SELECT tenant_id, ts - (((ts % 3600000000) + 3600000000) % 3600000000) AS hour, agent_id, session_id,
        source IS 'otlp_metric' AS metric, COALESCE(SUM(input_tokens), 0) AS i, COALESCE(SUM(output_tokens), 0) AS o,
        COALESCE(SUM(cache_read_tokens), 0) AS cr, COALESCE(SUM(cache_write_tokens), 0) AS cw
    FROM events WHERE event_type IN ('cost_tracked', 'llm_response') GROUP BY 1, 2, 3, 4, 5
) AS t
WHERE rollup_sessions_hourly.tenant_id = t.tenant_id AND rollup_sessions_hourly.hour = t.hour
    AND rollup_sessions_hourly.agent_id = t.agent_id AND rollup_sessions_hourly.session_id = t.session_id
    AND rollup_sessions_hourly.metric = t.metric;
