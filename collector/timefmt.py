"""Re-export of ``store.timefmt`` for the collector side (RFC 3339 parsing and formatting)."""

from store.timefmt import format_ms, format_us, now_iso_ms, now_us, parse_query_time, parse_rfc3339

__all__ = ("format_ms", "format_us", "now_iso_ms", "now_us", "parse_query_time", "parse_rfc3339")
