"""Inputs of the golden mapping fixtures; ``python -m tests.otlp.golden_inputs NAME`` (re)writes one.

The fixture files under ``fixtures/golden/`` are the source of truth for the tests: each holds the
OTLP/JSON requests (sent in order through one memo) and the exact events they must produce.
Regenerate only after reading the diff of the expected events.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.otlp.builders import (
    CHILD,
    CHILD2,
    GRANDCHILD,
    ROOT,
    SECOND,
    T0,
    TRACE,
    TRACE2,
    events_of,
    log_record,
    logs,
    map_doc,
    point,
    span,
    sum_metric,
    traces,
)

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
MS = 1_000_000

Request = dict[str, Any]


def genai_current() -> tuple[str, list[Request]]:
    """#33: GenAI v1.37+ chat spans; messages as a JSON string and as structured values."""
    messages = [{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]
    output = [{"role": "assistant", "parts": [{"type": "text", "content": "Sunny, 21 C."}],
               "finish_reason": "stop"}]
    tool_output = [{"role": "assistant", "parts": [
        {"type": "tool_call", "id": "call_9", "name": "get_weather", "arguments": {"city": "Paris"}}],
        "finish_reason": "tool_call"}]
    common = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
              "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.request.temperature": 0.2,
              "gen_ai.request.max_tokens": 256}
    doc = traces(
        span(ROOT, "chat gpt-4o", {**common, "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 80,
                                   "gen_ai.usage.cache_read.input_tokens": 1000,
                                   "gen_ai.response.finish_reasons": ["tool_call"],
                                   "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
                                   "gen_ai.input.messages": json.dumps(messages),
                                   "gen_ai.output.messages": json.dumps(tool_output),
                                   "gen_ai.response.time_to_first_chunk": 0.25},
             kind=3, start=T0, end=T0 + 1500 * MS),
        span(CHILD, "chat gpt-4o", {**common, "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 9,
                                    "gen_ai.response.finish_reasons": ["stop"],
                                    "gen_ai.input.messages": messages, "gen_ai.output.messages": output},
             kind=3, start=T0 + 2 * SECOND, end=T0 + 2 * SECOND + 640 * MS, trace_id=TRACE2),
        resource={"service.name": "weather-app"},
    )
    return "GenAI v1.37+ chat spans (messages as JSON text and structured)", [{"signal": "traces", "body": doc}]


def genai_v136_with_logs() -> tuple[str, list[Request]]:
    """#34: v1.36 span (gen_ai.system, prompt/completion tokens) + its per-message log events, logs first."""
    ids = {"trace_id": TRACE, "span_id": ROOT}
    log_doc = logs(
        log_record({"content": "You are terse."}, {"gen_ai.system": "openai"}, event_name="gen_ai.system.message",
                   time=T0 + 1 * MS, **ids),
        log_record({"content": "Capital of France?"}, {"gen_ai.system": "openai"}, event_name="gen_ai.user.message",
                   time=T0 + 2 * MS, **ids),
        log_record({"index": 0, "finish_reason": "stop", "message": {"content": "Paris."}},
                   {"gen_ai.system": "openai"}, event_name="gen_ai.choice", time=T0 + 900 * MS, **ids),
        resource={"service.name": "quiz-bot"},
    )
    trace_doc = traces(span(ROOT, "chat gpt-4o-mini", {
        "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.usage.prompt_tokens": 21,
        "gen_ai.usage.completion_tokens": 2, "gen_ai.response.finish_reasons": ["stop"],
    }, kind=3, start=T0, end=T0 + SECOND), resource={"service.name": "quiz-bot"})
    return "GenAI v1.36 span with gen_ai.*.message / gen_ai.choice log records sent first", [
        {"signal": "logs", "body": log_doc}, {"signal": "traces", "body": trace_doc}]


