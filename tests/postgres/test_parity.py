"""The same API requests give the same answers on SQLite and PostgreSQL (byte for byte, volatile fields aside).

Client ids and explicit timestamps make everything deterministic (ids, hashes, order), so any
difference is a dialect leaking through: collation, case folding, float or integer arithmetic,
NULL handling, tie-breaking.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.postgres

# ids that sort differently under a language-aware collation than by code point
SESSIONS = ("alpha", "Beta", "_under", "a-b", "Ärger", "zz")
AGENTS = ("agent-b", "Agent-A", "agent_c")
T = "2026-11-27T10:00:{:02d}.{:03d}Z"
VOLATILE = frozenset({"latencyMs", "storageSizeBytes", "id_rule", "createdAt", "updatedAt", "idle"})


def _events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    n = 0

    def add(session: str, agent: str, etype: str, payload: dict[str, Any], *, second: int,
            severity: str | None = None, ms: int = 0) -> None:
        nonlocal n
        event: dict[str, Any] = {
            "id": f"ev-{n:03d}-s{SESSIONS.index(session)}", "sessionId": session, "agentId": agent, "eventType": etype,
            "timestamp": T.format(second, ms), "payload": payload, "metadata": {"k": n, "Zeta": True, "a": [1.5]},
        }
        if severity:
            event["severity"] = severity
        out.append(event)
        n += 1

    for i, sid in enumerate(SESSIONS):
        agent = AGENTS[i % len(AGENTS)]
        add(sid, agent, "session_started", {"agentName": f"Name {agent}", "tags": ["prod", f"t{i % 2}"]}, second=i)
        # several events share one timestamp: ties are broken by id
        add(sid, agent, "tool_call", {"toolName": "Search", "callId": f"c{i}", "arguments": {"q": "HeLLo 100%"}},
            second=10)
        add(sid, agent, "tool_response", {"callId": f"c{i}", "toolName": "Search", "durationMs": 10.25 * (i + 1)},
            second=10)
        add(sid, agent, "tool_error", {"callId": f"d{i}", "toolName": "x_y", "error": "boom", "durationMs": 3},
            second=11, severity="error")
        add(sid, agent, "llm_response", {
            "callId": f"l{i}", "provider": "openai", "model": "gpt-4o", "completion": "Ärger ärger",
            "finishReason": "stop", "usage": {"inputTokens": 100 + i, "outputTokens": 7, "totalTokens": 107 + i},
            "costUsd": 0.1 + i / 3, "latencyMs": 812.5,
        }, second=12, ms=i)
        add(sid, agent, "cost_tracked", {"provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 2,
                                         "totalTokens": 3, "costUsd": 1e-7}, second=13)
        if i % 2:
            add(sid, agent, "session_ended", {"reason": "error" if i == 3 else "completed"}, second=20)
    return out


READS = (
    "/api/events?limit=500",
    "/api/events?order=asc&limit=7&offset=3",
    "/api/events?eventType=tool_call,tool_error&severity=error,info",
    "/api/events?search=hello",        # ASCII case folding
    "/api/events?search=%C3%A4rger",   # non-ASCII: no folding on either side
    "/api/events?search=100%25",       # a literal %
    "/api/events?search=x_y",          # a literal _
    "/api/events?agentId=Agent-A&from=2026-11-27T10:00:10Z&to=2026-11-27T10:00:12.002Z",
    "/api/events?countOnly=true",
    "/api/sessions",
    "/api/sessions?status=completed,error",
    "/api/sessions?tags=t1&limit=2&offset=1",
    "/api/sessions/%C3%84rger",
    "/api/sessions/_under/timeline",
    "/api/sessions/_under/timeline?limit=2&after=ev-014-s2",
    "/api/sessions/zz/verify",
    "/api/agents",
    "/api/agents/Agent-A",
    "/api/stats",
    "/api/analytics?from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z&granularity=hour",
    "/api/analytics?from=2026-11-20T00:00:00Z&to=2026-11-28T00:00:00Z&granularity=week",
    "/api/analytics/costs?from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z",
    "/api/analytics/tools?from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z",
    "/api/analytics/llm?from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z",
    "/api/analytics/agents?from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z",
    "/api/events/ev-003-s0",
    "/api/events/missing",
)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


async def _answers(client: Any) -> list[tuple[str, int, Any]]:
    resp = await client.post("/api/events", json={"events": _events()})
    assert resp.status == 201, await resp.text()
    again = await client.post("/api/events", json={"events": _events()[:5]})  # duplicates
    out: list[tuple[str, int, Any]] = [("POST", resp.status, await resp.json()), ("POST again", again.status,
                                                                                    await again.json())]
    for path in READS:
        r = await client.get(path)
        body = await r.json() if r.content_type == "application/json" else await r.text()
        out.append((path, r.status, _strip(body)))
    return out


async def test_same_requests_same_answers(make_store: Callable[..., Any], make_client: Callable[..., Any]) -> None:
    lite = await make_client(await make_store("sqlite"))
    pg = await make_client(await make_store("postgresql"))
    lite_answers, pg_answers = await _answers(lite), await _answers(pg)
    assert [a[0] for a in pg_answers] == [a[0] for a in lite_answers]
    for lite_answer, pg_answer in zip(lite_answers, pg_answers, strict=True):
        assert pg_answer == lite_answer, lite_answer[0]
    # the comparison is meaningful: the reads found data
    found = dict((path, body) for path, _, body in lite_answers)
    assert len(found["/api/events?limit=500"]["events"]) == len(_events())
    assert found["/api/events?search=hello"]["total"] == len(SESSIONS)
    assert found["/api/events?search=%C3%A4rger"]["total"] == len(SESSIONS)  # matches "ärger", not only "Ärger"
