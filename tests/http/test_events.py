"""GET /api/events and /api/events/{id}: shape, filters, search, clamping, paging, ordering, 404s."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from store.interface import Store
from tests.store.builders import custom as store_custom
from tests.store.rawsql import tamper_event
from tests.support import custom_event

Client = TestClient[Any, Any]
EVENT_KEYS = ["id", "timestamp", "sessionId", "agentId", "eventType", "severity", "payload", "metadata",
              "prevHash", "hash", "tenantId"]


async def post(client: Client, *events: dict[str, Any]) -> list[str]:
    resp = await client.post("/api/events", json={"events": list(events)})
    assert resp.status == 201, await resp.text()
    return [e["id"] for e in (await resp.json())["events"]]


async def get(client: Client, query: str = "", status: int = 200) -> dict[str, Any]:
    resp = await client.get("/api/events" + query)
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    return body


async def ids(client: Client, query: str) -> list[str]:
    return [e["id"] for e in (await get(client, query))["events"]]


def ev(i: int, session: str = "s1", **extra: Any) -> dict[str, Any]:
    return custom_event(session, i, id=f"e{i}", timestamp=f"2026-11-27T10:00:{i:02d}Z", **extra)


async def seed(client: Client) -> None:
    await post(
        client,
        ev(0, agentId="a"),
        ev(1, agentId="a", eventType="tool_call", payload={"toolName": "search", "callId": "c", "arguments": {}}),
        ev(2, "s2", agentId="b", severity="error", eventType="tool_error",
           payload={"callId": "c", "toolName": "t", "error": "Connection timeout", "durationMs": 1}),
        ev(3, "s2", agentId="b", severity="warn"),
        ev(4, "s3", agentId="a", severity="critical"),
    )


async def test_list_shape_and_default_order(client: Client) -> None:
    await seed(client)
    body = await get(client)
    assert list(body) == ["events", "total", "hasMore"]
    assert (body["total"], body["hasMore"]) == (5, False)
    assert [e["id"] for e in body["events"]] == ["e4", "e3", "e2", "e1", "e0"]
    assert all(list(e) == EVENT_KEYS for e in body["events"])
    assert await ids(client, "?order=asc") == ["e0", "e1", "e2", "e3", "e4"]
    assert await ids(client, "?order=DESC") == ["e4", "e3", "e2", "e1", "e0"]


async def test_payload_and_metadata_are_returned_verbatim(client: Client) -> None:
    await post(client, custom_event("s1", 0, id="v", payload={"type": "t", "data": {"b": 1, "a": 2.50, "1": "x"}},
                                    metadata={"z": 1, "a": [1.0]}))
    resp = await client.get("/api/events/v")
    text = await resp.text()
    assert '"payload":{"type":"t","data":{"1":"x","b":1,"a":2.5}}' in text
    assert '"metadata":{"z":1,"a":[1]}' in text


async def test_filters(client: Client) -> None:
    await seed(client)
    assert await ids(client, "?sessionId=s2") == ["e3", "e2"]
    assert await ids(client, "?agentId=a") == ["e4", "e1", "e0"]
    assert await ids(client, "?eventType=tool_call") == ["e1"]
    assert await ids(client, "?eventType=tool_call,tool_error") == ["e2", "e1"]
    assert await ids(client, "?severity=error,critical") == ["e4", "e2"]
    assert await ids(client, "?severity=warn") == ["e3"]
    assert await ids(client, "?agentId=a&severity=info&eventType=custom") == ["e0"]
    assert await ids(client, "?sessionId=nope") == []
    assert await ids(client, "?eventType=not_a_type") == []


@pytest.mark.parametrize(("query", "expected"), [
    ("?from=2026-11-27T10:00:01Z&to=2026-11-27T10:00:03Z", ["e3", "e2", "e1"]),        # inclusive
    ("?from=2026-11-27T12:00:03%2B02:00", ["e4", "e3"]),                                # offset
    ("?to=2026-11-27T10:00:00.999Z", ["e0"]),
    ("?from=1795773602000&to=1795773602000", ["e2"]),                                   # unix milliseconds
    ("?from=2026-11-27T10:00:05Z", []),
])
async def test_time_range(client: Client, query: str, expected: list[str]) -> None:
    await seed(client)
    assert await ids(client, query) == expected


async def test_invalid_parameters_answer_400(client: Client) -> None:
    for query in ("?from=yesterday", "?to=2026-13-01", "?order=sideways"):
        body = await get(client, query, status=400)
        assert body["status"] == 400 and body["error"].startswith("Invalid")


async def test_search(client: Client) -> None:
    await seed(client)
    await post(
        client,
        ev(10, payload={"type": "t", "data": {"v": "100% sure"}}),
        ev(11, payload={"type": "t", "data": {"v": "100 percent"}}),
        ev(12, payload={"type": "t", "data": {"v": "snake_case"}}),
        ev(13, payload={"type": "t", "data": {"v": "snakeXcase"}}),
        ev(14, payload={"type": "t", "data": {"v": "C:\\dir"}}),
        ev(15, payload={"type": "t", "data": {"v": "C:dir"}}, metadata={"note": "timeout"}),
    )
    assert await ids(client, "?search=timeout") == ["e2"]
    assert await ids(client, "?search=TIMEOUT") == ["e2"]
    assert await ids(client, "?search=100%25") == ["e10"]
    assert await ids(client, "?search=snake_case") == ["e12"]
    assert await ids(client, "?search=C:%5C%5Cdir") == ["e14"]   # the JSON text holds C:\\dir
    assert await ids(client, "?search=%25") == ["e10"]


async def test_search_is_truncated_to_500_characters(client: Client) -> None:
    await post(client, ev(0, payload={"type": "t", "data": {"v": "x" * 500}}))
    assert await ids(client, "?search=" + "x" * 500 + "y" * 100) == ["e0"]
    assert await ids(client, "?search=" + "x" * 499 + "y") == []


async def test_exclude_metrics(client: Client) -> None:
    await post(client, ev(0, metadata={"source": "otlp_metric"}), ev(1, metadata={"source": "otlp"}), ev(2))
    assert await ids(client, "?excludeMetrics=true") == ["e2", "e1"]
    assert await ids(client, "?excludeMetrics=false") == ["e2", "e1", "e0"]


async def test_ties_are_broken_by_id(client: Client) -> None:
    same = "2026-11-27T10:00:00Z"
    await post(client, *(custom_event("s1", i, id=name, timestamp=same) for i, name in enumerate("bca")))
    assert await ids(client, "?order=asc") == ["a", "b", "c"]
    assert await ids(client, "?order=desc") == ["c", "b", "a"]


async def seed_many(client: Client, n: int) -> None:
    await post(client, *(custom_event("many", i, id=f"m{i:04d}", timestamp="2026-11-27T10:00:00Z")
                         for i in range(n)))


@pytest.mark.parametrize(("limit", "expected"), [
    ("", 50), ("0", 50), ("abc", 50), ("-5", 1), ("1", 1), ("10abc", 10), ("500", 500), ("600", 500),
])
async def test_limit_clamping(client: Client, limit: str, expected: int) -> None:
    await seed_many(client, 501)
    query = f"?limit={limit}" if limit else ""
    body = await get(client, query)
    assert len(body["events"]) == expected
    assert (body["total"], body["hasMore"]) == (501, True)


async def test_offset_and_has_more(client: Client) -> None:
    await seed_many(client, 5)
    assert await ids(client, "?order=asc&limit=2&offset=-10") == ["m0000", "m0001"]
    assert await ids(client, "?order=asc&limit=2&offset=x") == ["m0000", "m0001"]
    body = await get(client, "?order=asc&limit=2&offset=2")
    assert ([e["id"] for e in body["events"]], body["hasMore"]) == (["m0002", "m0003"], True)
    body = await get(client, "?order=asc&limit=2&offset=4")
    assert ([e["id"] for e in body["events"]], body["total"], body["hasMore"]) == (["m0004"], 5, False)
    body = await get(client, "?offset=99")
    assert (body["events"], body["total"], body["hasMore"]) == ([], 5, False)


async def test_get_one_event(client: Client) -> None:
    [event_id] = await post(client, custom_event("s1", 7, severity="warn", timestamp="2026-11-27T10:00:00.5Z"))
    resp = await client.get(f"/api/events/{event_id}")
    assert resp.status == 200
    body = await resp.json()
    assert list(body) == EVENT_KEYS
    assert body["id"] == event_id and body["severity"] == "warn" and body["prevHash"] is None
    assert body["timestamp"] == "2026-11-27T10:00:00.5Z"
    assert body["payload"] == {"type": "test", "data": {"i": 7}}


async def test_unknown_event_is_404(client: Client) -> None:
    resp = await client.get("/api/events/01JD0000000000000000000000")
    assert resp.status == 404
    assert await resp.json() == {"error": "Event not found", "status": 404}


async def test_another_tenants_events_are_unknown(client: Client, store: Store) -> None:
    await store.insert_events([store_custom("s1", tenant="other", event_id="theirs")])
    resp = await client.get("/api/events/theirs")
    assert resp.status == 404
    assert (await get(client))["total"] == 0
    assert (await get(client, "?sessionId=s1"))["events"] == []


@pytest.mark.parametrize("path", ["/api/events/c1", "/api/events", "/api/sessions/s1/timeline"])
async def test_a_corrupt_stored_payload_still_gives_valid_json(client: Client, store: Store, path: str) -> None:
    await post(client, custom_event("s1", 0, id="c1"))
    await tamper_event(store, "default", "c1", "payload", '{"broken')
    resp = await client.get(path)
    assert resp.status == 200
    body = await resp.json()
    event = body if path.endswith("c1") else body["events"][0]
    assert event["payload"] == {}
