"""Evaluate a parsed TraceQL query on spans, and derive the superset filter the store can apply in SQL."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from collector.mapping.otlp_model import KIND_NAMES, STATUS_NAMES, Span
from collector.tempo.traceql import And, Cond, Duration, Enum, Expr, Field, Nil, Or, Query, SpansetAnd, SpansetOr
from store.spans import SpanAnd, SpanCmp, SpanContains, SpanFilter, SpanOr

__all__ = (
    "ROOT_NOT_RECEIVED",
    "TraceInfo",
    "fields_of",
    "leaves",
    "matches",
    "needs_trace",
    "pushdown",
    "trace_info",
    "trace_matches",
)

ROOT_NOT_RECEIVED: Final = "<root span not yet received>"
_MISSING: Final = object()
_TRACE_FIELDS: Final = frozenset({"rootServiceName", "rootName", "traceDuration"})
_KIND_CODES: Final = {name.lower(): i for i, name in enumerate(KIND_NAMES)}
_STATUS_CODES: Final = {name.lower(): i for i, name in enumerate(STATUS_NAMES)}


@dataclass(frozen=True, slots=True)
class TraceInfo:
    root_service: str | None
    root_name: str | None
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)


def trace_info(spans: Sequence[Span]) -> TraceInfo:
    """Root (a span without a parent in the trace, earliest first) and the trace's time span."""
    ids = {s.span_id for s in spans}
    roots = sorted((s for s in spans if not s.parent_span_id or s.parent_span_id not in ids),
                   key=lambda s: (bool(s.parent_span_id), s.start_time_unix_nano))
    true_root = roots[0] if roots and not roots[0].parent_span_id else None
    return TraceInfo(
        root_service=(true_root.resource.service_name or "") if true_root else None,
        root_name=true_root.name if true_root else None,
        start_ns=min((s.start_time_unix_nano for s in spans), default=0),
        end_ns=max((s.end_time_unix_nano for s in spans), default=0),
    )


# ------------------------------------------------------------------ evaluation


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _lookup(field: Field, span: Span, trace: TraceInfo | None) -> Any:
    if field.scope == "span":
        return span.attributes.get(field.name, _MISSING)
    if field.scope == "resource":
        return span.resource.attributes.get(field.name, _MISSING)
    if field.scope == "any":
        value = span.attributes.get(field.name, _MISSING)
        return span.resource.attributes.get(field.name, _MISSING) if value is _MISSING else value
    name = field.name
    if name == "name":
        return span.name
    if name == "status":
        return Enum(STATUS_NAMES[span.status_code].lower() if 0 <= span.status_code < 3 else "unset")
    if name == "statusMessage":
        return span.status_message
    if name == "kind":
        return Enum(KIND_NAMES[span.kind].lower() if 0 <= span.kind < len(KIND_NAMES) else "unspecified")
    if name == "duration":
        return Duration(max(0, span.end_time_unix_nano - span.start_time_unix_nano))
    if trace is None:
        return _MISSING
    if name == "rootServiceName":
        return trace.root_service if trace.root_service is not None else _MISSING
    if name == "rootName":
        return trace.root_name if trace.root_name is not None else _MISSING
    return Duration(trace.duration_ns)   # traceDuration


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _ordered(a: Any, op: str, b: Any) -> bool:
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == ">":
        return bool(a > b)
    if op == ">=":
        return bool(a >= b)
    if op == "<":
        return bool(a < b)
    return bool(a <= b)


def compare(actual: Any, op: str, expected: Any) -> bool:
    if isinstance(expected, Nil):
        return (actual is not _MISSING) == (op == "!=")
    if actual is _MISSING:
        return False
    if op == "tag=":
        return bool(_as_text(actual) == expected)
    if op in ("=~", "!~"):
        if isinstance(actual, Enum):
            actual = actual.name
        if not isinstance(actual, str):
            return False
        hit = _regex(expected).fullmatch(actual) is not None
        return hit if op == "=~" else not hit
    if isinstance(actual, Enum):
        wanted = expected.name if isinstance(expected, Enum) else expected
        return isinstance(wanted, str) and _ordered(actual.name, op, wanted.lower())
    if isinstance(actual, Duration):
        actual = actual.ns
    if isinstance(expected, Duration):
        expected = expected.ns
    if isinstance(actual, bool) or isinstance(expected, bool):
        return bool(isinstance(actual, bool) and isinstance(expected, bool) and op in ("=", "!=")
                    and _ordered(actual, op, expected))
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return _ordered(actual, op, expected)
    if isinstance(actual, str) and isinstance(expected, str):
        return _ordered(actual, op, expected)
    return False


def matches(expr: Expr, span: Span, trace: TraceInfo | None = None) -> bool:
    if isinstance(expr, bool):
        return expr
    if isinstance(expr, Cond):
        return compare(_lookup(expr.field, span, trace), expr.op, expr.value)
    if isinstance(expr, And):
        return all(matches(e, span, trace) for e in expr.items)
    return any(matches(e, span, trace) for e in expr.items)


