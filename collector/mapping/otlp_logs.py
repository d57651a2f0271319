"""Map decoded log records: GenAI content joins its LLM span, Claude Code events, other records.

- GenAI content records (``gen_ai.*.message``, ``gen_ai.choice``,
  ``gen_ai.client.inference.operation.details``) attach to the LLM events of their span: when
  the span has not been mapped yet (the usual order: log batches are exported before the span
  ends) the content waits in the memo; when it was already mapped the record becomes a
  ``custom otlp_log``. An inference-details record without a span produces the LLM pair itself.
- Claude Code events map as upstream AgentLens does (agentlens-upstream.md §5.4).
- Any other record -> ``custom {type: "otlp_log"}`` with its severity.
"""

from __future__ import annotations

from typing import Any, Final

from collector.mapping import otlp_conventions as conv
from collector.mapping.otlp_claude import CLAUDE_DROPPED, claude_code_name, claude_events, collect_claude_text
from collector.mapping.otlp_common import clean_id, json_value, make_event, severity_from_log, stable_digest
from collector.mapping.otlp_decode_common import summarize
from collector.mapping.otlp_llm import PLACEHOLDER_PROMPT, cost_of, usage_payload
from collector.mapping.otlp_memo import OtlpMemo
from collector.mapping.otlp_messages import (
    completion_from_attributes,
    completion_from_choice,
    limit_messages,
    message_from_log,
    prompt_from_attributes,
)
from collector.mapping.otlp_model import DecodedLogs, LogRecord
from collector.mapping.otlp_prices import PriceTable
from collector.mapping.otlp_spanctx import resource_agent
from collector.mapping.otlp_spans import MappingResult
from store.model import NewEvent

__all__ = ("LogContext", "map_logs")

_DETAILS: Final = "gen_ai.client.inference.operation.details"
_CHOICE: Final = "gen_ai.choice"
_MESSAGE_EVENTS: Final = frozenset({
    "gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message",
})
_GENAI_CONTENT: Final = _MESSAGE_EVENTS | {_DETAILS, _CHOICE}
DEFAULT_SESSION: Final = "otlp-default"


class LogContext:
    """One record's identity, time, session, agent and base metadata."""

    __slots__ = ("agent_id", "digest", "metadata", "name", "record", "session_id", "tenant", "time_ns")

    def __init__(self, record: LogRecord, tenant: str, memo: OtlpMemo, now_ns: int, source: str) -> None:
        self.record = record
        self.tenant = tenant
        self.time_ns = record.time_unix_nano or record.observed_time_unix_nano or now_ns
        name = record.event_name or record.attributes.get("event.name")
        self.name = name if isinstance(name, str) else ""
        self.digest = stable_digest([
            record.resource.attributes, record.scope.name, record.time_unix_nano,
            record.observed_time_unix_nano, record.event_name, record.severity_number, record.severity_text,
            record.body, record.attributes, record.trace_id, record.span_id,
        ])
        attrs = record.attributes
        session = conv.session_key(attrs)
        agent = conv.agent_name(attrs)
        if record.trace_id and record.span_id and (session is None or agent is None):
            memo_session, memo_agent = memo.lookup(tenant, record.trace_id, record.span_id)
            session = session or memo_session
            agent = agent or memo_agent
        self.session_id = (session or conv.session_key(record.resource.attributes)
                           or (f"trace-{record.trace_id}" if record.trace_id else DEFAULT_SESSION))
        self.agent_id = agent or resource_agent(record.resource)
        metadata: dict[str, Any] = {"source": source, "serviceName": record.resource.service_name}
        if record.trace_id:
            metadata["traceId"] = record.trace_id
        if record.span_id:
            metadata["spanId"] = record.span_id
        if self.name:
            metadata["eventName"] = self.name[:256]
        user = clean_id(attrs.get("user.email")) or conv.user_id(attrs) or conv.user_id(record.resource.attributes)
        if user is not None:
            metadata["userId"] = user
        self.metadata = metadata

    def event(self, event_type: str, payload: dict[str, Any], *, severity: str = "info",
              time_ns: int | None = None, metadata: dict[str, Any] | None = None) -> NewEvent:
        return make_event(
            tenant=self.tenant, time_ns=self.time_ns if time_ns is None else time_ns,
            id_parts=(self.record.trace_id, "log", self.digest), session_id=self.session_id,
            agent_id=self.agent_id, event_type=event_type, severity=severity, payload=payload,
            metadata=self.metadata if metadata is None else metadata,
        )


