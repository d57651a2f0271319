"""GET/PUT /api/config through the real app: the tenant's retentionDays, validated, stored in config_kv."""

from __future__ import annotations

from typing import Any

import pytest

from collector.appkeys import store_key
from store.interface import Store
from tests.conftest import AppClientFactory


async def test_get_defaults_to_the_retention_days_setting(store: Store, make_client: AppClientFactory) -> None:
    client = await make_client(store, retention_days=45)
    resp = await client.get("/api/config")
    assert (resp.status, await resp.json()) == (200, {"retentionDays": 45})


async def test_put_stores_the_value_for_the_tenant(client: Any) -> None:
    resp = await client.put("/api/config", json={"retentionDays": 30})
    assert (resp.status, await resp.json()) == (200, {"ok": True, "retentionDays": 30})
    assert await (await client.get("/api/config")).json() == {"retentionDays": 30}
    assert await client.app[store_key].get_settings("default") == {"retentionDays": "30"}
    assert await client.app[store_key].get_settings("another-tenant") == {}
    for value, stored in ((0, 0), (3650, 3650), (7.0, 7)):
        resp = await client.put("/api/config", json={"retentionDays": value})
        assert (resp.status, (await resp.json())["retentionDays"]) == (200, stored)


async def test_put_without_retention_days_changes_nothing(client: Any) -> None:
    await client.put("/api/config", json={"retentionDays": 12})
    # upstream's integration keys are accepted (so its dashboard can save) but the collector has no such feature
    resp = await client.put("/api/config", json={"agentGateUrl": "https://gate.example.com", "formBridgeSecret": "s"})
    assert (resp.status, await resp.json()) == (200, {"ok": True, "retentionDays": 12})
    assert await client.app[store_key].get_settings("default") == {"retentionDays": "12"}


@pytest.mark.parametrize(("body", "details"), [
    ({"retentionDays": -1}, [("retentionDays", "Number must be greater than or equal to 0")]),
    ({"retentionDays": 3651}, [("retentionDays", "Number must be less than or equal to 3650")]),
    ({"retentionDays": 1.5}, [("retentionDays", "Expected integer, received float")]),
    ({"retentionDays": "30"}, [("retentionDays", "Expected number, received string")]),
    ({"retentionDays": None}, [("retentionDays", "Expected number, received null")]),
    ({"retentionDays": True}, [("retentionDays", "Expected number, received boolean")]),
    ({"retentiondays": 30, "x": 1}, [("", "Unrecognized key(s) in object: 'retentiondays', 'x'")]),
    ({"retentionDays": -5, "bogus": 1}, [("", "Unrecognized key(s) in object: 'bogus'"),
                                         ("retentionDays", "Number must be greater than or equal to 0")]),
    ({"agentGateUrl": 5}, [("agentGateUrl", "Expected string, received number")]),
    ([1], [("", "Expected object, received array")]),
])
async def test_put_rejects_bad_bodies(client: Any, body: Any, details: list[tuple[str, str]]) -> None:
    resp = await client.put("/api/config", json=body)
    assert resp.status == 400
    answer = await resp.json()
    assert answer["error"] == "Validation failed"
    assert [(d["path"], d["message"]) for d in answer["details"]] == details
    assert await (await client.get("/api/config")).json() == {"retentionDays": 90}


async def test_put_rejects_bad_json_and_content_type(client: Any) -> None:
    resp = await client.put("/api/config", data=b'{"retentionDays": ', headers={"Content-Type": "application/json"})
    assert (resp.status, (await resp.json())["error"]) == (400, "Invalid JSON body")
    resp = await client.put("/api/config", data=b"retentionDays=3", headers={"Content-Type": "text/plain"})
    assert resp.status == 415
    resp = await client.put("/api/config", data=b"{" + b" " * (1024 * 1024) + b"}",
                            headers={"Content-Type": "application/json"})
    assert resp.status == 413
