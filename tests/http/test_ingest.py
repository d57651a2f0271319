"""POST /api/events happy path: the 201 shape, ids, chaining, duplicates, atomicity and ordering."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from store.interface import Store
from store.model import EventQuery
from tests.support import custom_event

ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
SERVER_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
Client = TestClient[Any, Any]


def event(session: str, i: int, **extra: Any) -> dict[str, Any]:
    return custom_event(session, i, **extra)


async def post(client: Client, *events: dict[str, Any], status: int = 201) -> dict[str, Any]:
    resp = await client.post("/api/events", json={"events": list(events)})
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    return body


async def timeline(client: Client, session: str) -> dict[str, Any]:
    resp = await client.get(f"/api/sessions/{session}/timeline")
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


async def test_201_shape_and_server_ids(client: Client) -> None:
    body = await post(client, event("s1", 0), event("s1", 1), event("s2", 2))
    assert list(body) == ["ingested", "duplicates", "events"]
    assert (body["ingested"], body["duplicates"]) == (3, 0)
    assert all(list(e) == ["id", "hash"] for e in body["events"])
    ids = [e["id"] for e in body["events"]]
    assert all(ULID.fullmatch(i) for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 3  # monotonic, even within one millisecond
    assert all(re.fullmatch(r"[0-9a-f]{64}", e["hash"]) for e in body["events"])


async def test_response_means_committed(client: Client) -> None:
    body = await post(client, event("s1", 0, timestamp="2026-11-27T10:00:00Z"))
    (entry,) = body["events"]
    resp = await client.get(f"/api/events/{entry['id']}")
    assert resp.status == 200
    stored = await resp.json()
    assert (stored["hash"], stored["sessionId"], stored["tenantId"]) == (entry["hash"], "s1", "default")


async def test_hashes_chain_within_a_session_and_across_requests(client: Client) -> None:
    first = await post(client, *(event("s1", i, timestamp=f"2026-11-27T10:00:0{i}Z") for i in range(3)))
    second = await post(client, event("s1", 3, timestamp="2026-11-27T10:00:05Z"))
    tl = await timeline(client, "s1")
    events = tl["events"]
    assert [e["hash"] for e in events] == [e["hash"] for e in first["events"] + second["events"]]
    assert events[0]["prevHash"] is None
    assert [e["prevHash"] for e in events[1:]] == [e["hash"] for e in events[:-1]]
    assert tl["chainValid"] is True and tl["chained"] is True


async def test_sessions_have_their_own_chains(client: Client) -> None:
    await post(client, event("a", 0), event("b", 0), event("a", 1), event("b", 1))
    for session in ("a", "b"):
        events = (await timeline(client, session))["events"]
        assert events[0]["prevHash"] is None and events[1]["prevHash"] == events[0]["hash"]


async def test_processing_order_sessions_by_first_appearance_then_by_time(client: Client) -> None:
    body = await post(
        client,
        event("s2", 0, id="s2-late", timestamp="2026-11-27T10:00:09Z"),
        event("s1", 1, id="s1-late", timestamp="2026-11-27T10:00:05Z"),
        event("s2", 2, id="s2-early", timestamp="2026-11-27T10:00:01Z"),
        event("s1", 3, id="s1-early", timestamp="2026-11-27T10:00:00Z"),
        event("s2", 4, id="s2-mid", timestamp="2026-11-27T10:00:05Z"),
    )
    assert [e["id"] for e in body["events"]] == ["s2-early", "s2-mid", "s2-late", "s1-early", "s1-late"]
    chain = (await timeline(client, "s2"))["events"]
    assert [e["id"] for e in chain] == ["s2-early", "s2-mid", "s2-late"]
    assert chain[1]["prevHash"] == chain[0]["hash"]


async def test_sorting_uses_the_instant_and_ties_keep_request_order(client: Client) -> None:
    body = await post(
        client,
        event("s1", 0, id="plus2", timestamp="2026-11-27T12:00:00.5+02:00"),   # 10:00:00.5Z
        event("s1", 1, id="tie-first", timestamp="2026-11-27T10:00:00.25Z"),
        event("s1", 2, id="whole", timestamp="2026-11-27T10:00:00Z"),
        event("s1", 3, id="tie-second", timestamp="2026-11-27T10:00:00.250Z"),
    )
    assert [e["id"] for e in body["events"]] == ["whole", "tie-first", "tie-second", "plus2"]
    events = (await timeline(client, "s1"))["events"]
    by_id = {e["id"]: e for e in events}
    assert by_id["plus2"]["timestamp"] == "2026-11-27T12:00:00.5+02:00"  # kept verbatim
    assert by_id["tie-second"]["prevHash"] == by_id["tie-first"]["hash"]
    assert by_id["plus2"]["prevHash"] == by_id["tie-second"]["hash"]


async def test_server_ids_increase_along_the_chain(client: Client) -> None:
    body = await post(
        client,
        event("s1", 0, timestamp="2026-11-27T10:00:03Z"),
        event("s1", 1, timestamp="2026-11-27T10:00:01Z"),
        event("s1", 2, timestamp="2026-11-27T10:00:02Z"),
    )
    ids = [e["id"] for e in body["events"]]
    assert ids == sorted(ids)
    assert [e["id"] for e in (await timeline(client, "s1"))["events"]] == ids


async def test_defaults_and_server_time(client: Client) -> None:
    body = await post(client, event("s1", 0), event("s1", 1))
    events = (await timeline(client, "s1"))["events"]
    assert [e["id"] for e in events] == [e["id"] for e in body["events"]]
    for e in events:
        assert e["severity"] == "info" and e["metadata"] == {} and e["tenantId"] == "default"
        assert SERVER_TIME.fullmatch(e["timestamp"]), e["timestamp"]
    assert events[0]["timestamp"] == events[1]["timestamp"]


async def test_tenant_comes_from_the_caller_not_the_body(client: Client, store: Store) -> None:
    body = await post(client, event("s1", 0, tenantId="evil", hash="0" * 64, prevHash="1" * 64))
    (entry,) = body["events"]
    stored = await store.get_event("default", entry["id"])
    assert stored is not None and stored.prev_hash is None and stored.hash == entry["hash"] != "0" * 64
    assert await store.count_events("evil", EventQuery()) == 0


async def test_client_ids_make_a_retry_idempotent(client: Client) -> None:
    batch = [
        {"id": "run-1:0", "sessionId": "s1", "agentId": "a", "eventType": "cost_tracked", "payload": {
            "provider": "p", "model": "m", "inputTokens": 1, "outputTokens": 2, "totalTokens": 3, "costUsd": 0.5}},
        event("s1", 1, id="run-1:1", severity="error"),
    ]
    first = await post(client, *batch)
    assert (first["ingested"], first["duplicates"]) == (2, 0)
    assert [e["id"] for e in first["events"]] == ["run-1:0", "run-1:1"]
    assert all("duplicate" not in e for e in first["events"])
    retry = await post(client, *batch)
    assert (retry["ingested"], retry["duplicates"]) == (0, 2)
    assert retry["events"] == [{**e, "duplicate": True} for e in first["events"]]
    session = await (await client.get("/api/sessions/s1")).json()
    assert (session["eventCount"], session["errorCount"], session["totalCostUsd"]) == (2, 1, 0.5)
    stats = await (await client.get("/api/stats")).json()
    assert stats["totalEvents"] == 2
    assert (await timeline(client, "s1"))["chainValid"] is True


async def test_client_id_repeated_inside_one_batch(client: Client) -> None:
    body = await post(
        client,
        event("s1", 0, id="dup", timestamp="2026-11-27T10:00:00Z"),
        event("s1", 1, id="dup", timestamp="2026-11-27T10:00:01Z"),
        event("s1", 2, id="other", timestamp="2026-11-27T10:00:02Z"),
    )
    assert (body["ingested"], body["duplicates"]) == (2, 1)
    first, again, other = body["events"]
    assert again == {"id": "dup", "hash": first["hash"], "duplicate": True}
    events = (await timeline(client, "s1"))["events"]
    assert [e["id"] for e in events] == ["dup", "other"]
    assert events[0]["payload"]["data"]["i"] == 0
    assert events[1]["prevHash"] == first["hash"] and events[1]["hash"] == other["hash"]


async def test_a_retry_mixed_with_new_events(client: Client) -> None:
    await post(client, event("s1", 0, id="e0", timestamp="2026-11-27T10:00:00Z"))
    body = await post(client, event("s1", 0, id="e0", timestamp="2026-11-27T10:00:00Z"),
                      event("s1", 1, id="e1", timestamp="2026-11-27T10:00:01Z"))
    assert (body["ingested"], body["duplicates"]) == (1, 1)
    assert [e.get("duplicate", False) for e in body["events"]] == [True, False]
    events = (await timeline(client, "s1"))["events"]
    assert [e["id"] for e in events] == ["e0", "e1"]
    assert events[1]["prevHash"] == events[0]["hash"]


async def test_an_invalid_event_rejects_the_whole_batch(client: Client, store: Store) -> None:
    good = event("s1", 0)
    bad = {"sessionId": "s2", "agentId": "a", "eventType": "tool_call", "payload": {"callId": "c"}}
    resp = await client.post("/api/events", json={"events": [good, bad, event("s3", 2)]})
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "Validation failed"
    assert {d["path"] for d in body["details"]} >= {"events.1.payload.toolName"}
    assert await store.count_events("default", EventQuery()) == 0
    assert (await (await client.get("/api/sessions")).json())["total"] == 0


async def test_a_multi_session_batch_is_committed_together(client: Client) -> None:
    body = await post(client, *(event(f"s{i % 3}", i) for i in range(9)))
    assert body["ingested"] == 9
    sessions = (await (await client.get("/api/sessions")).json())["sessions"]
    assert sorted((s["id"], s["eventCount"]) for s in sessions) == [("s0", 3), ("s1", 3), ("s2", 3)]


async def test_json_content_type_with_parameters_is_accepted(client: Client) -> None:
    resp = await client.post("/api/events", data=b'{"events":[{"sessionId":"s","agentId":"a","eventType":"custom",'
                             b'"payload":{"type":"t","data":{}}}]}',
                             headers={"Content-Type": "application/json; charset=utf-8"})
    assert resp.status == 201
    assert (await resp.json())["ingested"] == 1


async def test_a_full_batch_of_1000(client: Client) -> None:
    body = await post(client, *(event("big", i, id=f"e{i:04d}") for i in range(1000)))
    assert body["ingested"] == 1000 and len(body["events"]) == 1000
    verify = await (await client.get("/api/sessions/big/verify")).json()
    assert verify == {"valid": True, "failedAtSeq": None, "reason": None, "eventCount": 1000, "anchored": False}