def map_logs(decoded: DecodedLogs, *, tenant: str, memo: OtlpMemo, prices: PriceTable,
             now_ns: int) -> MappingResult:
    """Events for the request's log records (content-only records may produce none)."""
    result = MappingResult(rejected=decoded.rejected,
                           error_message=summarize(decoded.rejected, "log records", decoded.errors,
                                                   decoded.warnings))
    claude_text = collect_claude_text(decoded.records)
    for seq, record in enumerate(decoded.records):
        name = record.event_name or record.attributes.get("event.name") or ""
        cc_name = claude_code_name(record, name if isinstance(name, str) else "")
        if cc_name is not None:
            if cc_name in CLAUDE_DROPPED:
                result.ignored += 1
                continue
            ctx = LogContext(record, tenant, memo, now_ns, "otlp_log_claude_code")
            events = claude_events(ctx, cc_name, claude_text, prices, memo)
            if events is not None:
                result.events.extend(events)
                continue
        elif name in _GENAI_CONTENT:
            ctx = LogContext(record, tenant, memo, now_ns, "otlp_genai")
            result.events.extend(_genai_content(ctx, seq, memo, prices))
            continue
        else:
            ctx = LogContext(record, tenant, memo, now_ns, "otlp_log")
        result.events.append(generic_log_event(ctx))
    result.events.sort(key=lambda e: e.ts_us)
    return result


def generic_log_event(ctx: LogContext, severity: str | None = None) -> NewEvent:
    record = ctx.record
    data: dict[str, Any] = {
        "body": json_value(record.body),
        "severityText": record.severity_text or "INFO",
        "severityNumber": record.severity_number,
        "attributes": json_value(record.attributes, cap=2048),
    }
    if ctx.name:
        data["eventName"] = ctx.name[:256]
    return ctx.event("custom", {"type": "otlp_log", "data": data},
                     severity=severity or severity_from_log(record.severity_number, record.severity_text))


def _genai_content(ctx: LogContext, seq: int, memo: OtlpMemo, prices: PriceTable) -> list[NewEvent]:
    record = ctx.record
    name = ctx.name
    if record.trace_id and record.span_id:
        if memo.was_mapped_llm(ctx.tenant, record.trace_id, record.span_id):
            return [generic_log_event(ctx)]  # the span came first: keep the content as its own event
        item: Any
        if name == _DETAILS:
            kind, item = "details", dict(record.attributes)
        elif name == _CHOICE:
            kind, item = "output", completion_from_choice(record.body)
        else:
            kind, item = "input", message_from_log(name, record.body)
        memo.add_pending(ctx.tenant, record.trace_id, record.span_id, digest=ctx.digest, kind=kind,
                         time_ns=ctx.time_ns, seq=seq, item=item)
        return []
    if name == _DETAILS:
        return _pair_from_details(ctx, prices)
    return [generic_log_event(ctx)]


def _pair_from_details(ctx: LogContext, prices: PriceTable) -> list[NewEvent]:
    """``llm_call`` + ``llm_response`` from an inference-details record that has no span."""
    attrs = ctx.record.attributes
    provider = conv.provider(attrs)
    req_model = conv.request_model(attrs)
    resp_model = conv.response_model(attrs)
    call_id = conv.first_text(attrs, ("gen_ai.response.id",)) or f"log-{ctx.digest[:16]}"
    messages = prompt_from_attributes(attrs) or [{"role": "user", "content": PLACEHOLDER_PROMPT}]
    messages, _ = limit_messages(messages)
    completion = completion_from_attributes(attrs)
    usage = conv.usage(attrs)
    cost, source = cost_of(attrs, usage, (resp_model, req_model), prices)
    reasons = attrs.get("gen_ai.response.finish_reasons")
    finish = (reasons[0] if isinstance(reasons, list) and reasons and isinstance(reasons[0], str)
              else (completion.finish_reason if completion and completion.finish_reason else "unknown"))
    response: dict[str, Any] = {
        "callId": call_id, "provider": provider, "model": resp_model or req_model or "unknown",
        "completion": completion.text if completion else None, "finishReason": finish,
        "usage": usage_payload(usage), "costUsd": cost, "latencyMs": 0,
    }
    if completion and completion.tool_calls:
        response["toolCalls"] = completion.tool_calls
    return [
        ctx.event("llm_call", {"callId": call_id, "provider": provider,
                               "model": req_model or resp_model or "unknown", "messages": messages}),
        ctx.event("llm_response", response, metadata={**ctx.metadata, "costSource": source}),
    ]
