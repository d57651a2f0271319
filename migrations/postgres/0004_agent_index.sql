-- Mirrors migrations/sqlite/0004_agent_index.sql (docs/decisions.md "One agent index"): events by
-- agent and by agent and type both read (tenant_id, agent_id, ts, event_type). The btree checks
-- the type as an index condition on each entry of the agent's range before any heap access.

DROP INDEX IF EXISTS idx_events_agent_type_ts;
DROP INDEX IF EXISTS idx_events_agent_id;
CREATE INDEX idx_events_agent_id ON events (tenant_id, agent_id, ts, event_type);
