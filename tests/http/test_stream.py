"""GET /api/stream read with a real HTTP client while events are ingested: order, filters, tenants, clean-up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
import pytest

from collector.appkeys import jobs_key, metrics_key, pipeline_key, store_key, stream_key
from collector.stream.bus import StreamFilter
from store.interface import Store
from store.model import AlertRuleInput
from store.timefmt import now_us, parse_rfc3339
from tests.conftest import AppClientFactory
from tests.store.builders import custom, ev
from tests.support import custom_event

Frame = tuple[str, Any]


@pytest.fixture
def pg_selected(request: pytest.FixtureRequest) -> None:
    """Skip unless ``--db`` selects PostgreSQL (and, through ``pg_dsn``, unless it is reachable)."""
    if request.config.getoption("--db") == "sqlite":
        pytest.skip("PostgreSQL not selected (--db sqlite)")
    request.getfixturevalue("pg_dsn")


class SSE:
    """Reads ``event:``/``data:`` frames from a streaming response."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp

    async def frame(self) -> Frame:
        name: str | None = None
        data = b""
        while True:
            line = await asyncio.wait_for(self.resp.content.readline(), 10)
            if not line:
                raise EOFError("stream ended")
            line = line.rstrip(b"\n")
            if not line:
                if name is not None:
                    return name, orjson.loads(data)
            elif line.startswith(b"event: "):
                name = line[7:].decode()
            elif line.startswith(b"data: "):
                data = line[6:]

    async def message(self) -> Frame:
        """The next frame that is not a heartbeat."""
        while True:
            name, data = await self.frame()
            if name != "heartbeat":
                return name, data

    async def events_until(self, last_id: str) -> list[str]:
        """Ids of the ``event`` frames up to and including ``last_id``."""
        ids: list[str] = []
        while not ids or ids[-1] != last_id:
            name, data = await self.message()
            if name == "event":
                ids.append(data["id"])
        return ids


async def open_stream(client: Any, query: str = "") -> SSE:
    resp = await client.get(f"/api/stream{query}")
    assert resp.status == 200
    sse = SSE(resp)
    assert (await sse.frame())[0] == "heartbeat"       # subscribed: nothing committed from now on is missed
    return sse


async def post(client: Any, *events: dict[str, Any]) -> list[str]:
    resp = await client.post("/api/events", json={"events": list(events)})
    assert resp.status == 201, await resp.text()
    return [e["id"] for e in (await resp.json())["events"]]


async def test_headers_and_heartbeats(store: Store, make_client: AppClientFactory) -> None:
    client = await make_client(store, stream_heartbeat_seconds=0.05)
    resp = await client.get("/api/stream")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["Connection"] == "keep-alive"
    assert resp.headers["X-Accel-Buffering"] == "no"
    assert await resp.content.readline() == b"event: heartbeat\n"
    first = orjson.loads((await resp.content.readline()).removeprefix(b"data: "))
    assert abs(parse_rfc3339(first["time"]) - now_us()) < 60_000_000
    sse = SSE(resp)
    assert (await sse.frame())[0] == "heartbeat" and (await sse.frame())[0] == "heartbeat"   # and again


async def test_sees_events_in_commit_order_with_session_updates(client: Any) -> None:
    sse = await open_stream(client)
    first = await post(client, custom_event("s1", 1), custom_event("s1", 2), custom_event("s1", 3))
    second = await post(client, custom_event("s2", 1), custom_event("s2", 2))
    frames = [await sse.message() for _ in range(7)]
    assert [(name, d["id"]) for name, d in frames] == (
        [("event", i) for i in first] + [("session_update", "s1")] + [("event", i) for i in second]
        + [("session_update", "s2")])
    assert frames[0][1] == await (await client.get(f"/api/events/{first[0]}")).json()   # the full event
    assert frames[3][1] == await (await client.get("/api/sessions/s1")).json()
    assert frames[3][1]["eventCount"] == 3


async def test_filters_by_session_agent_and_event_types(client: Any) -> None:
    by_session = await open_stream(client, "?sessionId=s1")
    by_agent = await open_stream(client, "?agentId=agent-2")
    by_types = await open_stream(client, "?eventType=tool_call,%20custom")
    ids = []
    for event in (
        custom_event("s1", 0),
        custom_event("s2", 1, agentId="agent-2"),
        {"sessionId": "s1", "agentId": "agent-2", "eventType": "tool_call",
         "payload": {"toolName": "t", "callId": "c", "arguments": {}}},
        {"sessionId": "s3", "agentId": "agent-1", "eventType": "cost_tracked",
         "payload": {"provider": "p", "model": "m", "inputTokens": 1, "outputTokens": 1, "totalTokens": 2,
                     "costUsd": 0.1}},
    ):
        ids += await post(client, event)
    [sentinel] = await post(client, custom_event("s1", 9, agentId="agent-2"))
    assert await by_session.events_until(sentinel) == [ids[0], ids[2], sentinel]
    assert await by_agent.events_until(sentinel) == [ids[1], ids[2], sentinel]
    assert await by_types.events_until(sentinel) == [ids[0], ids[1], ids[2], sentinel]


