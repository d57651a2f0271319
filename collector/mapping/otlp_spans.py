"""Map decoded spans to AgentLens events (otlp.md §3): LLM, tool, session, step and generic events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from collector.mapping import otlp_conventions as conv
from collector.mapping.otlp_common import has_long_string, json_value, number, text
from collector.mapping.otlp_decode_common import summarize
from collector.mapping.otlp_llm import llm_events
from collector.mapping.otlp_memo import OtlpMemo, SeriesUpdate, SpanNote
from collector.mapping.otlp_messages import as_record, maybe_json
from collector.mapping.otlp_model import (
    KIND_NAMES,
    STATUS_ERROR,
    STATUS_NAMES,
    DecodedTraces,
    Span,
)
from collector.mapping.otlp_prices import PriceTable
from collector.mapping.otlp_spanctx import SpanContext, error_details, event, resource_agent
from store.model import NewEvent

__all__ = ("MappingResult", "map_traces")

_MAX_WALK: Final = 256
_MAX_DOCUMENTS: Final = 20
_ATTRIBUTE_CAP: Final = 2048  # characters per attribute string in otlp_span payloads


@dataclass(slots=True)
class MappingResult:
    """What one OTLP request becomes: events to commit, the decoded spans, and partial-success data."""

    events: list[NewEvent] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    # (traceId, spanId) -> (session, agent) of the events each span became (collector.tempo.codec)
    owners: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    rejected: int = 0
    error_message: str = ""
    # applied to the memo only after the events are committed (cumulative metric series)
    series_updates: list[SeriesUpdate] = field(default_factory=list)
    ignored: int = 0   # accepted but not mapped (exponential histograms, summaries, dropped logs)


def map_traces(decoded: DecodedTraces, *, tenant: str, memo: OtlpMemo, prices: PriceTable,
               now_ns: int) -> MappingResult:
    """Events for every span of the request, sorted by time; the spans are returned alongside."""
    spans = decoded.spans
    by_key = {(s.trace_id, s.span_id): s for s in spans}
    classes = {(s.trace_id, s.span_id): conv.classify(s) for s in spans}
    resolved = _resolve_identities(spans, by_key, tenant, memo)
    wrappers = _llm_wrappers(spans, by_key, classes, tenant, memo)

    events: list[NewEvent] = []
    owners: dict[tuple[str, str], tuple[str, str]] = {}
    per_resource: dict[int, tuple[str | None, str, str | None]] = {}
    notes: dict[str, list[tuple[str, SpanNote]]] = {}
    for span in spans:
        key = (span.trace_id, span.span_id)
        cls = classes[key]
        session, agent = resolved[key]
        ctx = _context(span, tenant, cls, session=session, agent=agent, wrapper=key in wrappers, now_ns=now_ns,
                       per_resource=per_resource)
        produced = len(events)
        events.extend(_span_events(ctx, prices, memo))
        if len(events) > produced:
            owners.setdefault(key, (ctx.session_id, ctx.agent_id))
        if session or agent or cls.category == conv.LLM:
            notes.setdefault(span.trace_id, []).append(
                (span.span_id, SpanNote(span.parent_span_id, session, agent, cls.category == conv.LLM)))
    for trace_id, items in notes.items():
        memo.note_many(tenant, trace_id, items)
    events.sort(key=lambda e: e.ts_us)
    return MappingResult(
        events=events,
        spans=spans,
        owners=owners,
        rejected=decoded.rejected,
        error_message=summarize(decoded.rejected, "spans", decoded.errors, decoded.warnings),
    )


# ------------------------------------------------------------------ identities


def _resolve_identities(spans: list[Span], by_key: dict[tuple[str, str], Span], tenant: str,
                        memo: OtlpMemo) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """(session, agent) per span from the span itself or its nearest ancestor that has one.

    Ancestors are looked up in this request first, then in the memo of earlier requests.
    Fallbacks (resource, ``trace-<id>``, service.name) are applied later, per span.
    """
    resolved: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for span in spans:
        key = (span.trace_id, span.span_id)
        if key in resolved:
            continue
        chain: list[Span] = []
        inherited: tuple[str | None, str | None] = (None, None)
        current: Span | None = span
        visited: set[str] = set()
        while current is not None and len(chain) < _MAX_WALK:
            ckey = (current.trace_id, current.span_id)
            known = resolved.get(ckey)
            if known is not None:
                inherited = known
                break
            if current.span_id in visited:  # a parent cycle in bad data
                break
            visited.add(current.span_id)
            chain.append(current)
            parent_id = current.parent_span_id
            if not parent_id:
                break
            parent = by_key.get((current.trace_id, parent_id))
            if parent is None:
                inherited = memo.lookup(tenant, current.trace_id, parent_id)
                break
            current = parent
        for item in reversed(chain):
            attrs = item.attributes
            inherited = (conv.session_key(attrs) or inherited[0], conv.agent_name(attrs) or inherited[1])
            resolved[(item.trace_id, item.span_id)] = inherited
    return resolved


def _llm_wrappers(spans: list[Span], by_key: dict[tuple[str, str], Span],
                  classes: dict[tuple[str, str], conv.Classification], tenant: str,
                  memo: OtlpMemo) -> set[tuple[str, str]]:
    """LLM spans that have another LLM span below them: their tokens and cost are not counted.

    An LLM span marks every ancestor up to (and including) its nearest LLM ancestor; ancestors
    not in this request are remembered, so a wrapper exported later is still recognized.
    """
    marked: set[tuple[str, str]] = set()
    missing: dict[str, set[str]] = {}
    known_below: dict[str, frozenset[str]] = {}

    def propagate(start: Span) -> None:
        parent_id = start.parent_span_id
        for _ in range(_MAX_WALK):
            if not parent_id:
                return
            pkey = (start.trace_id, parent_id)
            parent = by_key.get(pkey)
            if parent is None:
                missing.setdefault(start.trace_id, set()).add(parent_id)
                return
            if pkey in marked:
                return
            marked.add(pkey)
            if classes[pkey].category == conv.LLM:
                return
            parent_id = parent.parent_span_id

    for span in spans:
        key = (span.trace_id, span.span_id)
        below = known_below.get(span.trace_id)
        if below is None:
            below = known_below[span.trace_id] = memo.llm_below(tenant, span.trace_id)
        is_llm = classes[key].category == conv.LLM
        if span.span_id in below:
            marked.add(key)
            if not is_llm:
                propagate(span)
        if is_llm:
            propagate(span)
    for trace_id, ids in missing.items():
        memo.add_llm_below(tenant, trace_id, ids)
    return {k for k in marked if classes[k].category == conv.LLM}


# ------------------------------------------------------------------ per span


def _context(span: Span, tenant: str, cls: conv.Classification, *, session: str | None,
             agent: str | None, wrapper: bool, now_ns: int,
             per_resource: dict[int, tuple[str | None, str, str | None]]) -> SpanContext:
    start = span.start_time_unix_nano or span.end_time_unix_nano or now_ns
    end = max(span.end_time_unix_nano or start, start)
    duration: float | int | None = None
    if span.start_time_unix_nano and span.end_time_unix_nano >= span.start_time_unix_nano:
        duration = number(round((span.end_time_unix_nano - span.start_time_unix_nano) / 1e6, 3))
    resource = span.resource
    # (session, agent, user) a resource names: the same for every span of a ResourceSpans
    fallback = per_resource.get(id(resource))
    if fallback is None:
        rattrs = resource.attributes
        fallback = per_resource[id(resource)] = (conv.session_key(rattrs), resource_agent(resource),
                                                 conv.user_id(rattrs))
    session_id = session or fallback[0] or f"trace-{span.trace_id}"
    agent_id = agent or fallback[1]
    kind = span.kind
    metadata: dict[str, Any] = {
        "source": "otlp" if cls.category == conv.OTHER else "otlp_genai",
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "parentSpanId": span.parent_span_id or None,
        "spanName": span.name[:1024],
        "spanKind": KIND_NAMES[kind] if 0 <= kind < len(KIND_NAMES) else str(kind),
        "spanStartUnixNano": str(span.start_time_unix_nano),
        "spanEndUnixNano": str(span.end_time_unix_nano),
        "spanDurationMs": duration,
        "statusCode": STATUS_NAMES[span.status_code] if 0 <= span.status_code < 3 else str(span.status_code),
        "serviceName": resource.service_name,
    }
    user = conv.user_id(span.attributes) or fallback[2]
    if user is not None:
        metadata["userId"] = user
    return SpanContext(span, tenant, cls.category, cls.step_type, session_id, agent_id, start, end, duration,
                       span.status_code == STATUS_ERROR, wrapper, metadata)


def _span_events(ctx: SpanContext, prices: PriceTable, memo: OtlpMemo) -> Iterable[NewEvent]:
    category = ctx.category
    if category == conv.LLM:
        return llm_events(ctx, prices, memo)
    if category == conv.TOOL:
        return _tool_events(ctx)
    if category in (conv.AGENT, conv.WORKFLOW) and (not ctx.span.parent_span_id or ctx.span.parent_is_remote):
        return _session_events(ctx)
    if category in (conv.AGENT, conv.WORKFLOW, conv.CHAIN):
        return [_custom(ctx, "chain_step", {"name": _step_name(ctx), "stepType": ctx.step_type or category,
                                            "durationMs": ctx.duration_ms})]
    if category == conv.EMBEDDINGS:
        return [_custom(ctx, "embeddings", _embeddings_data(ctx))]
    if category == conv.RETRIEVAL:
        return [_custom(ctx, "retrieval", _retrieval_data(ctx))]
    span = ctx.span
    status: dict[str, Any] = {"code": ctx.metadata["statusCode"]}
    if span.status_message:
        status["message"] = span.status_message[:2000]
    data = {
        "name": span.name[:1024],
        "kind": ctx.metadata["spanKind"],
        "attributes": json_value(span.attributes, cap=_ATTRIBUTE_CAP),
        "durationMs": ctx.duration_ms,
        "status": status,
    }
    if has_long_string(span.attributes, _ATTRIBUTE_CAP):
        data["truncated"] = True
    return [_custom(ctx, "otlp_span", data)]


def _custom(ctx: SpanContext, kind: str, data: dict[str, Any]) -> NewEvent:
    payload: dict[str, Any] = {"type": kind, "data": data}
    if data.pop("truncated", False):
        payload["truncated"] = True
    return event(ctx, "custom", ctx.start_ns, payload,
                 severity="error" if ctx.errored else "info")


def _tool_events(ctx: SpanContext) -> list[NewEvent]:
    span = ctx.span
    attrs = span.attributes
    name = conv.tool_name(span)
    call_id = conv.first_text(attrs, conv.TOOL_CALL_ID_KEYS) or span.span_id
    call = event(ctx, "tool_call", ctx.start_ns, {
        "toolName": name, "callId": call_id[:256], "arguments": as_record(conv.first(attrs, conv.TOOL_ARGS_KEYS)),
    })
    duration = ctx.duration_ms if ctx.duration_ms is not None else 0
    if ctx.errored:
        message, error_type = error_details(span)
        payload: dict[str, Any] = {"callId": call_id[:256], "toolName": name, "error": message,
                                   "durationMs": duration}
        if error_type:
            payload["errorCode"] = error_type[:256]
        return [call, event(ctx, "tool_error", ctx.end_ns, payload, severity="error")]
    payload = {"callId": call_id[:256], "toolName": name, "durationMs": duration, "isError": False}
    raw = conv.first(attrs, conv.TOOL_RESULT_KEYS)
    if raw is not None:
        payload["result"] = json_value(maybe_json(raw))
    return [call, event(ctx, "tool_response", ctx.end_ns, payload)]


def _session_events(ctx: SpanContext) -> list[NewEvent]:
    span = ctx.span
    attrs = span.attributes
    name = (conv.agent_name(attrs) or text(attrs.get("traceloop.entity.name"))
            or conv.first_text(attrs, conv.WORKFLOW_NAME_KEYS) or span.name or "agent")
    started: dict[str, Any] = {"agentName": name[:256]}
    tags = attrs.get("tag.tags")
    if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
        started["tags"] = tags[:32]
    ended: dict[str, Any] = {"reason": "error" if ctx.errored else "completed"}
    if ctx.duration_ms is not None:
        ended["totalDurationMs"] = ctx.duration_ms
    if ctx.errored:
        ended["summary"] = error_details(span)[0]
    return [event(ctx, "session_started", ctx.start_ns, started),
            event(ctx, "session_ended", ctx.end_ns, ended, severity="error" if ctx.errored else "info")]


def _step_name(ctx: SpanContext) -> str:
    attrs = ctx.span.attributes
    name = (conv.agent_name(attrs) or text(attrs.get("traceloop.entity.name"))
            or conv.first_text(attrs, conv.WORKFLOW_NAME_KEYS) or ctx.span.name or ctx.category)
    return name[:256]


def _embeddings_data(ctx: SpanContext) -> dict[str, Any]:
    attrs = ctx.span.attributes
    usage = conv.usage(attrs)
    data: dict[str, Any] = {
        "name": ctx.span.name[:256],
        "provider": conv.provider(attrs),
        "model": conv.response_model(attrs) or conv.request_model(attrs) or "unknown",
        "inputTokens": usage.input_tokens or 0,
        "durationMs": ctx.duration_ms,
    }
    dims = conv.first_int(attrs, ("gen_ai.embeddings.dimension.count",))
    if dims is not None:
        data["dimensions"] = dims
    return data


def _retrieval_data(ctx: SpanContext) -> dict[str, Any]:
    attrs = ctx.span.attributes
    data: dict[str, Any] = {"name": ctx.span.name[:256], "durationMs": ctx.duration_ms}
    query = conv.first_text(attrs, ("gen_ai.retrieval.query.text", "input.value"))
    if query is not None:
        data["query"] = query[:2048]
    source = text(attrs.get("gen_ai.data_source.id"))
    if source is not None:
        data["dataSourceId"] = source[:256]
    top_k = conv.first_int(attrs, ("gen_ai.request.top_k",))
    if top_k is not None:
        data["topK"] = top_k
    documents = _documents(attrs)
    if documents is not None:
        data["resultCount"] = len(documents)
        data["documents"] = documents[:_MAX_DOCUMENTS]
    return data


def _documents(attrs: dict[str, Any]) -> list[dict[str, Any]] | None:
    raw = maybe_json(attrs.get("gen_ai.retrieval.documents"))
    docs: list[dict[str, Any]] = []
    if isinstance(raw, list):
        for d in raw:
            if isinstance(d, dict):
                docs.append({k: json_value(d[k], cap=256) for k in ("id", "score") if k in d})
        return docs
    for i in range(1000):
        base = f"retrieval.documents.{i}.document."
        if base + "id" not in attrs and base + "score" not in attrs and base + "content" not in attrs:
            break
        doc: dict[str, Any] = {}
        for key in ("id", "score"):
            if base + key in attrs:
                doc[key] = json_value(attrs[base + key], cap=256)
        docs.append(doc)
    return docs or None
