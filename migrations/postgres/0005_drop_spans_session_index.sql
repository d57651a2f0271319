-- Mirrors migrations/sqlite/0005_drop_spans_session_index.sql: no query reads spans by session,
-- so the index was only a cost on every span written.

DROP INDEX IF EXISTS idx_spans_session;
