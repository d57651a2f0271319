"""Conformance §8 mapping items 33-40 and the Claude Code mapping: golden fixtures, exact events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.otlp.builders import CHILD, CHILD2, GRANDCHILD, ROOT, TRACE, TRACE2, to_protobuf
from tests.otlp.conftest import OtlpClientFactory, all_events
from tests.otlp.golden_inputs import FIXTURES, produce

GOLDEN = Path(__file__).parent / "fixtures" / "golden"


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((GOLDEN / f"{name}.json").read_text())
    return doc


def by_span(events: list[dict[str, Any]], span_id: str) -> dict[str, dict[str, Any]]:
    return {e["eventType"]: e for e in events if e["metadata"].get("spanId") == span_id}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_golden_fixture_exact(name: str) -> None:
    fixture = load(name)
    assert produce(fixture["requests"]) == fixture["expected"]


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_golden_fixture_protobuf_path_identical(name: str) -> None:
    """Each fixture's requests sent as protobuf map to exactly the same events."""
    from collector.mapping.otlp_memo import OtlpMemo
    from tests.otlp.builders import events_of, map_doc

    fixture = load(name)
    memo = OtlpMemo()
    events = []
    for request in fixture["requests"]:
        result = map_doc(request["body"], request["signal"], memo=memo, encoding="protobuf")
        memo.commit_series(result.series_updates)
        events.extend(events_of(result))
    assert events == fixture["expected"]


def test_golden_inputs_still_match_fixtures() -> None:
    """The fixture files were written from golden_inputs.py and nobody edited one without the other."""
    for name, make in FIXTURES.items():
        assert make()[1] == load(name)["requests"], name


def test_c33_genai_current_chat_span() -> None:
    events = load("genai_current")["expected"]
    first = by_span(events, ROOT)
    call, response = first["llm_call"]["payload"], first["llm_response"]["payload"]
    assert call["callId"] == response["callId"] == ROOT
    assert call["model"] == "gpt-4o" and response["model"] == "gpt-4o-2024-08-06"
    assert call["messages"] == [{"role": "user", "content": "Weather in Paris?"}]  # from JSON text
    assert call["systemPrompt"] == "Be brief."
    assert response["usage"] == {"inputTokens": 1200, "outputTokens": 80, "totalTokens": 1280, "cacheReadTokens": 1000}
    assert response["latencyMs"] == 1500 and response["ttftMs"] == 250
    assert response["finishReason"] == "tool_call"
    assert response["toolCalls"] == [{"id": "call_9", "name": "get_weather", "arguments": {"city": "Paris"}}]
    # 200 uncached input + 1000 cached + 80 output at gpt-4o prices
    assert response["costUsd"] == pytest.approx((200 * 2.5 + 1000 * 1.25 + 80 * 10) / 1e6)
    second = by_span(events, CHILD)  # messages given as structured kvlist/array values
    assert second["llm_call"]["payload"]["messages"] == [{"role": "user", "content": "Weather in Paris?"}]
    assert second["llm_response"]["payload"]["completion"] == "Sunny, 21 C."
    assert second["llm_response"]["payload"]["finishReason"] == "stop"
    for e in events:
        meta = e["metadata"]
        assert meta["source"] == "otlp_genai" and meta["spanKind"] == "CLIENT"
        assert isinstance(meta["spanStartUnixNano"], str) and isinstance(meta["spanEndUnixNano"], str)


def test_c34_genai_v136_span_with_log_content() -> None:
    events = {e["eventType"]: e for e in load("genai_v136_with_logs")["expected"]}
    assert set(events) == {"llm_call", "llm_response"}  # the log records made no events of their own
    assert events["llm_call"]["payload"]["messages"] == [
        {"role": "system", "content": "You are terse."}, {"role": "user", "content": "Capital of France?"}]
    assert events["llm_call"]["payload"]["provider"] == "openai"  # from gen_ai.system
    response = events["llm_response"]["payload"]
    assert response["completion"] == "Paris."
    assert response["usage"] == {"inputTokens": 21, "outputTokens": 2, "totalTokens": 23}


