"""GET /api/agents, /api/agents/{id}, /api/stats, /api/health (ok and degraded) and /metrics."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from collector import __version__
from store.interface import Store
from tests.store.builders import custom as store_custom
from tests.support import custom_event

Client = TestClient[Any, Any]
AGENT_KEYS = ["id", "name", "description", "firstSeenAt", "lastSeenAt", "sessionCount", "tenantId"]


async def post(client: Client, *events: dict[str, Any]) -> None:
    resp = await client.post("/api/events", json={"events": list(events)})
    assert resp.status == 201, await resp.text()


async def get(client: Client, path: str, status: int = 200) -> dict[str, Any]:
    resp = await client.get(path)
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    return body


def at(agent: str, session: str, timestamp: str, **extra: Any) -> dict[str, Any]:
    return custom_event(session, 0, agentId=agent, timestamp=timestamp, **extra)


async def test_agents_list_and_detail(client: Client) -> None:
    await post(
        client,
        {"sessionId": "s1", "agentId": "bot", "eventType": "session_started", "timestamp": "2026-11-27T10:00:00Z",
         "payload": {"agentName": "Support Bot"}},
        at("bot", "s2", "2026-11-27T10:05:00Z"),
        at("other", "s3", "2026-11-27T10:10:00Z"),
    )
    await post(client, at("bot", "s1", "2026-11-27T10:01:00Z"))   # older than bot's newest event
    body = await get(client, "/api/agents")
    assert list(body) == ["agents"]
    assert [a["id"] for a in body["agents"]] == ["other", "bot"]
    assert all(list(a) == AGENT_KEYS for a in body["agents"])
    bot = await get(client, "/api/agents/bot")
    assert bot == {
        "id": "bot", "name": "Support Bot", "description": None, "firstSeenAt": "2026-11-27T10:00:00Z",
        "lastSeenAt": "2026-11-27T10:05:00Z", "sessionCount": 2, "tenantId": "default",
    }
    await post(client, at("bot", "s4", "2026-11-27T10:20:00Z"))
    body = await get(client, "/api/agents")
    assert [(a["id"], a["sessionCount"]) for a in body["agents"]] == [("bot", 3), ("other", 1)]


async def test_agent_name_defaults_to_its_id(client: Client) -> None:
    await post(client, at("plain", "s1", "2026-11-27T10:00:00Z"))
    assert (await get(client, "/api/agents/plain"))["name"] == "plain"


async def test_unknown_agent_is_404(client: Client) -> None:
    assert await get(client, "/api/agents") == {"agents": []}
    assert await get(client, "/api/agents/nope", status=404) == {"error": "Agent not found", "status": 404}


async def test_another_tenants_agents_are_unknown(client: Client, store: Store) -> None:
    await store.insert_events([store_custom("s", tenant="other", agent="theirs")])
    await get(client, "/api/agents/theirs", status=404)
    assert await get(client, "/api/agents") == {"agents": []}


async def test_stats_of_an_empty_database(client: Client) -> None:
    body = await get(client, "/api/stats")
    assert list(body) == ["totalEvents", "totalSessions", "totalAgents", "storageSizeBytes"]
    assert (body["totalEvents"], body["totalSessions"], body["totalAgents"]) == (0, 0, 0)
    assert isinstance(body["storageSizeBytes"], int) and body["storageSizeBytes"] > 0


async def test_stats_after_two_batches(client: Client, store: Store) -> None:
    await post(client, at("a", "s1", "2026-11-27T10:00:00.5Z"), at("b", "s2", "2026-11-27T10:00:00Z"))
    await post(client, at("a", "s1", "2026-11-27T12:30:00+02:00"))
    await store.insert_events([store_custom("x", tenant="other", agent="z")])  # not counted
    body = await get(client, "/api/stats")
    assert list(body) == ["totalEvents", "totalSessions", "totalAgents", "oldestEvent", "newestEvent",
                          "storageSizeBytes"]
    assert (body["totalEvents"], body["totalSessions"], body["totalAgents"]) == (3, 2, 2)
    assert (body["oldestEvent"], body["newestEvent"]) == ("2026-11-27T10:00:00Z", "2026-11-27T12:30:00+02:00")


async def test_health_ok(client: Client) -> None:
    body = await get(client, "/api/health")
    assert list(body) == ["status", "version", "db"]
    assert (body["status"], body["version"], body["db"]["ok"]) == ("ok", __version__, True)
    assert isinstance(body["db"]["latencyMs"], int | float) and body["db"]["latencyMs"] >= 0


async def test_health_degraded_when_the_database_does_not_answer(client: Client, store: Store) -> None:
    await store.close()
    body = await get(client, "/api/health", status=503)
    assert (body["status"], body["version"], body["db"]["ok"]) == ("degraded", __version__, False)


async def test_metrics_count_ingested_events(client: Client) -> None:
    await post(client, at("a", "s1", "2026-11-27T10:00:00Z", id="m1"), at("a", "s1", "2026-11-27T10:00:01Z"))
    await post(client, at("a", "s1", "2026-11-27T10:00:00Z", id="m1"))
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    text = await resp.text()
    assert 'agentlens_events_ingested_total{source="native"} 2.0' in text
    assert 'agentlens_events_duplicate_total{source="native"} 1.0' in text


async def test_unknown_api_route_is_a_json_404(client: Client) -> None:
    assert await get(client, "/api/nope", status=404) == {"error": "Not found", "status": 404}
