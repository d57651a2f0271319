"""The OTLP mapper's only state: a bounded LRU memory of recent traces and metric series.

Per ``(tenant, traceId)`` it remembers, for spans already mapped, the session and agent they
resolved to (so a child exported in a later request lands in the same session, otlp.md §3),
which span ids are known to have an LLM span below them (nested LLM spans count once), which
LLM spans were already mapped, and GenAI log content waiting for its span. Per metric series it
remembers the last committed cumulative value (cumulative -> delta for cost metrics).

Everything is size-capped; forgetting only degrades attribution to the documented fallbacks.
A lock makes every operation safe when mapping runs in a worker thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ("OtlpMemo", "PendingContent", "SeriesUpdate", "SpanNote")

DEFAULT_MAX_TRACES: Final = 4096
DEFAULT_MAX_SPANS_PER_TRACE: Final = 512
DEFAULT_MAX_SERIES: Final = 10_000
_MAX_PENDING_MESSAGES: Final = 64
_MAX_WALK: Final = 64


@dataclass(frozen=True, slots=True)
class SpanNote:
    parent_span_id: str
    session_id: str | None   # from the span or an ancestor, never a fallback
    agent_id: str | None
    is_llm: bool = False


@dataclass(slots=True)
class PendingContent:
    """GenAI log content (v1.36 message events, inference details) waiting for its span."""

    inputs: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)   # (time, seq, message)
    outputs: list[tuple[int, int, Any]] = field(default_factory=list)             # (time, seq, Completion)
    details: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)  # (time, seq, attributes)
    digests: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class SeriesUpdate:
    key: tuple[str, ...]
    start_time_unix_nano: int
    value: float


@dataclass(slots=True)
class _Trace:
    notes: dict[str, SpanNote] = field(default_factory=dict)
    llm_below: set[str] = field(default_factory=set)
    pending: dict[str, PendingContent] = field(default_factory=dict)


class OtlpMemo:
    """Bounded memory shared by all OTLP requests of one receiver (one instance per app)."""

    def __init__(self, max_traces: int = DEFAULT_MAX_TRACES,
                 max_spans_per_trace: int = DEFAULT_MAX_SPANS_PER_TRACE,
                 max_series: int = DEFAULT_MAX_SERIES) -> None:
        self._traces: OrderedDict[tuple[str, str], _Trace] = OrderedDict()
        self._series: OrderedDict[tuple[str, ...], tuple[int, float]] = OrderedDict()
        self._cost_sessions: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._max_traces = max_traces
        self._max_spans = max_spans_per_trace
        self._max_series = max_series
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._traces)

    # ------------------------------------------------------------------ spans

    def lookup(self, tenant: str, trace_id: str, span_id: str) -> tuple[str | None, str | None]:
        """(session, agent) inherited through remembered ancestors, starting at ``span_id``."""
        with self._lock:
            trace = self._traces.get((tenant, trace_id))
            if trace is None:
                return None, None
            session: str | None = None
            agent: str | None = None
            current = span_id
            for _ in range(_MAX_WALK):
                note = trace.notes.get(current)
                if note is None:
                    break
                session = session or note.session_id
                agent = agent or note.agent_id
                if (session and agent) or not note.parent_span_id:
                    break
                current = note.parent_span_id
            return session, agent

    def note(self, tenant: str, trace_id: str, span_id: str, note: SpanNote) -> None:
        with self._lock:
            trace = self._touch(tenant, trace_id)
            if span_id in trace.notes or len(trace.notes) < self._max_spans:
                trace.notes[span_id] = note

    def note_many(self, tenant: str, trace_id: str, notes: list[tuple[str, SpanNote]]) -> None:
        """``note`` for several spans of one trace under one lock."""
        with self._lock:
            trace = self._touch(tenant, trace_id)
            for span_id, note in notes:
                if span_id in trace.notes or len(trace.notes) < self._max_spans:
                    trace.notes[span_id] = note

    def was_mapped_llm(self, tenant: str, trace_id: str, span_id: str) -> bool:
        with self._lock:
            trace = self._traces.get((tenant, trace_id))
            note = trace.notes.get(span_id) if trace is not None else None
            return note is not None and note.is_llm

    def llm_below(self, tenant: str, trace_id: str) -> frozenset[str]:
        """Span ids of this trace known (from earlier requests) to have an LLM span below them."""
        with self._lock:
            trace = self._traces.get((tenant, trace_id))
            return frozenset(trace.llm_below) if trace is not None else frozenset()

    def add_llm_below(self, tenant: str, trace_id: str, span_ids: set[str]) -> None:
        with self._lock:
            trace = self._touch(tenant, trace_id)
            room = self._max_spans - len(trace.llm_below)
            if room > 0:
                trace.llm_below.update(list(span_ids)[:room])

    # ------------------------------------------------------------------ log content

    def add_pending(self, tenant: str, trace_id: str, span_id: str, *, digest: str, kind: str,
                    time_ns: int, seq: int, item: Any) -> None:
        with self._lock:
            trace = self._touch(tenant, trace_id)
            pending = trace.pending.get(span_id)
            if pending is None:
                if len(trace.pending) >= self._max_spans:
                    return
                pending = trace.pending[span_id] = PendingContent()
            if digest in pending.digests:
                return  # the same log record again (an exporter retry)
            target = {"input": pending.inputs, "output": pending.outputs, "details": pending.details}[kind]
            if len(target) < _MAX_PENDING_MESSAGES:
                pending.digests.add(digest)
                target.append((time_ns, seq, item))

    def pending(self, tenant: str, trace_id: str, span_id: str) -> PendingContent | None:
        """Content for the span, left in place so that a retried span request maps identically."""
        with self._lock:
            trace = self._traces.get((tenant, trace_id))
            return trace.pending.get(span_id) if trace is not None else None

    # ------------------------------------------------------------------ metric series

    def series(self, key: tuple[str, ...]) -> tuple[int, float] | None:
        with self._lock:
            return self._series.get(key)

    def commit_series(self, updates: list[SeriesUpdate]) -> None:
        """Remember cumulative values; called only after the events derived from them committed."""
        with self._lock:
            for u in updates:
                self._series[u.key] = (u.start_time_unix_nano, u.value)
                self._series.move_to_end(u.key)
            while len(self._series) > self._max_series:
                self._series.popitem(last=False)

    # ------------------------------------------------------------------ per-call costs from logs

    def mark_logged_cost(self, tenant: str, session_id: str) -> None:
        """This session's LLM costs arrive per call in log records (Claude Code ``api_request``)."""
        with self._lock:
            key = (tenant, session_id)
            self._cost_sessions[key] = None
            self._cost_sessions.move_to_end(key)
            while len(self._cost_sessions) > self._max_series:
                self._cost_sessions.popitem(last=False)

    def has_logged_cost(self, tenant: str, session_id: str) -> bool:
        with self._lock:
            return (tenant, session_id) in self._cost_sessions

    # ------------------------------------------------------------------ internals

    def _touch(self, tenant: str, trace_id: str) -> _Trace:
        key = (tenant, trace_id)
        trace = self._traces.get(key)
        if trace is None:
            trace = self._traces[key] = _Trace()
            while len(self._traces) > self._max_traces:
                self._traces.popitem(last=False)
        else:
            self._traces.move_to_end(key)
        return trace