def test_c35_openinference_reported_cost_and_session() -> None:
    events = load("openinference")["expected"]
    assert {e["sessionId"] for e in events} == {"sess-oi-1"}
    assert {e["agentId"] for e in events} == {"rag-agent"}
    llm = by_span(events, CHILD)
    assert llm["llm_call"]["payload"]["messages"] == [
        {"role": "system", "content": "Answer from docs."}, {"role": "user", "content": "What is OTLP?"}]
    assert llm["llm_response"]["payload"]["costUsd"] == 0.0123
    assert llm["llm_response"]["metadata"]["costSource"] == "reported"
    assert llm["llm_response"]["payload"]["usage"]["totalTokens"] == 340
    assert [e["eventType"] for e in events].count("session_started") == 1


def test_c36_openllmetry_association_session() -> None:
    events = load("openllmetry")["expected"]
    assert {e["sessionId"] for e in events} == {"conv-ll-9"}
    llm = by_span(events, GRANDCHILD)
    assert llm["llm_call"]["payload"]["messages"] == [{"role": "user", "content": "Pick a city"}]
    assert llm["llm_response"]["payload"]["completion"] == "Lisbon"
    assert llm["llm_response"]["payload"]["usage"] == {"inputTokens": 10, "outputTokens": 2, "totalTokens": 12}
    tool = by_span(events, CHILD2)
    assert tool["tool_call"]["payload"]["toolName"] == "get_weather"
    assert tool["tool_response"]["payload"]["result"] == {"temp": 24}
    step = by_span(events, CHILD)["custom"]["payload"]
    assert step == {"type": "chain_step", "data": {"name": "pick_city", "stepType": "task", "durationMs": 1900}}


def test_c37_execute_tool_ok_and_error() -> None:
    events = load("agent_tree")["expected"]
    ok = by_span(events, CHILD2)
    assert set(ok) == {"tool_call", "tool_response"}
    assert ok["tool_call"]["payload"] == {"toolName": "web_search", "callId": "call_a", "arguments": {"q": "otel"}}
    failed = by_span(events, GRANDCHILD)
    assert set(failed) == {"tool_call", "tool_error"}
    assert failed["tool_error"]["severity"] == "error"
    assert failed["tool_error"]["payload"]["error"] == "timed out after 1s"
    assert failed["tool_error"]["payload"]["errorCode"] == "TimeoutError"


def test_c38_agent_root_after_children() -> None:
    together = load("agent_tree")["expected"]
    assert {e["agentId"] for e in together} == {"researcher"}
    assert {e["sessionId"] for e in together} == {f"trace-{TRACE}"}
    types = [e["eventType"] for e in together]
    assert types.count("session_started") == 1 and types.count("session_ended") == 1
    ended = next(e for e in together if e["eventType"] == "session_ended")
    assert ended["timestamp"] == "2025-11-27T09:40:03.000000Z"  # the root span's end
    # exported in two requests, children first: the children keep the service.name fallback
    split = load("agent_tree_split")["expected"]
    assert {e["agentId"] for e in split if e["metadata"]["spanId"] != ROOT} == {"research-svc"}
    assert {e["agentId"] for e in split if e["metadata"]["spanId"] == ROOT} == {"researcher"}
    assert {e["sessionId"] for e in split} == {f"trace-{TRACE}"}
    assert sorted(e["id"] for e in split) == sorted(e["id"] for e in together)  # ids ignore attribution


def test_c39_nested_llm_counted_once() -> None:
    events = load("nested_llm")["expected"]
    responses = [e for e in events if e["eventType"] == "llm_response"]
    counted = sum(e["payload"]["usage"]["inputTokens"] for e in responses)
    assert counted == 700 + 100
    expected_cost = (700 * 2.5 + 70 * 10 + 100 * 2.5 + 10 * 10) / 1e6
    assert sum(e["payload"]["costUsd"] for e in responses) == pytest.approx(expected_cost)
    wrapper = by_span(events, ROOT)["llm_response"]
    assert wrapper["metadata"]["costSource"] == "nested"
    assert wrapper["payload"]["nestedUsage"]["inputTokens"] == 700
    late_wrapper = by_span(events, GRANDCHILD)["llm_response"]  # its child came in an earlier request
    assert late_wrapper["payload"]["usage"]["inputTokens"] == 0
    assert late_wrapper["metadata"]["traceId"] == TRACE2