def openinference() -> tuple[str, list[Request]]:
    """#35: OpenInference AGENT -> LLM (reported cost, session.id) + TOOL + RETRIEVER."""
    doc = traces(
        span(ROOT, "AgentExecutor", {"openinference.span.kind": "AGENT", "agent.name": "rag-agent",
                                     "session.id": "sess-oi-1", "input.value": "What is OTLP?"},
             start=T0, end=T0 + 3 * SECOND),
        span(CHILD, "ChatOpenAI", {
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
            "llm.system": "openai", "llm.token_count.prompt": 300, "llm.token_count.completion": 40,
            "llm.token_count.total": 340, "llm.cost.total": 0.0123,
            "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": "Answer from docs.",
            "llm.input_messages.1.message.role": "user", "llm.input_messages.1.message.content": "What is OTLP?",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "The OpenTelemetry protocol.",
            "llm.invocation_parameters": json.dumps({"temperature": 0, "max_tokens": 500}),
            "session.id": "sess-oi-1",
        }, parent=ROOT, start=T0 + 1 * SECOND, end=T0 + 2 * SECOND),
        span(CHILD2, "search_docs", {"openinference.span.kind": "TOOL", "tool.name": "search_docs",
                                     "input.value": json.dumps({"query": "OTLP"}), "output.value": "3 hits"},
             parent=ROOT, start=T0 + 200 * MS, end=T0 + 700 * MS),
        span(GRANDCHILD, "retrieve", {"openinference.span.kind": "RETRIEVER", "input.value": "OTLP",
                                      "retrieval.documents.0.document.id": "doc-1",
                                      "retrieval.documents.0.document.score": 0.91,
                                      "retrieval.documents.1.document.id": "doc-2",
                                      "retrieval.documents.1.document.score": 0.42},
             parent=CHILD2, start=T0 + 300 * MS, end=T0 + 600 * MS),
        resource={"service.name": "phoenix-app", "openinference.project.name": "default"},
    )
    return "OpenInference agent run with reported cost and session.id", [{"signal": "traces", "body": doc}]


def openllmetry() -> tuple[str, list[Request]]:
    """#36: Traceloop workflow -> task -> openai.chat (indexed prompt) + tool, association session id."""
    assoc = {"traceloop.association.properties.session_id": "conv-ll-9",
             "traceloop.association.properties.user_id": "user-5"}
    doc = traces(
        span(ROOT, "plan_trip.workflow", {"traceloop.span.kind": "workflow", "traceloop.entity.name": "plan_trip",
                                          "traceloop.workflow.name": "plan_trip", **assoc},
             start=T0, end=T0 + 4 * SECOND),
        span(CHILD, "pick_city.task", {"traceloop.span.kind": "task", "traceloop.entity.name": "pick_city",
                                       "traceloop.workflow.name": "plan_trip", **assoc},
             parent=ROOT, start=T0 + 100 * MS, end=T0 + 2 * SECOND),
        span(GRANDCHILD, "openai.chat", {
            "llm.request.type": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "Pick a city", "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "Lisbon", "gen_ai.completion.0.finish_reason": "stop",
            "gen_ai.usage.prompt_tokens": 10, "gen_ai.usage.completion_tokens": 2, "llm.usage.total_tokens": 12,
            "llm.is_streaming": False, **assoc,
        }, parent=CHILD, kind=3, start=T0 + 200 * MS, end=T0 + 1200 * MS),
        span(CHILD2, "get_weather.tool", {"traceloop.span.kind": "tool", "traceloop.entity.name": "get_weather",
                                          "traceloop.entity.input": json.dumps({"args": ["Lisbon"]}),
                                          "traceloop.entity.output": json.dumps({"temp": 24}), **assoc},
             parent=ROOT, start=T0 + 2100 * MS, end=T0 + 2300 * MS),
        resource={"service.name": "trip-planner"},
    )
    return "OpenLLMetry/Traceloop workflow with indexed prompt attributes", [{"signal": "traces", "body": doc}]


