"""Payload schemas of the 21 ingestible event types (upstream §1.4): required fields, types, paths."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from collector.mapping.validate import MAX_SAFE_INTEGER, PAYLOAD_SCHEMAS, payload_errors, validate_payload
from store.model import CLIENT_EVENT_TYPES, SERVER_ONLY_EVENT_TYPES

# A minimal valid payload per type: exactly the required fields.
MINIMAL: dict[str, dict[str, Any]] = {
    "tool_call": {"toolName": "search", "callId": "c1", "arguments": {}},
    "tool_response": {"callId": "c1", "toolName": "search", "durationMs": 12.5},
    "tool_error": {"callId": "c1", "toolName": "search", "error": "boom", "durationMs": 3},
    "session_started": {},
    "session_ended": {"reason": "completed"},
    "approval_requested": {"requestId": "r1", "action": "deploy", "params": {}, "urgency": "high"},
    "approval_granted": {"requestId": "r1", "action": "deploy", "decidedBy": "alice"},
    "approval_denied": {"requestId": "r1", "action": "deploy", "decidedBy": "alice"},
    "approval_expired": {"requestId": "r1", "action": "deploy", "decidedBy": "system"},
    "form_submitted": {"submissionId": "s1", "formId": "f1", "fieldCount": 3},
    "form_completed": {"submissionId": "s1", "formId": "f1", "completedBy": "bob", "durationMs": 10},
    "form_expired": {"submissionId": "s1", "formId": "f1", "expiredAfterMs": 60000},
    "cost_tracked": {
        "provider": "openai", "model": "gpt-4o", "inputTokens": 10, "outputTokens": 5,
        "totalTokens": 15, "costUsd": 0.001,
    },
    "llm_call": {
        "callId": "l1", "provider": "anthropic", "model": "claude",
        "messages": [{"role": "user", "content": "hi"}],
    },
    "llm_response": {
        "callId": "l1", "provider": "anthropic", "model": "claude", "completion": "hello",
        "finishReason": "stop", "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3},
        "costUsd": 0.0, "latencyMs": 250,
    },
    "alert_triggered": {
        "alertRuleId": "r1", "alertName": "errors", "condition": "error_rate_exceeds",
        "currentValue": 0.5, "threshold": 0.1, "message": "too many errors",
    },
    "alert_resolved": {"alertRuleId": "r1", "alertName": "errors"},
    "retrieval": {"query": "what is x"},
    "embedding": {"model": "text-embedding-3-small", "inputCount": 4},
    "chain_step": {"name": "plan"},
    "custom": {"type": "note", "data": {}},
}

# Every optional field with a valid value (the table's `?` fields).
OPTIONAL: dict[str, dict[str, Any]] = {
    "tool_call": {"serverName": "mcp"},
    "tool_response": {"result": {"any": ["thing"]}},
    "tool_error": {"errorCode": "E1"},
    "session_started": {
        "agentName": "a", "agentVersion": "1", "mcpClientInfo": {"name": "x"}, "tags": ["t1", "t2"],
    },
    "session_ended": {"summary": "done", "totalToolCalls": 3, "totalDurationMs": 1.5},
    "approval_requested": {},
    "approval_granted": {"reason": "ok"},
    "approval_denied": {"reason": "no"},
    "approval_expired": {"reason": "late"},
    "form_submitted": {"formName": "F"},
    "form_completed": {},
    "form_expired": {},
    "cost_tracked": {"trigger": "llm"},
    "llm_call": {
        "systemPrompt": "be brief",
        "parameters": {"temperature": 0.2, "maxTokens": 100, "topP": 1, "stopSequences": ["\n"], "seed": 7},
        "tools": [{"name": "search", "description": "web", "parameters": {"type": "object"}}, {"name": "x"}],
        "redacted": False,
    },
    "llm_response": {
        "toolCalls": [{"id": "t1", "name": "search", "arguments": {"q": "x"}}],
        "usage": {
            "inputTokens": 1, "outputTokens": 2, "totalTokens": 3, "thinkingTokens": 0,
            "cacheReadTokens": 4, "cacheWriteTokens": 5,
        },
        "redacted": True,
    },
    "alert_triggered": {},
    "alert_resolved": {"resolvedBy": "auto"},
    "retrieval": {"retrieverName": "bm25", "topK": 5, "resultCount": 0, "durationMs": 0},
    "embedding": {"dimensions": 1536, "durationMs": 2.5},
    "chain_step": {"stepType": "tool", "durationMs": 7},
    "custom": {},
}

# Required fields per type, as the upstream table lists them (independent of the implementation).
REQUIRED: dict[str, set[str]] = {
    "tool_call": {"toolName", "callId", "arguments"},
    "tool_response": {"callId", "toolName", "durationMs"},
    "tool_error": {"callId", "toolName", "error", "durationMs"},
    "session_started": set(),
    "session_ended": {"reason"},
    "approval_requested": {"requestId", "action", "params", "urgency"},
    "approval_granted": {"requestId", "action", "decidedBy"},
    "approval_denied": {"requestId", "action", "decidedBy"},
    "approval_expired": {"requestId", "action", "decidedBy"},
    "form_submitted": {"submissionId", "formId", "fieldCount"},
    "form_completed": {"submissionId", "formId", "completedBy", "durationMs"},
    "form_expired": {"submissionId", "formId", "expiredAfterMs"},
    "cost_tracked": {"provider", "model", "inputTokens", "outputTokens", "totalTokens", "costUsd"},
    "llm_call": {"callId", "provider", "model", "messages"},
    "llm_response": {
        "callId", "provider", "model", "completion", "finishReason", "usage", "costUsd", "latencyMs",
    },
    "alert_triggered": {"alertRuleId", "alertName", "condition", "currentValue", "threshold", "message"},
    "alert_resolved": {"alertRuleId", "alertName"},
    "retrieval": {"query"},
    "embedding": {"model", "inputCount"},
    "chain_step": {"name"},
    "custom": {"type", "data"},
}

MIN1: dict[str, set[str]] = {
    "tool_call": {"toolName", "callId"},
    "tool_response": {"callId", "toolName"},
    "tool_error": {"callId", "toolName"},
    "approval_requested": {"requestId", "action"},
    "approval_granted": {"requestId", "action", "decidedBy"},
    "approval_denied": {"requestId", "action", "decidedBy"},
    "approval_expired": {"requestId", "action", "decidedBy"},
    "form_submitted": {"submissionId", "formId"},
    "form_completed": {"submissionId", "formId", "completedBy"},
    "form_expired": {"submissionId", "formId"},
    "cost_tracked": {"provider", "model"},
    "llm_call": {"callId", "provider", "model"},
    "llm_response": {"callId", "provider", "model", "finishReason"},
    "alert_triggered": {"alertRuleId", "alertName"},
    "alert_resolved": {"alertRuleId", "alertName"},
}

# A wrong-typed value per field kind, with the zod-style message it must produce.
NOT_A = {
    "string": (12, "Expected string, received number"),
    "number": ("12", "Expected number, received string"),
    "object": ([], "Expected object, received array"),
    "array": ({}, "Expected array, received object"),
    "boolean": ("true", "Expected boolean, received string"),
}

FIELD_KINDS: dict[str, dict[str, str]] = {
    "tool_call": {"toolName": "string", "callId": "string", "arguments": "object", "serverName": "string"},
    "tool_response": {"callId": "string", "toolName": "string", "durationMs": "number"},
    "tool_error": {
        "callId": "string", "toolName": "string", "error": "string", "errorCode": "string",
        "durationMs": "number",
    },
    "session_started": {
        "agentName": "string", "agentVersion": "string", "mcpClientInfo": "object", "tags": "array",
    },
    "session_ended": {"summary": "string", "totalToolCalls": "number", "totalDurationMs": "number"},
    "approval_requested": {"requestId": "string", "action": "string", "params": "object", "urgency": "string"},
    "approval_granted": {"requestId": "string", "action": "string", "decidedBy": "string", "reason": "string"},
    "approval_denied": {"requestId": "string", "action": "string", "decidedBy": "string", "reason": "string"},
    "approval_expired": {"requestId": "string", "action": "string", "decidedBy": "string", "reason": "string"},
    "form_submitted": {"submissionId": "string", "formId": "string", "formName": "string", "fieldCount": "number"},
    "form_completed": {
        "submissionId": "string", "formId": "string", "completedBy": "string", "durationMs": "number",
    },
    "form_expired": {"submissionId": "string", "formId": "string", "expiredAfterMs": "number"},
    "cost_tracked": {
        "provider": "string", "model": "string", "inputTokens": "number", "outputTokens": "number",
        "totalTokens": "number", "costUsd": "number", "trigger": "string",
    },
    "llm_call": {
        "callId": "string", "provider": "string", "model": "string", "messages": "array",
        "systemPrompt": "string", "parameters": "object", "tools": "array", "redacted": "boolean",
    },
    "llm_response": {
        "callId": "string", "provider": "string", "model": "string", "toolCalls": "array",
        "finishReason": "string", "usage": "object", "costUsd": "number", "latencyMs": "number",
        "redacted": "boolean",
    },
    "alert_triggered": {
        "alertRuleId": "string", "alertName": "string", "condition": "string", "currentValue": "number",
        "threshold": "number", "message": "string",
    },
    "alert_resolved": {"alertRuleId": "string", "alertName": "string", "resolvedBy": "string"},
    "retrieval": {"query": "string", "retrieverName": "string", "topK": "number", "resultCount": "number",
                  "durationMs": "number"},
    "embedding": {"model": "string", "inputCount": "number", "dimensions": "number", "durationMs": "number"},
    "chain_step": {"name": "string", "stepType": "string", "durationMs": "number"},
    "custom": {"type": "string", "data": "object"},
}

P = "events.3.payload"


def errors(event_type: str, payload: Any) -> list[tuple[str, str]]:
    return payload_errors(event_type, payload, P)


def full(event_type: str) -> dict[str, Any]:
    return {**copy.deepcopy(MINIMAL[event_type]), **copy.deepcopy(OPTIONAL[event_type])}


def test_the_table_covers_exactly_the_21_ingestible_types() -> None:
    assert len(CLIENT_EVENT_TYPES) == 21
    assert set(PAYLOAD_SCHEMAS) == set(CLIENT_EVENT_TYPES) == set(MINIMAL) == set(REQUIRED)
    assert not set(PAYLOAD_SCHEMAS) & set(SERVER_ONLY_EVENT_TYPES)


@pytest.mark.parametrize("event_type", CLIENT_EVENT_TYPES)
def test_minimal_and_full_payloads_are_valid(event_type: str) -> None:
    assert errors(event_type, MINIMAL[event_type]) == []
    assert errors(event_type, full(event_type)) == []


@pytest.mark.parametrize("event_type", CLIENT_EVENT_TYPES)
def test_required_fields(event_type: str) -> None:
    declared = {name for name, required, _kind, _check in PAYLOAD_SCHEMAS[event_type] if required}
    assert declared == REQUIRED[event_type]
    for name in REQUIRED[event_type]:
        payload = full(event_type)
        del payload[name]
        assert errors(event_type, payload) == [(f"{P}.{name}", "Required")], name


@pytest.mark.parametrize("event_type", CLIENT_EVENT_TYPES)
def test_every_missing_required_field_is_reported_at_once(event_type: str) -> None:
    found = errors(event_type, {})
    assert {path for path, _ in found} == {f"{P}.{name}" for name in REQUIRED[event_type]}
    assert all(message == "Required" for _, message in found)


@pytest.mark.parametrize("event_type", CLIENT_EVENT_TYPES)
def test_wrong_types(event_type: str) -> None:
    for name, kind in FIELD_KINDS[event_type].items():
        bad, message = NOT_A[kind]
        payload = full(event_type)
        payload[name] = bad
        assert errors(event_type, payload) == [(f"{P}.{name}", message)], name


@pytest.mark.parametrize("event_type", CLIENT_EVENT_TYPES)
def test_null_is_not_accepted_for_any_declared_field(event_type: str) -> None:
    for name, _required, _kind, _check in PAYLOAD_SCHEMAS[event_type]:
        if (event_type, name) == ("llm_response", "completion"):
            continue
        payload = full(event_type)
        payload[name] = None
        found = errors(event_type, payload)
        assert len(found) == 1 and found[0][0] == f"{P}.{name}", name
        assert found[0][1].endswith("received null"), found


@pytest.mark.parametrize("event_type", sorted(MIN1))
def test_min1_strings(event_type: str) -> None:
    for name in MIN1[event_type]:
        payload = full(event_type)
        payload[name] = ""
        assert errors(event_type, payload) == [
            (f"{P}.{name}", "String must contain at least 1 character(s)")
        ], name
        payload[name] = " "
        assert errors(event_type, payload) == []


def test_plain_strings_may_be_empty() -> None:
    assert errors("tool_error", {**MINIMAL["tool_error"], "error": ""}) == []
    assert errors("custom", {"type": "", "data": {}}) == []
    assert errors("retrieval", {"query": ""}) == []
    assert errors("chain_step", {"name": ""}) == []


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_numbers(value: bool) -> None:
    assert errors("tool_response", {**MINIMAL["tool_response"], "durationMs": value}) == [
        (f"{P}.durationMs", "Expected number, received boolean")
    ]
    assert errors("embedding", {"model": "m", "inputCount": value}) == [
        (f"{P}.inputCount", "Expected number, received boolean")
    ]


def test_numbers_ints_floats_negative_and_non_finite() -> None:
    for good in (0, -1, 1.5, -0.0, 1e300, 2**60):
        assert errors("tool_response", {**MINIMAL["tool_response"], "durationMs": good}) == []
    for bad in (float("inf"), float("-inf"), float("nan")):
        assert errors("tool_response", {**MINIMAL["tool_response"], "durationMs": bad}) == [
            (f"{P}.durationMs", "Number must be finite")
        ]


def test_integer_fields() -> None:
    ok = {"model": "m", "inputCount": 0}
    assert errors("embedding", ok) == []
    assert errors("embedding", {**ok, "inputCount": 3.0}) == []  # JSON 3.0 is the JS number 3
    assert errors("embedding", {**ok, "inputCount": MAX_SAFE_INTEGER}) == []
    assert errors("embedding", {**ok, "inputCount": 1.5}) == [
        (f"{P}.inputCount", "Expected integer, received float")
    ]
    assert errors("embedding", {**ok, "inputCount": -1}) == [
        (f"{P}.inputCount", "Number must be greater than or equal to 0")
    ]
    assert errors("embedding", {**ok, "inputCount": MAX_SAFE_INTEGER + 1}) == [
        (f"{P}.inputCount", f"Number must be less than or equal to {MAX_SAFE_INTEGER}")
    ]
    assert errors("embedding", {**ok, "dimensions": 1}) == []
    assert errors("embedding", {**ok, "dimensions": 0}) == [
        (f"{P}.dimensions", "Number must be greater than 0")
    ]
    assert errors("retrieval", {"query": "q", "topK": -2, "resultCount": 0.5}) == [
        (f"{P}.topK", "Number must be greater than or equal to 0"),
        (f"{P}.resultCount", "Expected integer, received float"),
    ]


def test_non_negative_numbers() -> None:
    for event_type, base in (("retrieval", {"query": "q"}), ("embedding", MINIMAL["embedding"]),
                             ("chain_step", {"name": "n"})):
        assert errors(event_type, {**base, "durationMs": 0.5}) == []
        assert errors(event_type, {**base, "durationMs": -0.5}) == [
            (f"{P}.durationMs", "Number must be greater than or equal to 0")
        ]


def test_session_ended_reason_enum() -> None:
    for reason in ("completed", "error", "timeout", "manual"):
        assert errors("session_ended", {"reason": reason}) == []
    assert errors("session_ended", {"reason": "crashed"}) == [(
        f"{P}.reason",
        "Invalid enum value. Expected 'completed' | 'error' | 'timeout' | 'manual', received 'crashed'",
    )]
    assert errors("session_ended", {"reason": 1}) == [
        (f"{P}.reason", "Expected 'completed' | 'error' | 'timeout' | 'manual', received number")
    ]


def test_long_enum_values_are_cut_short_in_messages() -> None:
    [(_, message)] = errors("session_ended", {"reason": "x" * 10_000})
    assert len(message) < 200


def test_completion_is_nullable_but_required() -> None:
    base = MINIMAL["llm_response"]
    assert errors("llm_response", {**base, "completion": None}) == []
    without = {k: v for k, v in base.items() if k != "completion"}
    assert errors("llm_response", without) == [(f"{P}.completion", "Required")]
    assert errors("llm_response", {**base, "completion": 5}) == [
        (f"{P}.completion", "Expected string or null, received number")
    ]


def test_llm_response_usage_fields_and_paths() -> None:
    base = MINIMAL["llm_response"]
    assert errors("llm_response", {**base, "usage": {}}) == [
        (f"{P}.usage.inputTokens", "Required"),
        (f"{P}.usage.outputTokens", "Required"),
        (f"{P}.usage.totalTokens", "Required"),
    ]
    usage = {"inputTokens": "1", "outputTokens": True, "totalTokens": 3, "cacheReadTokens": None}
    assert errors("llm_response", {**base, "usage": usage}) == [
        (f"{P}.usage.inputTokens", "Expected number, received string"),
        (f"{P}.usage.outputTokens", "Expected number, received boolean"),
        (f"{P}.usage.cacheReadTokens", "Expected number, received null"),
    ]
    assert errors("llm_response", {**base, "usage": None}) == [(f"{P}.usage", "Expected object, received null")]


def test_llm_response_tool_calls() -> None:
    base = MINIMAL["llm_response"]
    calls = [{"id": "1", "name": "n", "arguments": {}}, {"id": 2, "arguments": []}, "x"]
    assert errors("llm_response", {**base, "toolCalls": calls}) == [
        (f"{P}.toolCalls.1.id", "Expected string, received number"),
        (f"{P}.toolCalls.1.name", "Required"),
        (f"{P}.toolCalls.1.arguments", "Expected object, received array"),
        (f"{P}.toolCalls.2", "Expected object, received string"),
    ]
    assert errors("llm_response", {**base, "toolCalls": []}) == []


def test_llm_call_messages() -> None:
    base = MINIMAL["llm_call"]
    assert errors("llm_call", {**base, "messages": []}) == [
        (f"{P}.messages", "Array must contain at least 1 element(s)")
    ]
    good = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": "", "toolCalls": [{"id": "t", "name": "n", "arguments": {}}]},
        {"role": "tool", "content": "42", "toolCallId": "t", "extra": [1, 2]},
    ]
    assert errors("llm_call", {**base, "messages": good}) == []
    bad = [
        {"role": "robot", "content": "x"},
        {"content": 5},
        {"role": "user", "content": ["text"], "toolCallId": 1},
        {"role": "assistant", "content": "x", "toolCalls": [{"id": "t", "name": "n"}]},
        None,
    ]
    assert errors("llm_call", {**base, "messages": bad}) == [
        (f"{P}.messages.0.role",
         "Invalid enum value. Expected 'system' | 'user' | 'assistant' | 'tool', received 'robot'"),
        (f"{P}.messages.1.role", "Required"),
        (f"{P}.messages.1.content", "Expected string or array, received number"),
        (f"{P}.messages.2.content.0", "Expected object, received string"),
        (f"{P}.messages.2.toolCallId", "Expected string, received number"),
        (f"{P}.messages.3.toolCalls.0.arguments", "Required"),
        (f"{P}.messages.4", "Expected object, received null"),
    ]


def test_llm_call_parameters_and_tools() -> None:
    base = MINIMAL["llm_call"]
    params = {"temperature": "hot", "topP": None, "stopSequences": ["a", 1], "anything": {"x": None}}
    assert errors("llm_call", {**base, "parameters": params}) == [
        (f"{P}.parameters.temperature", "Expected number, received string"),
        (f"{P}.parameters.topP", "Expected number, received null"),
        (f"{P}.parameters.stopSequences.1", "Expected string, received number"),
    ]
    tools = [{"description": "d"}, {"name": "n", "parameters": "x"}]
    assert errors("llm_call", {**base, "tools": tools}) == [
        (f"{P}.tools.0.name", "Required"),
        (f"{P}.tools.1.parameters", "Expected object, received string"),
    ]


def test_session_started_tags() -> None:
    assert errors("session_started", {"tags": []}) == []
    assert errors("session_started", {"tags": ["a", None, 3]}) == [
        (f"{P}.tags.1", "Expected string, received null"),
        (f"{P}.tags.2", "Expected string, received number"),
    ]


def test_unknown_keys_are_allowed_and_untouched() -> None:
    payload = {**MINIMAL["tool_call"], "extra": {"deep": [1, None]}, "isError": "not checked"}
    before = copy.deepcopy(payload)
    assert errors("tool_call", payload) == []
    assert payload == before


def test_unknown_result_may_be_anything() -> None:
    for result in (None, 1, "s", [1], {"a": 1}, False):
        assert errors("tool_response", {**MINIMAL["tool_response"], "result": result}) == []


def test_payload_must_be_an_object() -> None:
    assert errors("custom", []) == [(P, "Expected object, received array")]
    assert errors("custom", None) == [(P, "Expected object, received null")]
    assert errors("custom", "x") == [(P, "Expected object, received string")]


def test_validate_payload_appends_to_the_given_list_with_default_path() -> None:
    found: list[tuple[str, str]] = [("earlier", "problem")]
    validate_payload("custom", {"type": 1}, found)
    assert found == [
        ("earlier", "problem"),
        ("payload.type", "Expected string, received number"),
        ("payload.data", "Required"),
    ]
    with pytest.raises(KeyError):
        validate_payload("eval_result", {}, found)


def test_all_problems_in_field_order() -> None:
    payload = {"toolName": "", "arguments": 1, "serverName": None}
    assert errors("tool_call", payload) == [
        (f"{P}.toolName", "String must contain at least 1 character(s)"),
        (f"{P}.callId", "Required"),
        (f"{P}.arguments", "Expected object, received number"),
        (f"{P}.serverName", "Expected string, received null"),
    ]
