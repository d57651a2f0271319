"""Span records (OTLP traces kept for the Tempo API) and the span-filter tree a backend turns into SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args

__all__ = (
    "INT64_MAX",
    "NewSpan",
    "SpanAnd",
    "SpanCmp",
    "SpanColumn",
    "SpanContains",
    "SpanFilter",
    "SpanOr",
    "SpanScan",
    "StoredSpan",
    "check_span_cmp",
)

INT64_MAX = (1 << 63) - 1


class NewSpan(NamedTuple):
    """One span to store with the events of the same request (same transaction).

    Ids are lowercase hex (``parent_span_id`` is ``""`` for a root). ``resource_key`` names the
    resource + scope record ``resource_json`` (stored once per key and tenant); ``body_json`` holds
    everything else (typed attributes, span events, links, status message, ...). Both are opaque
    to the store: the collector encodes and decodes them. ``(tenant, trace, span)`` is the
    identity: a span that is already stored is left as it is (idempotent retries).
    """

    tenant_id: str
    trace_id: str
    span_id: str
    parent_span_id: str
    session_id: str
    agent_id: str
    service_name: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status_code: int
    resource_key: str
    resource_json: str
    body_json: str

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)


@dataclass(frozen=True, slots=True)
class StoredSpan:
    tenant_id: str
    trace_id: str
    span_id: str
    parent_span_id: str
    session_id: str
    agent_id: str
    service_name: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status_code: int
    resource_key: str
    resource_json: str
    body_json: str

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)


# ------------------------------------------------------------------ filters pushed down to SQL

SpanColumn = Literal["name", "service_name", "kind", "status_code", "duration_ns", "start_ns", "parent_span_id"]
CmpOp = Literal["=", "!=", ">", ">=", "<", "<="]


@dataclass(frozen=True, slots=True)
class SpanCmp:
    """``column op value`` on an indexed span column."""

    column: SpanColumn
    op: CmpOp
    value: str | int


_COLUMNS: frozenset[str] = frozenset(get_args(SpanColumn))
_OPS: frozenset[str] = frozenset(get_args(CmpOp))


def check_span_cmp(f: SpanCmp) -> None:
    """``ValueError`` unless the column and operator are ones the types allow: backends splice both into SQL."""
    if f.column not in _COLUMNS or f.op not in _OPS:
        raise ValueError(f"unsupported span condition {f.column} {f.op}")


@dataclass(frozen=True, slots=True)
class SpanContains:
    """The span body (or its resource record) contains ``needle`` as a substring (case-sensitive).

    Used as a cheap superset test before the exact evaluation in Python.
    """

    needle: str
    target: Literal["body", "resource"] = "body"


@dataclass(frozen=True, slots=True)
class SpanAnd:
    items: tuple[SpanFilter, ...]


@dataclass(frozen=True, slots=True)
class SpanOr:
    items: tuple[SpanFilter, ...]


SpanFilter = SpanCmp | SpanContains | SpanAnd | SpanOr


@dataclass(frozen=True, slots=True)
class SpanScan:
    """Spans of one tenant started in ``[start_ns, end_ns]``, newest first, matching ``where``.

    Keyset pagination: ``before = (start_ns, trace_id, span_id)`` of the last span of the
    previous page; the next page holds only spans strictly after it in (start desc, trace desc,
    span desc) order.
    """

    start_ns: int
    end_ns: int
    where: SpanFilter | None = None
    limit: int = 1000
    before: tuple[int, str, str] | None = None
