"""What every span-derived event shares: the span's context, its metadata and the event factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from collector.mapping.otlp_common import clean_id, make_event, text
from collector.mapping.otlp_model import Resource, Span
from store.model import NewEvent

__all__ = ("FALLBACK_AGENT", "SpanContext", "error_details", "event", "resource_agent")

FALLBACK_AGENT: Final = "otel-agent"


@dataclass(slots=True)
class SpanContext:
    """Everything the per-category builders need about one span."""

    span: Span
    tenant: str
    category: str
    step_type: str
    session_id: str
    agent_id: str
    start_ns: int
    end_ns: int
    duration_ms: float | int | None
    errored: bool
    llm_wrapper: bool
    metadata: dict[str, Any]


def resource_agent(resource: Resource) -> str:
    """The agent id a resource names: gen_ai.agent.name / agentlens.agentId, service.name, otel-agent."""
    attrs = resource.attributes
    for key in ("gen_ai.agent.name", "agentlens.agentId"):
        value = clean_id(attrs.get(key))
        if value is not None:
            return value
    service = resource.service_name
    if service is not None and not service.startswith("unknown_service"):
        return clean_id(service) or FALLBACK_AGENT
    return FALLBACK_AGENT


def error_details(span: Span) -> tuple[str, str | None]:
    """(message, error type) of a failed span: status message, exception event, error.type."""
    error_type = text(span.attributes.get("error.type"))
    exc_message = exc_type = None
    for ev in span.events:
        if ev.name == "exception":
            exc_message = text(ev.attributes.get("exception.message"))
            exc_type = text(ev.attributes.get("exception.type"))
            break
    message = span.status_message or exc_message or error_type or exc_type or "error"
    return message[:2000], (error_type or exc_type)


def event(ctx: SpanContext, event_type: str, time_ns: int, payload: dict[str, Any], *,
          severity: str = "info", metadata: dict[str, Any] | None = None) -> NewEvent:
    """One span-derived event with its deterministic id (tenant, traceId, spanId, type)."""
    return make_event(
        tenant=ctx.tenant, time_ns=time_ns, id_parts=(ctx.span.trace_id, ctx.span.span_id),
        session_id=ctx.session_id, agent_id=ctx.agent_id, event_type=event_type, severity=severity,
        payload=payload, metadata=ctx.metadata if metadata is None else metadata,
    )


