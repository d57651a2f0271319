"""The one attribute lookup table for OTel GenAI (current and older names), OpenInference and OpenLLMetry.

Every canonical field lists the attribute names that carry it, in order; the first one present
wins and names for the same quantity are never added together (otlp-receiver.md §4.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from collector.mapping.otlp_common import clean_id, number, text, to_int
from collector.mapping.otlp_model import Attributes, Span

__all__ = (
    "AGENT",
    "CHAIN",
    "EMBEDDINGS",
    "LLM",
    "OTHER",
    "RETRIEVAL",
    "TOOL",
    "WORKFLOW",
    "Classification",
    "Usage",
    "agent_name",
    "classify",
    "first",
    "first_int",
    "first_text",
    "llm_parameters",
    "provider",
    "reported_cost",
    "request_model",
    "response_model",
    "session_key",
    "tool_name",
    "usage",
    "user_id",
)

# ------------------------------------------------------------------ span categories
LLM: Final = "llm"
TOOL: Final = "tool"
EMBEDDINGS: Final = "embeddings"
RETRIEVAL: Final = "retrieval"
AGENT: Final = "agent"
WORKFLOW: Final = "workflow"
CHAIN: Final = "chain"
OTHER: Final = "other"

# gen_ai.operation.name (incl. OpenLLMetry's custom operations) -> (category, step type)
_GENAI_OPERATIONS: Final = {
    "chat": (LLM, ""), "text_completion": (LLM, ""), "generate_content": (LLM, ""),
    "completion": (LLM, ""), "llm_request": (LLM, ""),
    "embeddings": (EMBEDDINGS, ""), "embedding": (EMBEDDINGS, ""),
    "retrieval": (RETRIEVAL, ""), "vector_db_retrieve": (RETRIEVAL, ""),
    "execute_tool": (TOOL, ""),
    "invoke_agent": (AGENT, "agent"),
    "invoke_workflow": (WORKFLOW, "workflow"),
    "create_agent": (CHAIN, "create_agent"),
    "execute_task": (CHAIN, "task"),
    "plan": (CHAIN, "plan"),
}
_OPENINFERENCE_KINDS: Final = {
    "LLM": (LLM, ""), "EMBEDDING": (EMBEDDINGS, ""), "RETRIEVER": (RETRIEVAL, ""),
    "RERANKER": (RETRIEVAL, "reranker"), "TOOL": (TOOL, ""), "AGENT": (AGENT, "agent"),
    "CHAIN": (CHAIN, "chain"), "GUARDRAIL": (CHAIN, "guardrail"), "EVALUATOR": (CHAIN, "evaluator"),
    "PROMPT": (CHAIN, "prompt"),
}
_TRACELOOP_KINDS: Final = {
    "workflow": (WORKFLOW, "workflow"), "task": (CHAIN, "task"), "agent": (AGENT, "agent"),
    "tool": (TOOL, ""),
}
_LLM_REQUEST_TYPES: Final = {
    "chat": (LLM, ""), "completion": (LLM, ""), "embedding": (EMBEDDINGS, ""), "rerank": (RETRIEVAL, "rerank"),
}
_LLM_HINT_KEYS: Final = ("gen_ai.request.model", "llm.model_name", "gen_ai.system", "gen_ai.provider.name")

# ------------------------------------------------------------------ the lookup table
SESSION_KEYS: Final = (
    "gen_ai.conversation.id", "session.id", "langfuse.session.id",
    "traceloop.association.properties.session_id",
)
AGENT_KEYS: Final = ("gen_ai.agent.name", "gen_ai.agent.id", "agent.name")
PROVIDER_KEYS: Final = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
REQUEST_MODEL_KEYS: Final = (
    "gen_ai.request.model", "llm.request.model_name", "llm.model_name", "embedding.model_name",
)
RESPONSE_MODEL_KEYS: Final = ("gen_ai.response.model", "llm.response.model_name", "llm.model_name")
INPUT_TOKEN_KEYS: Final = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_TOKEN_KEYS: Final = (
    "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion",
)
TOTAL_TOKEN_KEYS: Final = ("llm.token_count.total", "gen_ai.usage.total_tokens", "llm.usage.total_tokens")
CACHE_READ_KEYS: Final = (
    "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
CACHE_WRITE_KEYS: Final = (
    "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write",
)
REASONING_KEYS: Final = (
    "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
)
REPORTED_COST_KEYS: Final = ("llm.cost.total",)
TOOL_NAME_KEYS: Final = ("gen_ai.tool.name", "tool.name")
TOOL_CALL_ID_KEYS: Final = ("gen_ai.tool.call.id", "tool_call.id", "tool.id")
TOOL_ARGS_KEYS: Final = ("gen_ai.tool.call.arguments", "input.value", "traceloop.entity.input")
TOOL_RESULT_KEYS: Final = ("gen_ai.tool.call.result", "output.value", "traceloop.entity.output")
USER_KEYS: Final = (
    "user.id", "enduser.id", "traceloop.association.properties.user_id", "langfuse.user.id", "gen_ai.user",
)
WORKFLOW_NAME_KEYS: Final = ("gen_ai.workflow.name", "traceloop.workflow.name")


@dataclass(frozen=True, slots=True)
class Classification:
    category: str          # one of LLM, TOOL, EMBEDDINGS, RETRIEVAL, AGENT, WORKFLOW, CHAIN, OTHER
    step_type: str         # for chain steps: agent, workflow, task, chain, guardrail, ...
    convention: str        # which convention decided: genai, openinference, traceloop, heuristic, ""


@dataclass(slots=True)  # not frozen: built for every LLM span (frozen construction costs ~1 us)
class Usage:
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None


_HEURISTIC_LLM: Final = Classification(LLM, "", "heuristic")
_UNCLASSIFIED: Final = Classification(OTHER, "", "")


def first(attrs: Attributes, keys: tuple[str, ...]) -> Any:
    """The value of the first key present (``None`` values and empty strings count as absent)."""
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def first_text(attrs: Attributes, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = text(attrs.get(key))
        if value is not None:
            return value
    return None


def _first_id(attrs: Attributes, keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` whose value is a usable id (``clean_id``)."""
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            cleaned = clean_id(value)
            if cleaned is not None:
                return cleaned
    return None


