-- No query reads spans by session (docs/decisions.md "Spans without a session index"): traces
-- are read by trace id (the primary key), searches by start time (idx_spans_start), retention by
-- start time. idx_spans_session only cost the writer: with a random session per trace, every
-- trace's spans dirtied their own leaf pages, about an eighth of the WAL frames of an OTLP commit.

DROP INDEX IF EXISTS idx_spans_session;
