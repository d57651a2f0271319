"""The Tempo HTTP API subset under /tempo (trace by id, search with a TraceQL subset, tags)."""