def agent_tree() -> tuple[str, list[Request]]:
    """#37/#38: invoke_agent root, chat + execute_tool (OK and ERROR) children listed first."""
    doc = traces(
        span(CHILD, "chat gpt-4o", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                    "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 500,
                                    "gen_ai.usage.output_tokens": 50}, parent=ROOT, kind=3,
             start=T0 + 100 * MS, end=T0 + 900 * MS),
        span(CHILD2, "execute_tool web_search", {"gen_ai.operation.name": "execute_tool",
                                                 "gen_ai.tool.name": "web_search", "gen_ai.tool.call.id": "call_a",
                                                 "gen_ai.tool.call.arguments": json.dumps({"q": "otel"}),
                                                 "gen_ai.tool.call.result": json.dumps({"hits": 3})},
             parent=ROOT, start=T0 + SECOND, end=T0 + 1250 * MS, status=(1, "")),
        span(GRANDCHILD, "execute_tool fetch_page", {"gen_ai.operation.name": "execute_tool",
                                                     "gen_ai.tool.name": "fetch_page", "error.type": "TimeoutError"},
             parent=ROOT, start=T0 + 1300 * MS, end=T0 + 2300 * MS, status=(2, "timed out after 1s"),
             events=[{"timeUnixNano": str(T0 + 2300 * MS), "name": "exception", "attributes": [
                 {"key": "exception.type", "value": {"stringValue": "TimeoutError"}},
                 {"key": "exception.message", "value": {"stringValue": "timed out after 1s"}}]}]),
        span(ROOT, "invoke_agent researcher", {"gen_ai.operation.name": "invoke_agent",
                                               "gen_ai.agent.name": "researcher", "gen_ai.agent.id": "agt_1"},
             start=T0, end=T0 + 3 * SECOND),
        resource={"service.name": "research-svc"},
    )
    return "invoke_agent root with chat and execute_tool children listed before it", [
        {"signal": "traces", "body": doc}]


def agent_tree_split() -> tuple[str, list[Request]]:
    """#38 across requests: children exported before the root keep the documented fallbacks."""
    _, (request,) = agent_tree()
    spans = request["body"]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    children, root = spans[:3], spans[3]
    first = traces(*children, resource={"service.name": "research-svc"})
    second = traces(root, resource={"service.name": "research-svc"})
    return "the same run exported in two requests: children first, root later", [
        {"signal": "traces", "body": first}, {"signal": "traces", "body": second}]


def nested_llm() -> tuple[str, list[Request]]:
    """#39: a framework LLM span wrapping a provider LLM span; then a wrapper whose child came earlier."""
    wrapper = span(ROOT, "ChatOpenAI", {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o",
                                        "llm.token_count.prompt": 700, "llm.token_count.completion": 70},
                   start=T0, end=T0 + 2 * SECOND)
    inner = span(CHILD, "chat gpt-4o", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                        "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 700,
                                        "gen_ai.usage.output_tokens": 70},
                 parent=ROOT, kind=3, start=T0 + 10 * MS, end=T0 + 1990 * MS)
    late_inner = span(CHILD2, "chat gpt-4o", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                              "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10},
                      trace_id=TRACE2, parent=GRANDCHILD, kind=3, start=T0 + 5 * SECOND, end=T0 + 6 * SECOND)
    late_wrapper = span(GRANDCHILD, "llm", {"traceloop.span.kind": "task", "llm.request.type": "chat",
                                            "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 100,
                                            "gen_ai.usage.output_tokens": 10},
                        trace_id=TRACE2, start=T0 + 5 * SECOND - 5 * MS, end=T0 + 6 * SECOND + 5 * MS)
    late_wrapper["attributes"] = [a for a in late_wrapper["attributes"] if a["key"] != "traceloop.span.kind"]
    return "nested LLM spans: usage and cost counted once, on the innermost span", [
        {"signal": "traces", "body": traces(wrapper, inner, resource={"service.name": "lc-app"})},
        {"signal": "traces", "body": traces(late_inner, resource={"service.name": "lc-app"})},
        {"signal": "traces", "body": traces(late_wrapper, resource={"service.name": "lc-app"})},
    ]