def leaves(query: Query) -> list[Expr]:
    """The spanset filters of a query, in order."""
    if isinstance(query, SpansetAnd | SpansetOr):
        return [leaf for item in query.items for leaf in leaves(item)]
    return [query]


def trace_matches(query: Query, spans: Sequence[Span], trace: TraceInfo) -> list[Span] | None:
    """The spans of the trace's matching spansets, or None when the trace does not match."""
    if isinstance(query, SpansetAnd):
        parts = [trace_matches(q, spans, trace) for q in query.items]
        if any(p is None for p in parts):
            return None
        return _union(p for p in parts if p is not None)
    if isinstance(query, SpansetOr):
        parts = [trace_matches(q, spans, trace) for q in query.items]
        found = [p for p in parts if p is not None]
        return _union(found) if found else None
    matched = [s for s in spans if matches(query, s, trace)]
    return matched or None


def _union(parts: Iterable[list[Span]]) -> list[Span]:
    seen: dict[str, Span] = {}
    for part in parts:
        for s in part:
            seen.setdefault(s.span_id, s)
    return sorted(seen.values(), key=lambda s: (s.start_time_unix_nano, s.span_id))


def fields_of(query: Query) -> list[Field]:
    """Every field the query compares (for the attributes a search result shows)."""
    out: list[Field] = []

    def walk(e: Query) -> None:
        if isinstance(e, Cond):
            if e.field not in out:
                out.append(e.field)
        elif isinstance(e, And | Or | SpansetAnd | SpansetOr):
            for item in e.items:
                walk(item)

    walk(query)
    return out


def needs_trace(query: Query) -> bool:
    return any(f.scope == "intrinsic" and f.name in _TRACE_FIELDS for f in fields_of(query))


# ------------------------------------------------------------------ pushdown: a superset filter in SQL


def _needle(value: Any, op: str) -> str | None:
    """Text that the stored JSON of a span carrying this value must contain (None: no such text)."""
    if op == "tag=":
        return orjson.dumps(value).decode()[1:-1] or None
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if isinstance(value, bool | int):
        return orjson.dumps(value).decode()
    return None


def _cond_filter(c: Cond) -> SpanFilter | None:
    f, op, v = c.field, c.op, c.value
    if isinstance(v, Nil):
        return None
    if f.scope == "intrinsic":
        if f.name == "name" and isinstance(v, str) and op in ("=", "!=", ">", ">=", "<", "<="):
            return SpanCmp("name", op, v)  # type: ignore[arg-type]
        if f.name == "status" and op in ("=", "!="):
            code = _STATUS_CODES.get(v.name if isinstance(v, Enum) else str(v).lower())
            return SpanCmp("status_code", op, code) if code is not None else None  # type: ignore[arg-type]
        if f.name == "kind" and op in ("=", "!="):
            kind = _KIND_CODES.get(v.name if isinstance(v, Enum) else str(v).lower())
            return SpanCmp("kind", op, kind) if kind is not None else None  # type: ignore[arg-type]
        if f.name == "duration" and op in ("=", "!=", ">", ">=", "<", "<=") and isinstance(v, Duration | int):
            return SpanCmp("duration_ns", op, v.ns if isinstance(v, Duration) else v)  # type: ignore[arg-type]
        return None
    if op not in ("=", "tag="):
        return None
    if f.scope == "resource" and f.name == "service.name" and op == "=" and isinstance(v, str):
        return SpanCmp("service_name", "=", v)
    needle = _needle(v, op)
    if needle is None:
        return None
    if f.scope == "span":
        return SpanContains(needle, "body")
    if f.scope == "resource":
        return SpanContains(needle, "resource")
    return SpanOr((SpanContains(needle, "body"), SpanContains(needle, "resource")))


def _expr_filter(expr: Expr) -> SpanFilter | None:
    if isinstance(expr, bool):
        return None if expr else SpanOr(())
    if isinstance(expr, Cond):
        return _cond_filter(expr)
    parts = [_expr_filter(e) for e in expr.items]
    if isinstance(expr, And):
        kept = tuple(p for p in parts if p is not None)
        return None if not kept else kept[0] if len(kept) == 1 else SpanAnd(kept)
    if any(p is None for p in parts):
        return None
    return SpanOr(tuple(p for p in parts if p is not None))


def pushdown(query: Query) -> SpanFilter | None:
    """A filter every span of a matching spanset passes (None: no restriction).

    For several spansets a candidate span needs to match one of them; the whole trace is then
    evaluated exactly.
    """
    parts = [_expr_filter(leaf) for leaf in leaves(query)]
    if any(p is None for p in parts):
        return None
    kept = tuple(p for p in parts if p is not None)
    return kept[0] if len(kept) == 1 else SpanOr(kept)
