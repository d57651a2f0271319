"""Claude Code log events -> AgentLens events, as upstream AgentLens maps them (upstream §5.4).

``api_request`` -> ``llm_call`` + ``llm_response`` (reported ``cost_usd``; prompt text when
``OTEL_LOG_USER_PROMPTS=1`` put it on a ``user_prompt`` record of the same request),
``tool_decision`` -> ``tool_call`` (+ ``tool_error`` when not accepted), ``tool_result`` ->
``tool_response`` / ``tool_error``, ``skill_activated`` -> ``custom`` (the published SDK cannot
read the server-only ``skill_activated`` type), ``api_error`` -> ``custom otlp_log`` with
severity error; plugin and hook bookkeeping records are dropped. Numbers may arrive as strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from collector.mapping import otlp_conventions as conv
from collector.mapping.otlp_common import number, text
from collector.mapping.otlp_llm import cost_of, usage_payload
from collector.mapping.otlp_memo import OtlpMemo
from collector.mapping.otlp_model import LogRecord
from collector.mapping.otlp_prices import PriceTable
from store.model import NewEvent

if TYPE_CHECKING:
    from collector.mapping.otlp_logs import LogContext

__all__ = ("CLAUDE_DROPPED", "PROMPT_NOT_CAPTURED", "claude_code_name", "claude_events", "collect_claude_text")

_PREFIX: Final = "claude_code."
CLAUDE_DROPPED: Final = frozenset({
    "plugin_loaded", "hook_registered", "hook_execution_start", "hook_execution_complete",
    "mcp_server_connection",
})
_KNOWN: Final = frozenset({
    "api_request", "api_error", "tool_decision", "tool_result", "user_prompt", "skill_activated",
    "assistant_response",
}) | CLAUDE_DROPPED
_ACCEPTED: Final = frozenset({"accept", "allow", "approved", "approve", "accepted", "allowed"})
_REDACTED: Final = "<REDACTED>"
PROMPT_NOT_CAPTURED: Final = "(Claude Code prompt not captured — set OTEL_LOG_USER_PROMPTS=1 to record it)"


def claude_code_name(record: LogRecord, name: str) -> str | None:
    """The Claude Code event name without its prefix, or ``None`` for other records."""
    if name.startswith(_PREFIX):
        return name[len(_PREFIX):]
    body = record.body
    if isinstance(body, str) and body.startswith(_PREFIX):
        return body[len(_PREFIX):]
    if name in _KNOWN and (record.scope.name.startswith("com.anthropic.claude_code")
                           or record.resource.service_name == "claude-code"):
        return name
    return None


def collect_claude_text(records: list[LogRecord]) -> dict[str, dict[str, str]]:
    """Prompt texts by ``prompt.id`` and response texts by ``request_id`` found in this request."""
    prompts: dict[str, str] = {}
    responses: dict[str, str] = {}
    for record in records:
        name = record.event_name or record.attributes.get("event.name") or ""
        cc = claude_code_name(record, name if isinstance(name, str) else "")
        attrs = record.attributes
        if cc == "user_prompt":
            prompt_id, prompt = text(attrs.get("prompt.id")), text(attrs.get("prompt"))
            if prompt_id and prompt and prompt != _REDACTED:
                prompts[prompt_id] = prompt
        elif cc == "assistant_response":
            request_id, response = text(attrs.get("request_id")), text(attrs.get("response"))
            if request_id and response and response != _REDACTED:
                responses[request_id] = response
    return {"prompts": prompts, "responses": responses}


def claude_events(ctx: LogContext, name: str, texts: dict[str, dict[str, str]],
                  prices: PriceTable, memo: OtlpMemo) -> list[NewEvent] | None:
    """The events of one Claude Code record; ``None`` means "map it as a generic log record"."""
    attrs = ctx.record.attributes
    if name == "api_request":
        if number(attrs.get("cost_usd")) is not None:
            memo.mark_logged_cost(ctx.tenant, ctx.session_id)
        return _api_request(ctx, attrs, texts, prices)
    if name in ("tool_decision", "tool_result"):
        tool = text(attrs.get("tool_name")) or "tool"
        call_id = text(attrs.get("tool_use_id")) or f"cc-{tool}-{ctx.time_ns}"
        if name == "tool_decision":
            return _tool_decision(ctx, attrs, tool, call_id)
        return [_tool_result(ctx, attrs, tool, call_id)]
    if name == "skill_activated":
        data: dict[str, Any] = {"skillName": text(attrs.get("skill_name")) or text(attrs.get("name")) or "unknown"}
        for key, field in (("source", "source"), ("plugin_name", "pluginName")):
            value = text(attrs.get(key))
            if value is not None:
                data[field] = value
        return [ctx.event("custom", {"type": "skill_activated", "data": data})]
    if name == "api_error":
        from collector.mapping.otlp_logs import generic_log_event

        return [generic_log_event(ctx, "error")]
    return None


def _api_request(ctx: LogContext, attrs: dict[str, Any], texts: dict[str, dict[str, str]],
                 prices: PriceTable) -> list[NewEvent]:
    model = text(attrs.get("model")) or "unknown"
    request_id = text(attrs.get("request_id"))
    call_id = request_id or f"cc-{ctx.time_ns}"
    duration = number(attrs.get("duration_ms"))
    start_ns = ctx.time_ns - int(duration * 1_000_000) if duration and duration > 0 else ctx.time_ns
    prompt_id = text(attrs.get("prompt.id"))
    prompt = texts["prompts"].get(prompt_id) if prompt_id else None
    usage = conv.usage({
        "gen_ai.usage.input_tokens": attrs.get("input_tokens"),
        "gen_ai.usage.output_tokens": attrs.get("output_tokens"),
        "gen_ai.usage.cache_read.input_tokens": attrs.get("cache_read_tokens"),
        "gen_ai.usage.cache_creation.input_tokens": attrs.get("cache_creation_tokens"),
    })
    cost, source = cost_of(attrs, usage, (model,), prices, ("cost_usd",))
    call = {"callId": call_id, "provider": "anthropic", "model": model,
            "messages": [{"role": "user", "content": prompt or PROMPT_NOT_CAPTURED}]}
    response = {
        "callId": call_id, "provider": "anthropic", "model": model,
        "completion": texts["responses"].get(request_id) if request_id else None,
        "finishReason": "unknown", "usage": usage_payload(usage), "costUsd": cost,
        "latencyMs": duration if duration is not None and duration >= 0 else 0,
    }
    metadata = {**ctx.metadata, "callId": call_id, "costSource": source}
    if prompt_id:
        metadata["promptId"] = prompt_id
    return [
        ctx.event("llm_call", call, time_ns=start_ns, metadata=metadata),
        ctx.event("llm_response", response, metadata=metadata),
    ]


def _tool_decision(ctx: LogContext, attrs: dict[str, Any], tool: str, call_id: str) -> list[NewEvent]:
    decision = text(attrs.get("decision")) or "unknown"
    arguments: dict[str, Any] = {"decision": decision}
    source = text(attrs.get("source"))
    if source is not None:
        arguments["source"] = source
    events = [ctx.event("tool_call", {"callId": call_id, "toolName": tool, "arguments": arguments})]
    if decision.lower() not in _ACCEPTED:
        events.append(ctx.event("tool_error", {"callId": call_id, "toolName": tool,
                                               "error": f"denied: {decision}", "durationMs": 0},
                                severity="error"))
    return events


def _tool_result(ctx: LogContext, attrs: dict[str, Any], tool: str, call_id: str) -> NewEvent:
    success = attrs.get("success")
    failed = success is False or (isinstance(success, str) and success.lower() in ("false", "0")) or success == 0
    duration = number(attrs.get("duration_ms"))
    duration_ms = duration if duration is not None and duration >= 0 else 0
    if failed:
        return ctx.event("tool_error", {"callId": call_id, "toolName": tool,
                                        "error": (text(attrs.get("error")) or "tool failed")[:2000],
                                        "durationMs": duration_ms}, severity="error")
    result: dict[str, Any] = {"success": True}
    for key, field in (("tool_input_size_bytes", "inputSizeBytes"), ("tool_result_size_bytes", "resultSizeBytes")):
        value = number(attrs.get(key))
        if value is not None:
            result[field] = value
    return ctx.event("tool_response", {"callId": call_id, "toolName": tool, "isError": False,
                                       "durationMs": duration_ms, "result": result})
