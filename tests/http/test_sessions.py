"""GET /api/sessions, /api/sessions/{id}, its timeline (whole, paged, streamed) and /verify."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from store.interface import Store
from tests.store.builders import custom as store_custom
from tests.store.rawsql import tamper_event
from tests.support import custom_event

Client = TestClient[Any, Any]
SESSION_KEYS = ["id", "agentId", "agentName", "startedAt", "endedAt", "status", "idle", "eventCount",
                "toolCallCount", "errorCount", "totalCostUsd", "llmCallCount", "totalInputTokens",
                "totalOutputTokens", "tags", "tenantId"]


async def post(client: Client, *events: dict[str, Any]) -> list[str]:
    resp = await client.post("/api/events", json={"events": list(events)})
    assert resp.status == 201, await resp.text()
    return [e["id"] for e in (await resp.json())["events"]]


async def get(client: Client, path: str, status: int = 200) -> dict[str, Any]:
    resp = await client.get(path)
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    return body


def started(session: str, at: str, *, agent: str = "a", name: str | None = None, tags: list[str] | None = None,
            **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if name is not None:
        payload["agentName"] = name
    if tags is not None:
        payload["tags"] = tags
    return {"sessionId": session, "agentId": agent, "eventType": "session_started", "timestamp": at,
            "payload": payload, **extra}


def ended(session: str, at: str, reason: str = "completed", agent: str = "a") -> dict[str, Any]:
    return {"sessionId": session, "agentId": agent, "eventType": "session_ended", "timestamp": at,
            "payload": {"reason": reason}}


async def session_ids(client: Client, query: str = "") -> list[str]:
    body = await get(client, "/api/sessions" + query)
    return [s["id"] for s in body["sessions"]]


async def seed(client: Client) -> None:
    await post(
        client,
        started("old-prod", "2026-01-01T10:00:00Z", agent="a", name="Bot A", tags=["prod", "eu"]),
        started("done", "2026-01-02T10:00:00Z", agent="b", tags=["production"]),
        ended("done", "2026-01-02T10:05:00Z", agent="b"),
        started("failed", "2026-01-03T10:00:00Z", agent="a", tags=["dev"]),
        ended("failed", "2026-01-03T10:01:00Z", "error"),
        custom_event("live", 0, agentId="b"),   # server time: now, so not idle
    )


async def test_list_shape_and_order(client: Client) -> None:
    await seed(client)
    body = await get(client, "/api/sessions")
    assert list(body) == ["sessions", "total", "hasMore"]
    assert [s["id"] for s in body["sessions"]] == ["live", "failed", "done", "old-prod"]
    assert (body["total"], body["hasMore"]) == (4, False)
    assert all(list(s) == SESSION_KEYS for s in body["sessions"])


async def test_session_detail(client: Client) -> None:
    await seed(client)
    await post(client, {"sessionId": "old-prod", "agentId": "a", "eventType": "tool_call",
                        "timestamp": "2026-01-01T10:01:00Z",
                        "payload": {"toolName": "search", "callId": "c", "arguments": {}}})
    body = await get(client, "/api/sessions/old-prod")
    assert list(body) == SESSION_KEYS
    assert body == {
        "id": "old-prod", "agentId": "a", "agentName": "Bot A", "startedAt": "2026-01-01T10:00:00Z",
        "endedAt": None, "status": "active", "idle": True, "eventCount": 2, "toolCallCount": 1, "errorCount": 0,
        "totalCostUsd": 0, "llmCallCount": 0, "totalInputTokens": 0, "totalOutputTokens": 0,
        "tags": ["prod", "eu"], "tenantId": "default",
    }
    live = await get(client, "/api/sessions/live")
    assert (live["status"], live["idle"]) == ("active", False)
    failed = await get(client, "/api/sessions/failed")
    assert (failed["status"], failed["idle"], failed["endedAt"]) == ("error", False, "2026-01-03T10:01:00Z")


async def test_unknown_session_is_404(client: Client) -> None:
    for path in ("/api/sessions/nope", "/api/sessions/nope/timeline", "/api/sessions/nope/verify"):
        assert await get(client, path, status=404) == {"error": "Session not found", "status": 404}


@pytest.mark.parametrize(("query", "expected"), [
    ("?agentId=a", ["failed", "old-prod"]),
    ("?status=idle", ["old-prod"]),
    ("?status=active", ["live"]),
    ("?status=active,idle", ["live", "old-prod"]),
    ("?status=completed", ["done"]),
    ("?status=error,completed", ["failed", "done"]),
    ("?tags=prod", ["old-prod"]),
    ("?tags=prod,dev", ["failed", "old-prod"]),
    ("?tags=pro", []),
    ("?from=2026-01-02T10:00:00Z&to=2026-01-03T10:00:00Z", ["failed", "done"]),
    ("?to=1767261600000", ["old-prod"]),                      # 2026-01-01T10:00:00Z in ms, inclusive
    ("?agentId=b&status=active", ["live"]),
])
async def test_filters(client: Client, query: str, expected: list[str]) -> None:
    await seed(client)
    assert await session_ids(client, query) == expected
    sep = "&" if query else "?"
    assert await get(client, f"/api/sessions{query}{sep}countOnly=true") == {"count": len(expected)}


async def test_invalid_status_or_time_is_400(client: Client) -> None:
    for query in ("?status=sleeping", "?from=not-a-time"):
        body = await get(client, "/api/sessions" + query, status=400)
        assert body["status"] == 400


async def test_paging(client: Client) -> None:
    await post(client, *(custom_event(f"s{i}", i, timestamp=f"2026-11-27T10:00:0{i}Z") for i in range(5)))
    body = await get(client, "/api/sessions?limit=2")
    assert ([s["id"] for s in body["sessions"]], body["total"], body["hasMore"]) == (["s4", "s3"], 5, True)
    body = await get(client, "/api/sessions?limit=2&offset=4")
    assert ([s["id"] for s in body["sessions"]], body["hasMore"]) == (["s0"], False)
    assert await session_ids(client, "?limit=-3") == ["s4"]
    assert await session_ids(client, "?limit=0&offset=-1") == ["s4", "s3", "s2", "s1", "s0"]
    assert await get(client, "/api/sessions?countOnly=true&limit=1") == {"count": 5}


async def test_timeline(client: Client) -> None:
    same = "2026-11-27T10:00:01Z"
    await post(
        client,
        custom_event("s1", 0, id="late", timestamp="2026-11-27T10:00:09Z"),
        custom_event("s1", 1, id="b", timestamp=same),
        custom_event("s1", 2, id="a", timestamp=same),
        custom_event("s1", 3, id="first", timestamp="2026-11-27T09:00:00Z"),
        custom_event("other", 4, id="o"),
    )
    body = await get(client, "/api/sessions/s1/timeline")
    assert list(body) == ["events", "chainValid", "chained"]
    assert [e["id"] for e in body["events"]] == ["first", "a", "b", "late"]  # time asc, then id asc
    assert (body["chainValid"], body["chained"]) == (True, True)


async def test_timeline_pages_with_limit_and_after(client: Client) -> None:
    await post(client, *(custom_event("s1", i, id=f"e{i}", timestamp=f"2026-11-27T10:00:0{i}Z") for i in range(5)))
    page = await get(client, "/api/sessions/s1/timeline?limit=2")
    assert [e["id"] for e in page["events"]] == ["e0", "e1"]
    assert (page["hasMore"], page["nextAfter"], page["chainValid"], page["chained"]) == (True, "e1", True, True)
    seen: list[str] = []
    after = ""
    while True:
        page = await get(client, f"/api/sessions/s1/timeline?limit=2&after={after}")
        seen += [e["id"] for e in page["events"]]
        if not page["hasMore"]:
            break
        after = page["nextAfter"]
    assert seen == [f"e{i}" for i in range(5)]
    tail = await get(client, "/api/sessions/s1/timeline?after=e2")
    assert [e["id"] for e in tail["events"]] == ["e3", "e4"]
    empty = await get(client, "/api/sessions/s1/timeline?after=unknown")
    assert (empty["events"], empty["hasMore"]) == ([], False)


async def test_long_timeline_is_complete_and_ordered(client: Client) -> None:
    for start in (0, 1000):
        await post(client, *(custom_event("long", i, id=f"e{i:04d}", timestamp="2026-11-27T10:00:00Z")
                             for i in range(start, start + 1000)))
    await post(client, custom_event("long", 2000, id="e2000", timestamp="2026-11-27T10:00:00Z"))
    resp = await client.get("/api/sessions/long/timeline")
    assert resp.status == 200 and resp.content_type == "application/json"
    body = await resp.json()
    assert [e["id"] for e in body["events"]] == [f"e{i:04d}" for i in range(2001)]
    assert (body["chainValid"], body["chained"]) == (True, True)


async def test_verify(client: Client) -> None:
    await post(client, *(custom_event("s1", i) for i in range(3)))
    assert await get(client, "/api/sessions/s1/verify") == {
        "valid": True, "failedAtSeq": None, "reason": None, "eventCount": 3, "anchored": False}


async def test_tampering_shows_in_timeline_and_verify(client: Client, store: Store) -> None:
    ids = await post(client, *(custom_event("s1", i, timestamp=f"2026-11-27T10:00:0{i}Z") for i in range(3)))
    await tamper_event(store, "default", ids[1], "payload", '{"type":"test","data":{"i":42}}')
    body = await get(client, "/api/sessions/s1/verify")
    assert (body["valid"], body["failedAtSeq"], body["anchored"]) == (False, 1, False)
    assert "hash mismatch" in body["reason"]
    timeline = await get(client, "/api/sessions/s1/timeline")
    assert timeline["chainValid"] is False
    assert timeline["events"][1]["payload"]["data"]["i"] == 42


async def test_another_tenants_sessions_are_unknown(client: Client, store: Store) -> None:
    await store.insert_events([store_custom("theirs", tenant="other")])
    for path in ("/api/sessions/theirs", "/api/sessions/theirs/timeline", "/api/sessions/theirs/verify"):
        await get(client, path, status=404)
    assert await get(client, "/api/sessions") == {"sessions": [], "total": 0, "hasMore": False}
