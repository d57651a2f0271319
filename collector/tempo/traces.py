"""One trace by id: its stored spans, plus the session's events that have no span as zero-duration spans."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Final

import orjson

from collector.mapping.otlp_model import Resource, Scope, Span
from collector.tempo.codec import decode_stored
from store.interface import Store
from store.model import StoredEvent

__all__ = ("MAX_NATIVE_SPANS", "NATIVE_SCOPE", "load_trace", "normalize_trace_id")

# events of the trace's sessions shown as zero-duration spans, at most
MAX_NATIVE_SPANS: Final = 2000
PAYLOAD_ATTRIBUTE_MAX: Final = 16_384
NATIVE_SCOPE: Final = "agentlens.events"
_HEX: Final = re.compile(r"[0-9a-fA-F]{1,32}")
_ERROR_SEVERITIES: Final = frozenset({"error", "critical"})


def normalize_trace_id(raw: str) -> str | None:
    """32 lowercase hex digits (shorter ids are left-padded with zeros, as Tempo does), or None."""
    raw = raw.strip()
    if not _HEX.fullmatch(raw):
        return None
    return raw.lower().rjust(32, "0")


async def load_trace(store: Store, tenant: str, trace_id: str) -> list[Span] | None:
    """Every span of the trace, or None when the tenant has none with this id."""
    rows = await store.get_trace_spans(tenant, [trace_id])
    if not rows:
        return None
    spans = decode_stored(rows)
    sessions = list(dict.fromkeys(r.session_id for r in rows))
    start_us = min(r.start_ns for r in rows) // 1000
    end_us = -(-max(r.end_ns for r in rows) // 1000)
    events = await store.get_trace_events(tenant, sessions, start_us, end_us, MAX_NATIVE_SPANS)
    spans.extend(event_spans(events, spans, trace_id))
    return spans


def _root(spans: Sequence[Span]) -> Span | None:
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if not s.parent_span_id or s.parent_span_id not in ids]
    return min(roots or spans, key=lambda s: (bool(s.parent_span_id), s.start_time_unix_nano), default=None)


def _event_span_id(event_id: str) -> str:
    digest = hashlib.sha256(b"agentlens-event:" + event_id.encode()).digest()[:8]
    return (digest if any(digest) else b"\x00" * 7 + b"\x01").hex()


def _span_of(metadata_json: str) -> str | None:
    """The span an OTLP log record pointed at (metadata.spanId), if any."""
    if '"spanId"' not in metadata_json:
        return None
    try:
        doc = orjson.loads(metadata_json)
    except orjson.JSONDecodeError:
        return None
    span = doc.get("spanId") if isinstance(doc, dict) else None
    return span if isinstance(span, str) else None


def event_spans(events: Sequence[StoredEvent], spans: Sequence[Span], trace_id: str) -> list[Span]:
    """Events without a span of their own, as zero-duration INTERNAL spans.

    Each is a child of the span its metadata names (OTLP log records), else of the trace's root.
    Its resource's ``service.name`` is the agent; attributes carry the event's identity and payload.
    """
    root = _root(spans)
    ids = {s.span_id for s in spans}
    scope = Scope(NATIVE_SCOPE, "")
    resources: dict[str, Resource] = {}
    out: list[Span] = []
    for ev in events:
        resource = resources.get(ev.agent_id)
        if resource is None:
            resource = resources[ev.agent_id] = Resource({"service.name": ev.agent_id})
        parent = _span_of(ev.metadata_json)
        if parent not in ids:
            parent = root.span_id if root is not None else ""
        payload = ev.payload_json
        if len(payload) > PAYLOAD_ATTRIBUTE_MAX:
            payload = payload[:PAYLOAD_ATTRIBUTE_MAX] + "…[truncated]"
        attrs: dict[str, object] = {
            "agentlens.event.id": ev.id, "agentlens.event.type": ev.event_type, "agentlens.severity": ev.severity,
            "agentlens.session.id": ev.session_id, "agentlens.agent.id": ev.agent_id,
            "agentlens.payload": payload,
        }
        error = ev.severity in _ERROR_SEVERITIES or ev.event_type == "tool_error"
        ns = ev.ts_us * 1000
        out.append(Span(
            resource=resource, scope=scope, trace_id=trace_id, span_id=_event_span_id(ev.id), parent_span_id=parent,
            name=ev.event_type, kind=1, start_time_unix_nano=ns, end_time_unix_nano=ns, attributes=attrs,
            status_code=2 if error else 0,
        ))
    return out
