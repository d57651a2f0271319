"""LLM spans -> ``llm_call`` (span start) + ``llm_response`` (span end), with usage and cost.

Content comes from the span's attributes, else from GenAI log records of the same span that
arrived earlier (held in the memo), else a placeholder message. A wrapper LLM span (one with
another LLM span below it) reports zero usage and cost: the innermost span carries them.
"""

from __future__ import annotations

from typing import Any, Final

from collector.mapping import otlp_conventions as conv
from collector.mapping.otlp_common import number
from collector.mapping.otlp_memo import OtlpMemo, PendingContent
from collector.mapping.otlp_messages import (
    Completion,
    completion_from_attributes,
    limit_messages,
    prompt_from_attributes,
    system_prompt,
    tool_definitions,
)
from collector.mapping.otlp_model import Attributes
from collector.mapping.otlp_prices import PriceTable
from collector.mapping.otlp_spanctx import SpanContext, error_details, event
from store.model import NewEvent

__all__ = ("PLACEHOLDER_PROMPT", "cost_of", "llm_events", "usage_payload")

PLACEHOLDER_PROMPT: Final = "(prompt content not captured by instrumentation)"


def llm_events(ctx: SpanContext, prices: PriceTable, memo: OtlpMemo) -> list[NewEvent]:
    span = ctx.span
    attrs = span.attributes
    pending = memo.pending(ctx.tenant, span.trace_id, span.span_id)
    details = _details_attributes(pending)
    provider = conv.provider(attrs)
    if provider == "unknown" and details is not None:
        provider = conv.provider(details)
    req_model = conv.request_model(attrs) or (conv.request_model(details) if details else None)
    resp_model = conv.response_model(attrs) or (conv.response_model(details) if details else None)

    messages = prompt_from_attributes(attrs)
    if messages is None and details is not None:
        messages = prompt_from_attributes(details)
    if messages is None and pending is not None and pending.inputs:
        messages = [m for _, _, m in sorted(pending.inputs, key=lambda x: (x[0], x[1]))]
    call: dict[str, Any] = {
        "callId": span.span_id,
        "provider": provider,
        "model": req_model or resp_model or "unknown",
        "messages": [{"role": "user", "content": PLACEHOLDER_PROMPT}],
    }
    if messages:
        call["messages"], omitted = limit_messages(messages)
        if omitted:
            call["messagesOmitted"] = omitted
    system = system_prompt(attrs) or (system_prompt(details) if details else None)
    if system is not None:
        call["systemPrompt"] = system
    params = conv.llm_parameters(attrs)
    if params:
        call["parameters"] = params
    tools = tool_definitions(attrs)
    if tools:
        call["tools"] = tools

    completion = completion_from_attributes(attrs)
    if completion is None and details is not None:
        completion = completion_from_attributes(details)
    if completion is None and pending is not None and pending.outputs:
        completion = _merge_choices(pending)
    completion = completion or Completion()

    usage = conv.usage(attrs)
    if usage.input_tokens is None and usage.output_tokens is None and details is not None:
        usage = conv.usage(details)
    response: dict[str, Any] = {
        "callId": span.span_id,
        "provider": provider,
        "model": resp_model or req_model or "unknown",
        "completion": completion.text,
        "finishReason": _finish_reason(attrs, completion, ctx.errored),
        "usage": usage_payload(usage),
        "costUsd": 0,
        "latencyMs": ctx.duration_ms if ctx.duration_ms is not None else 0,
    }
    if completion.tool_calls:
        response["toolCalls"] = completion.tool_calls
    ttft = number(attrs.get("gen_ai.response.time_to_first_chunk"))
    if ttft is not None:
        response["ttftMs"] = number(round(ttft * 1000, 3))
    response_meta = dict(ctx.metadata)
    if ctx.llm_wrapper:
        # Tokens and cost are counted on the LLM span(s) below this one (otlp.md §3).
        response["nestedUsage"] = response["usage"]
        response["usage"] = {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}
        response_meta["costSource"] = "nested"
    else:
        cost, source = cost_of(attrs, usage, (resp_model, req_model), prices)
        response["costUsd"] = cost
        response_meta["costSource"] = source
    severity = "info"
    if ctx.errored:
        severity = "error"
        message, error_type = error_details(span)
        response["error"] = {"message": message, **({"type": error_type} if error_type else {})}
    return [
        event(ctx, "llm_call", ctx.start_ns, call),
        event(ctx, "llm_response", ctx.end_ns, response, severity=severity, metadata=response_meta),
    ]


def usage_payload(usage: conv.Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "inputTokens": usage.input_tokens or 0,
        "outputTokens": usage.output_tokens or 0,
        "totalTokens": usage.total_tokens or 0,
    }
    if usage.cache_read_tokens is not None:
        out["cacheReadTokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens is not None:
        out["cacheWriteTokens"] = usage.cache_write_tokens
    if usage.reasoning_tokens is not None:
        out["thinkingTokens"] = usage.reasoning_tokens
    return out


def cost_of(attrs: Attributes, usage: conv.Usage, models: tuple[str | None, ...],
            prices: PriceTable, reported_keys: tuple[str, ...] = conv.REPORTED_COST_KEYS) -> tuple[float, str]:
    """(costUsd, costSource): a reported cost, else the price table, else 0 and ``unknown``."""
    reported = conv.reported_cost(attrs, reported_keys)
    if reported is not None:
        return _tidy(reported), "reported"
    estimated = prices.cost(
        models,
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        cache_read_tokens=usage.cache_read_tokens or 0,
        cache_write_tokens=usage.cache_write_tokens or 0,
    )
    if estimated is None:
        return 0, "unknown"
    return _tidy(estimated), "table"


def _tidy(value: float) -> float:
    as_number = number(value)
    return 0 if as_number is None else as_number


def _finish_reason(attrs: Attributes, completion: Completion, errored: bool) -> str:
    reasons = attrs.get("gen_ai.response.finish_reasons")
    if isinstance(reasons, list) and reasons and isinstance(reasons[0], str) and reasons[0]:
        return reasons[0]
    if isinstance(reasons, str) and reasons:
        return reasons.strip("[]\"' ").split(",")[0].strip("\"' ") or reasons
    single = attrs.get("gen_ai.response.finish_reason") or attrs.get("llm.finish_reason")
    if isinstance(single, str) and single:
        return single
    if completion.finish_reason:
        return completion.finish_reason
    return "error" if errored else "unknown"


def _details_attributes(pending: PendingContent | None) -> Attributes | None:
    """The newest ``gen_ai.client.inference.operation.details`` record's attributes, if any."""
    if pending is None or not pending.details:
        return None
    return max(pending.details, key=lambda x: (x[0], x[1]))[2]


def _merge_choices(pending: PendingContent) -> Completion:
    choices = [c for _, _, c in sorted(pending.outputs, key=lambda x: (x[0], x[1]))]
    texts = [c.text for c in choices if c.text]
    return Completion(
        text="\n".join(texts) if texts else None,
        tool_calls=[t for c in choices for t in c.tool_calls],
        finish_reason=next((c.finish_reason for c in choices if c.finish_reason), None),
    )
