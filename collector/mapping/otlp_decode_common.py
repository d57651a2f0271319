"""Checks shared by the protobuf and JSON decoders: trace/span id validity and problem tallies."""

from __future__ import annotations

from collections import Counter
from typing import Final

__all__ = (
    "DEPTH_MARKER",
    "IdProblems",
    "check_log_ids",
    "check_span_ids",
    "parent_id_or_root",
    "summarize",
)

# Replaces an AnyValue nested deeper than MAX_ANY_DEPTH (otlp-receiver.md §7 #22).
DEPTH_MARKER: Final = "[nested deeper than 16 levels: dropped]"

_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16


def check_span_ids(trace_hex: str, span_hex: str) -> str | None:
    """Why a span with these (lowercase hex) ids must be rejected, or ``None`` when usable."""
    if len(trace_hex) != 32:
        return "trace_id must be 16 bytes (32 hex digits)"
    if len(span_hex) != 16:
        return "span_id must be 8 bytes (16 hex digits)"
    if trace_hex == _ZERO_TRACE:
        return "trace_id is all zero"
    if span_hex == _ZERO_SPAN:
        return "span_id is all zero"
    return None


class IdProblems:
    """Counts id problems that do not reject an item (bad parent ids, bad log correlation)."""

    def __init__(self) -> None:
        self.bad_parents = 0
        self.bad_log_ids = 0

    def messages(self) -> list[str]:
        out = []
        if self.bad_parents:
            out.append(f"{self.bad_parents} span(s) had an unusable parent_span_id and were treated as roots")
        if self.bad_log_ids:
            out.append(f"{self.bad_log_ids} log record(s) had unusable trace/span ids; correlation dropped")
        return out


def parent_id_or_root(parent_hex: str, problems: IdProblems) -> str:
    """The parent id, or ``""`` (root) when it is empty, all zero or of the wrong length (#13)."""
    if not parent_hex or parent_hex == _ZERO_SPAN:
        return ""
    if len(parent_hex) != 16:
        problems.bad_parents += 1
        return ""
    return parent_hex


def check_log_ids(trace_hex: str, span_hex: str, problems: IdProblems) -> tuple[str, str]:
    """Usable (trace, span) ids of a log record; empty strings when there is no valid correlation."""
    if not trace_hex and not span_hex:
        return "", ""
    if len(trace_hex) != 32 or trace_hex == _ZERO_TRACE:
        if trace_hex and trace_hex != _ZERO_TRACE:
            problems.bad_log_ids += 1
        return "", ""
    if len(span_hex) != 16 or span_hex == _ZERO_SPAN:
        if span_hex and span_hex != _ZERO_SPAN:
            problems.bad_log_ids += 1
        return trace_hex, ""
    return trace_hex, span_hex


def summarize(rejected: int, what: str, errors: list[str], warnings: list[str]) -> str:
    """A short English ``error_message`` for partial success: reasons with their counts."""
    parts = []
    if rejected:
        counts = Counter(errors)
        reasons = "; ".join(f"{reason} ({n})" for reason, n in counts.most_common(5))
        parts.append(f"{rejected} {what} rejected: {reasons}" if reasons else f"{rejected} {what} rejected")
    parts.extend(warnings[:5])
    return ". ".join(parts)[:2000]