def test_c40_old_and_new_token_names_not_added() -> None:
    events = load("tokens_old_and_new")["expected"]
    both = by_span(events, ROOT)["llm_response"]["payload"]
    assert both["usage"] == {"inputTokens": 100, "outputTokens": 20, "totalTokens": 120}
    unknown = by_span(events, CHILD)["llm_response"]
    assert unknown["payload"]["costUsd"] == 0
    assert unknown["metadata"]["costSource"] == "unknown"


def test_claude_code_logs_and_cost_metric() -> None:
    events = load("claude_code")["expected"]
    types = [e["eventType"] for e in events]
    assert types == ["custom", "llm_call", "llm_response", "tool_call", "tool_response", "tool_call",
                     "tool_error", "tool_error", "custom", "custom"]
    assert {e["sessionId"] for e in events} == {"cc-session-1"}
    assert {e["agentId"] for e in events} == {"claude-code"}
    call = events[1]["payload"]
    assert call["messages"] == [{"role": "user", "content": "fix the failing test"}]  # from user_prompt
    response = events[2]["payload"]
    assert response["costUsd"] == 0.0421 and response["latencyMs"] == 2350
    assert response["usage"]["cacheReadTokens"] == 8000
    assert events[6]["payload"]["error"] == "denied: reject"
    # the cost metric repeats the logged per-call costs: kept as a metric point, not counted again
    assert [e["payload"]["type"] for e in events[-2:]] == ["otlp_metric", "otlp_metric"]
    assert all(e["metadata"]["costCountedBy"] == "logs" for e in events[-2:])


def test_cost_metrics_without_logs() -> None:
    events = load("metrics")["expected"]
    costs = [e["payload"]["costUsd"] for e in events if e["eventType"] == "cost_tracked"]
    assert costs == [0.5, 0.25, 0.1, 1.25]  # cumulative -> deltas, then a reset, then a gauge
    kinds = [e["payload"]["data"]["kind"] for e in events if e["eventType"] == "custom"]
    assert kinds == ["histogram", "gauge"]  # exponential histograms, summaries: accepted, not mapped


# ------------------------------------------------------------------ through the server


@pytest.mark.parametrize("mapper", ["thread", "process"])
@pytest.mark.parametrize("name", ["agent_tree", "claude_code", "genai_v136_with_logs", "metrics"])
async def test_golden_fixture_through_the_server(make_otlp_client: OtlpClientFactory, name: str, mapper: str) -> None:
    """Every request of the fixture in turn, mapped on the server's thread or in its mapper process
    (whose memo must carry what one request leaves for the next: parent spans, logged content,
    committed metric series)."""
    otlp_client = await make_otlp_client(otlp_mapper=mapper)
    fixture = load(name)
    for request in fixture["requests"]:
        resp = await otlp_client.post(f"/v1/{request['signal']}", data=to_protobuf(request["body"], request["signal"]),
                                      headers={"Content-Type": "application/x-protobuf"})
        assert resp.status == 200
    stored = await all_events(otlp_client)
    keys = ("id", "timestamp", "sessionId", "agentId", "eventType", "severity", "payload", "metadata")
    assert sorted(({k: e[k] for k in keys} for e in stored), key=lambda e: e["id"]) == \
        sorted(fixture["expected"], key=lambda e: e["id"])
    for session in {e["sessionId"] for e in stored}:
        verify = await (await otlp_client.get(f"/api/sessions/{session}/verify")).json()
        assert verify["valid"] is True


def test_cumulative_cost_deltas_use_committed_values_only() -> None:
    """A request whose events were not committed (503) must not move the series forward."""
    from collector.mapping.otlp_memo import OtlpMemo
    from tests.otlp.builders import SECOND, T0, events_of, map_doc, point, sum_metric

    memo = OtlpMemo()

    def cost(value: float, at: int) -> tuple[float, Any]:
        doc = sum_metric("claude_code.cost.usage", [point(value, {"session.id": "s"}, time=T0 + at * SECOND,
                                                          start=T0)], temporality=2)
        result = map_doc(doc, "metrics", memo=memo)
        return events_of(result)[0]["payload"]["costUsd"], result

    first, result = cost(0.5, 10)
    assert first == 0.5
    assert cost(0.75, 20)[0] == 0.75  # nothing committed yet: the whole cumulative value
    memo.commit_series(result.series_updates)  # the first request committed
    later, result = cost(0.75, 20)
    assert later == 0.25