def first_int(attrs: Attributes, keys: tuple[str, ...]) -> int | None:
    for key in keys:
        if key in attrs:
            value = to_int(attrs[key])
            if value is not None:
                return value
    return None


def classify(span: Span) -> Classification:
    """The span's category, first match wins: GenAI operation, OpenInference kind, Traceloop kind,
    ``llm.request.type``, then heuristics (``*.chat`` / ``chat *`` names, model attributes)."""
    attrs = span.attributes
    for key, table, convention in (
        ("gen_ai.operation.name", _GENAI_OPERATIONS, "genai"),
        ("openinference.span.kind", _OPENINFERENCE_KINDS, "openinference"),
        ("traceloop.span.kind", _TRACELOOP_KINDS, "traceloop"),
        ("llm.request.type", _LLM_REQUEST_TYPES, "traceloop"),
    ):
        value = attrs.get(key)
        if isinstance(value, str):
            hit = table.get(value) or table.get(value.lower()) or table.get(value.upper())
            if hit is not None:
                return _classification(hit[0], hit[1], convention)
    name = span.name
    if name.endswith((".chat", ".completion")) or name.startswith("chat "):
        return _HEURISTIC_LLM
    for key in _LLM_HINT_KEYS:
        if key in attrs:
            return _HEURISTIC_LLM
    return _UNCLASSIFIED


_CLASSIFICATIONS: dict[tuple[str, str, str], Classification] = {}


def _classification(category: str, step_type: str, convention: str) -> Classification:
    """Shared instances: a handful of distinct values, looked up for every span."""
    key = (category, step_type, convention)
    found = _CLASSIFICATIONS.get(key)
    if found is None:
        found = _CLASSIFICATIONS[key] = Classification(category, step_type, convention)
    return found


def session_key(attrs: Attributes) -> str | None:
    """sessionId candidates in order (otlp.md §3): conversation id, session.id, Langfuse, Traceloop."""
    return _first_id(attrs, SESSION_KEYS)