def tokens_old_and_new() -> tuple[str, list[Request]]:
    """#40: old and new token names together are not added; no tokens and no price -> unknown."""
    doc = traces(
        span(ROOT, "chat gpt-4o", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                   "gen_ai.usage.input_tokens": 100, "gen_ai.usage.prompt_tokens": 100,
                                   "gen_ai.usage.output_tokens": 20, "gen_ai.usage.completion_tokens": 20,
                                   "llm.token_count.prompt": 100}, kind=3),
        span(CHILD, "chat my-local-model", {"gen_ai.operation.name": "chat",
                                            "gen_ai.request.model": "my-local-model"}, kind=3, trace_id=TRACE2),
    )
    return "double-emitted token attributes and an unpriced model", [{"signal": "traces", "body": doc}]


def claude_code() -> tuple[str, list[Request]]:
    """Claude Code's OTel logs and cost metric (upstream AgentLens §5.4)."""
    common = {"session.id": "cc-session-1", "user.email": "dev@example.com", "organization.id": "org-1",
              "terminal.type": "vscode"}
    resource = {"service.name": "claude-code", "service.version": "2.0.14"}
    scope = "com.anthropic.claude_code.events"
    log_doc = logs(
        log_record("claude_code.user_prompt", {**common, "event.name": "user_prompt", "prompt.id": "p-1",
                                               "prompt_length": "18", "prompt": "fix the failing test"},
                   time=T0),
        log_record("claude_code.api_request", {**common, "event.name": "api_request", "prompt.id": "p-1",
                                               "model": "claude-sonnet-4-5-20250929", "cost_usd": "0.0421",
                                               "duration_ms": "2350", "input_tokens": "1200",
                                               "output_tokens": "310", "cache_read_tokens": "8000",
                                               "cache_creation_tokens": "0", "request_id": "req_01"},
                   time=T0 + 3 * SECOND),
        log_record("claude_code.tool_decision", {**common, "event.name": "tool_decision", "tool_name": "Bash",
                                                 "decision": "accept", "source": "config",
                                                 "tool_use_id": "toolu_1"}, time=T0 + 3100 * MS),
        log_record("claude_code.tool_result", {**common, "event.name": "tool_result", "tool_name": "Bash",
                                               "success": "true", "duration_ms": "840", "tool_use_id": "toolu_1",
                                               "tool_result_size_bytes": "2048"}, time=T0 + 4 * SECOND),
        log_record("claude_code.tool_decision", {**common, "event.name": "tool_decision", "tool_name": "Write",
                                                 "decision": "reject", "source": "user_reject",
                                                 "tool_use_id": "toolu_2"}, time=T0 + 5 * SECOND),
        log_record("claude_code.tool_result", {**common, "event.name": "tool_result", "tool_name": "Edit",
                                               "success": "false", "duration_ms": "12",
                                               "error": "old_string not found", "tool_use_id": "toolu_3"},
                   time=T0 + 6 * SECOND),
        log_record("claude_code.plugin_loaded", {**common, "event.name": "plugin_loaded"}, time=T0 + 7 * SECOND),
        resource=resource, scope=scope,
    )
    cost = sum_metric("claude_code.cost.usage", [
        point(0.0421, {**common, "model": "claude-sonnet-4-5-20250929"}, time=T0 + 60 * SECOND,
              start=T0 - 10 * SECOND)], temporality=2, resource=resource, unit="USD")
    cost_later = sum_metric("claude_code.cost.usage", [
        point(0.0621, {**common, "model": "claude-sonnet-4-5-20250929"}, time=T0 + 120 * SECOND,
              start=T0 - 10 * SECOND)], temporality=2, resource=resource, unit="USD")
    return "Claude Code logs and its cumulative cost metric", [
        {"signal": "logs", "body": log_doc}, {"signal": "metrics", "body": cost},
        {"signal": "metrics", "body": cost_later}]


