-- One agent index instead of two (docs/decisions.md "Agent index"): events by agent and by
-- agent and type both read (tenant_id, agent_id, ts, event_type). The type filter is checked on
-- the index entry before the row is read, and a count by agent and type is index-only. Each
-- index an event lands in costs the writer a b-tree insert and, per commit, the leaf pages it
-- dirtied; this one kept about a tenth of the SQLite writer busy.

DROP INDEX idx_events_agent_type_ts;
DROP INDEX idx_events_agent_id;
CREATE INDEX idx_events_agent_id ON events (tenant_id, agent_id, ts, event_type);