async def test_session_updates_follow_the_session_filter(client: Any) -> None:
    sse = await open_stream(client, "?sessionId=s2")
    await post(client, custom_event("s1", 0))
    await post(client, custom_event("s2", 0))
    name, data = await sse.message()
    assert name == "event" and data["sessionId"] == "s2"
    name, data = await sse.message()
    assert (name, data["id"]) == ("session_update", "s2")


async def test_only_the_callers_tenant(client: Any) -> None:
    sse = await open_stream(client)
    await client.app[pipeline_key].submit([custom("elsewhere", tenant="t2"), custom("elsewhere", tenant="t2")])
    [mine] = await post(client, custom_event("s1", 0))
    name, data = await sse.message()
    assert (name, data["id"], data["tenantId"]) == ("event", mine, "default")
    assert (await sse.message())[1]["id"] == "s1"      # the session_update of s1, none for t2


async def test_alert_and_alert_resolved_messages(client: Any) -> None:
    store = client.app[store_key]
    rule = await store.create_alert_rule("default", AlertRuleInput(
        name="quiet", condition="no_events_for", threshold=0, window_minutes=5))
    other = await store.create_alert_rule("t2", AlertRuleInput(
        name="theirs", condition="no_events_for", threshold=0, window_minutes=5))
    sse = await open_stream(client, "?sessionId=unrelated")     # alerts ignore the event filters
    alerts = client.app[jobs_key].alerts
    await alerts.run_once(now_us())
    name, data = await sse.message()
    assert name == "alert"
    assert data["ruleId"] == rule.id and data["ruleId"] != other.id
    assert set(data) == {"ruleId", "name", "currentValue", "threshold", "message", "triggeredAt"}
    assert data["message"] == "No events received in the last 5m"
    await post(client, custom_event("s1", 0))
    await alerts.run_once(now_us())
    name, data = await sse.message()
    assert (name, data["ruleId"], data["message"]) == ("alert_resolved", rule.id,
                                                       "Events received again: 1 in the last 5m")


async def test_a_disconnected_client_leaves_no_subscriber(store: Store, make_client: AppClientFactory) -> None:
    client = await make_client(store, stream_heartbeat_seconds=0.05)
    bus = client.app[stream_key]
    one = await open_stream(client)
    two = await open_stream(client, "?sessionId=x")
    assert bus.client_count == 2
    one.resp.close()
    await asyncio.wait_for(bus.wait_client_count(1), 10)    # noticed at the next heartbeat write at the latest
    two.resp.close()
    await asyncio.wait_for(bus.wait_client_count(0), 10)
    assert bus._subs == {}
    await post(client, custom_event("s1", 0))               # ingest with nobody listening is fine


async def test_a_slow_client_is_dropped_and_never_slows_ingest(
    store: Store, make_client: AppClientFactory,
) -> None:
    client = await make_client(store, stream_client_buffer_bytes=64 * 1024)
    bus = client.app[stream_key]
    stuck = bus.subscribe("default", StreamFilter())        # a client that never takes anything
    reader = await open_stream(client)
    big = {"type": "t", "data": {"blob": "x" * 8000}}
    ids = []
    for i in range(12):                                     # ~100 KB of frames: more than the stuck buffer
        ids += await post(client, {"sessionId": "s", "agentId": "a", "eventType": "custom", "payload": big,
                                   "metadata": {"i": i}})
    assert await reader.events_until(ids[-1]) == ids        # a client that reads gets everything
    assert stuck.close_reason == "slow_client"
    assert await stuck.take(0) is None
    assert bus.client_count == 1
    metrics = client.app[metrics_key]
    assert metrics.registry.get_sample_value(
        "agentlens_stream_clients_dropped_total", {"reason": "slow_client"}) == 1


async def test_too_many_clients_is_503(store: Store, make_client: AppClientFactory) -> None:
    client = await make_client(store, stream_max_clients=1)
    await open_stream(client)
    resp = await client.get("/api/stream")
    assert resp.status == 503 and resp.headers["Retry-After"]


@pytest.mark.usefixtures("pg_selected")
async def test_sees_events_committed_by_another_process(
    make_store: Callable[..., Any], make_client: AppClientFactory,
) -> None:
    here = await make_store("postgresql", shared_db=True)
    there = await make_store("postgresql", shared_db=True)
    client = await make_client(here)
    sse = await open_stream(client, "?sessionId=remote")
    result = await there.insert_events([custom("remote", event_id="r1"), custom("remote", event_id="r2"),
                                        ev("other", event_id="o1")])
    assert result.inserted == 3
    frames = [await sse.message() for _ in range(3)]
    assert [(n, d["id"]) for n, d in frames] == [("event", "r1"), ("event", "r2"), ("session_update", "remote")]