def agent_name(attrs: Attributes) -> str | None:
    """``gen_ai.agent.name`` -> ``gen_ai.agent.id`` -> OpenInference ``agent.name`` -> Traceloop agent."""
    cleaned = _first_id(attrs, AGENT_KEYS)
    if cleaned is not None:
        return cleaned
    if attrs.get("traceloop.span.kind") == "agent":
        return clean_id(attrs.get("traceloop.entity.name"))
    return None


def provider(attrs: Attributes) -> str:
    value = first_text(attrs, PROVIDER_KEYS)
    if value is not None:
        return value[:128]
    address = text(attrs.get("server.address"))
    if address is not None:  # heuristic from the endpoint, e.g. api.openai.com
        for needle, name in (("openai", "openai"), ("anthropic", "anthropic"), ("googleapis", "gcp.gemini"),
                             ("mistral", "mistral_ai"), ("groq", "groq"), ("cohere", "cohere")):
            if needle in address:
                return name
    return "unknown"


def request_model(attrs: Attributes) -> str | None:
    value = first_text(attrs, REQUEST_MODEL_KEYS)
    return value[:256] if value is not None else None


def response_model(attrs: Attributes) -> str | None:
    value = first_text(attrs, RESPONSE_MODEL_KEYS)
    return value[:256] if value is not None else None


def usage(attrs: Attributes) -> Usage:
    input_tokens = first_int(attrs, INPUT_TOKEN_KEYS)
    output_tokens = first_int(attrs, OUTPUT_TOKEN_KEYS)
    total = first_int(attrs, TOTAL_TOKEN_KEYS)
    if total is None and (input_tokens is not None or output_tokens is not None):
        total = (input_tokens or 0) + (output_tokens or 0)
    return Usage(
        input_tokens, output_tokens, total,
        first_int(attrs, CACHE_READ_KEYS), first_int(attrs, CACHE_WRITE_KEYS), first_int(attrs, REASONING_KEYS),
    )


def reported_cost(attrs: Attributes, keys: tuple[str, ...] = REPORTED_COST_KEYS) -> float | None:
    for key in keys:
        value = number(attrs.get(key))
        if value is not None and value >= 0:
            return float(value)
    return None


def tool_name(span: Span) -> str:
    attrs = span.attributes
    value = first_text(attrs, TOOL_NAME_KEYS)
    if value is None and attrs.get("traceloop.span.kind") == "tool":
        value = text(attrs.get("traceloop.entity.name"))
    if value is None:
        name = span.name
        if name.startswith("execute_tool "):
            name = name[len("execute_tool "):]
        elif name.endswith(".tool"):
            name = name[: -len(".tool")]
        value = name.strip() or "tool"
    return value[:256]


def user_id(attrs: Attributes) -> str | None:
    return clean_id(first(attrs, USER_KEYS))


def llm_parameters(attrs: Attributes) -> dict[str, Any]:
    """``llm_call.parameters`` from ``gen_ai.request.*`` (else OpenInference invocation parameters)."""
    out: dict[str, Any] = {}
    for key, name in (
        ("gen_ai.request.temperature", "temperature"), ("gen_ai.request.max_tokens", "maxTokens"),
        ("gen_ai.request.top_p", "topP"), ("gen_ai.request.top_k", "topK"),
        ("gen_ai.request.frequency_penalty", "frequencyPenalty"),
        ("gen_ai.request.presence_penalty", "presencePenalty"), ("gen_ai.request.seed", "seed"),
    ):
        if key in attrs:
            value = number(attrs[key])
            if value is not None:
                out[name] = value
    stops = attrs.get("gen_ai.request.stop_sequences")
    if isinstance(stops, list) and all(isinstance(s, str) for s in stops):
        out["stopSequences"] = stops[:16]
    if not out:
        raw = attrs.get("llm.invocation_parameters")
        params = _json_object(raw)
        for key, name in (("temperature", "temperature"), ("max_tokens", "maxTokens"),
                          ("max_completion_tokens", "maxTokens"), ("top_p", "topP")):
            value = number(params.get(key))
            if value is not None and name not in out:
                out[name] = value
    return out


def _json_object(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.startswith("{"):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}