def metrics() -> tuple[str, list[Request]]:
    """Cost metrics -> cost_tracked (cumulative -> delta, resets), other points -> otlp_metric."""
    resource = {"service.name": "claude-code"}
    attrs = {"session.id": "cc-session-2", "model": "claude-haiku-4-5"}
    first = sum_metric("claude_code.cost.usage", [point(0.5, attrs, time=T0, start=T0 - 60 * SECOND)],
                       temporality=2, resource=resource, unit="USD")
    second = sum_metric("claude_code.cost.usage", [point(0.75, attrs, time=T0 + 60 * SECOND, start=T0 - 60 * SECOND)],
                        temporality=2, resource=resource, unit="USD")
    restarted = sum_metric("claude_code.cost.usage", [point(0.1, attrs, time=T0 + 120 * SECOND,
                                                            start=T0 + 100 * SECOND)],
                           temporality=2, resource=resource, unit="USD")
    mixed = {"resourceMetrics": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "openclaw-gw"}}]}, "scopeMetrics": [{"metrics": [
            {"name": "openclaw.cost.usd", "unit": "USD", "gauge": {"dataPoints": [
                point(1.25, {"openclaw.provider": "anthropic", "openclaw.model": "claude-opus-4-1",
                             "openclaw.sessionId": "oc-1"}, time=T0 + 5 * SECOND)]}},
            {"name": "gen_ai.client.operation.duration", "unit": "s", "histogram": {
                "aggregationTemporality": 1, "dataPoints": [
                    {"startTimeUnixNano": str(T0), "timeUnixNano": str(T0 + 10 * SECOND), "count": "4",
                     "sum": 2.5, "bucketCounts": ["1", "3"], "explicitBounds": [0.5],
                     "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}]}]}},
            {"name": "queue.depth", "gauge": {"dataPoints": [point(7, time=T0 + 10 * SECOND)]}},
            {"name": "latency.exp", "exponentialHistogram": {"aggregationTemporality": 1, "dataPoints": [
                {"timeUnixNano": str(T0 + 10 * SECOND), "count": "2", "sum": 1.0, "scale": 1}]}},
            {"name": "latency.summary", "summary": {"dataPoints": [
                {"timeUnixNano": str(T0 + 10 * SECOND), "count": "2", "sum": 1.0}]}},
            {"name": "claude_code.session.count", "sum": {"aggregationTemporality": 1, "isMonotonic": True,
                                                          "dataPoints": [point(1, time=T0 + 10 * SECOND)]}},
        ]}]}]}
    return "cost metrics and other points", [
        {"signal": "metrics", "body": first}, {"signal": "metrics", "body": second},
        {"signal": "metrics", "body": restarted}, {"signal": "metrics", "body": mixed}]


FIXTURES: dict[str, Callable[[], tuple[str, list[Request]]]] = {
    "genai_current": genai_current,
    "genai_v136_with_logs": genai_v136_with_logs,
    "openinference": openinference,
    "openllmetry": openllmetry,
    "agent_tree": agent_tree,
    "agent_tree_split": agent_tree_split,
    "nested_llm": nested_llm,
    "tokens_old_and_new": tokens_old_and_new,
    "claude_code": claude_code,
    "metrics": metrics,
}


def produce(requests: list[Request]) -> list[dict[str, Any]]:
    """Map the requests in order through one memo; commit metric series as the receiver does."""
    from collector.mapping.otlp_memo import OtlpMemo

    memo = OtlpMemo()
    out: list[dict[str, Any]] = []
    for request in requests:
        result = map_doc(request["body"], request["signal"], memo=memo)
        memo.commit_series(result.series_updates)
        out.extend(events_of(result))
    return out


def write(name: str) -> Path:
    description, requests = FIXTURES[name]()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    path = GOLDEN / f"{name}.json"
    doc = {"description": description, "requests": requests, "expected": produce(requests)}
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return path


if __name__ == "__main__":
    for fixture in sys.argv[1:] or FIXTURES:
        print(write(fixture))
