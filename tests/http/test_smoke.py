"""End-to-end smoke: post events through the real app and read them back."""

from __future__ import annotations

from typing import Any

from tests.support import custom_event


async def test_post_then_read_back(client: Any) -> None:
    resp = await client.post("/api/events", json={"events": [custom_event("s1", 1), custom_event("s1", 2)]})
    assert resp.status == 201
    body = await resp.json()
    assert body["ingested"] == 2
    timeline = await (await client.get("/api/sessions/s1/timeline")).json()
    assert [e["payload"]["data"]["i"] for e in timeline["events"]] == [1, 2]
    assert timeline["chainValid"] is True
    assert timeline["events"][1]["prevHash"] == timeline["events"][0]["hash"]
