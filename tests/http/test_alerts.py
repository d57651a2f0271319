"""Alert rule routes and history through the real app (api.md §6): CRUD, validation like upstream, 404s."""

from __future__ import annotations

from typing import Any

import pytest

from collector.appkeys import store_key
from store.model import AlertHistoryEntry

RULE = {"name": "errors", "condition": "error_rate_exceeds", "threshold": 0.1, "windowMinutes": 5}


async def create(client: Any, **fields: Any) -> dict[str, Any]:
    resp = await client.post("/api/alerts/rules", json={**RULE, **fields})
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_create_applies_defaults(client: Any) -> None:
    rule = await create(client)
    assert {k: rule[k] for k in ("name", "enabled", "condition", "threshold", "windowMinutes", "scope",
                                 "notifyChannels", "tenantId")} == {
        "name": "errors", "enabled": True, "condition": "error_rate_exceeds", "threshold": 0.1, "windowMinutes": 5,
        "scope": {}, "notifyChannels": [], "tenantId": "default",
    }
    assert len(rule["id"]) == 26 and rule["createdAt"] == rule["updatedAt"]
    assert (await (await client.get(f"/api/alerts/rules/{rule['id']}")).json()) == rule


async def test_create_with_every_field(client: Any) -> None:
    rule = await create(client, enabled=False, scope={"agentId": "a1", "tags": ["prod", "prod", "eu"]},
                        notifyChannels=["https://hooks.example.com/x"], windowMinutes=43200.0, threshold=0)
    assert (rule["enabled"], rule["windowMinutes"], rule["threshold"]) == (False, 43200, 0)
    assert rule["scope"] == {"agentId": "a1", "tags": ["prod", "eu"]}
    assert rule["notifyChannels"] == ["https://hooks.example.com/x"]
    # an empty agentId / tag list means no restriction (upstream ignores a falsy agentId)
    assert (await create(client, scope={"agentId": "", "tags": []}))["scope"] == {}


@pytest.mark.parametrize(("fields", "details"), [
    ({"condition": "bogus"}, [("condition", "Invalid enum value. Expected 'error_rate_exceeds' | 'cost_exceeds' | "
                                            "'latency_exceeds' | 'event_count_exceeds' | 'no_events_for', "
                                            "received 'bogus'")]),
    ({"name": ""}, [("name", "String must contain at least 1 character(s)")]),
    ({"name": "x" * 201}, [("name", "String must contain at most 200 character(s)")]),
    ({"name": None}, [("name", "Expected string, received null")]),
    ({"threshold": -0.5}, [("threshold", "Number must be greater than or equal to 0")]),
    ({"threshold": "1"}, [("threshold", "Expected number, received string")]),
    ({"windowMinutes": 0}, [("windowMinutes", "Number must be greater than or equal to 1")]),
    ({"windowMinutes": 43201}, [("windowMinutes", "Number must be less than or equal to 43200")]),
    ({"windowMinutes": 1.5}, [("windowMinutes", "Expected integer, received float")]),
    ({"enabled": "yes"}, [("enabled", "Expected boolean, received string")]),
    ({"scope": None}, [("scope", "Expected object, received null")]),
    ({"scope": {"tags": "prod"}}, [("scope.tags", "Expected array, received string")]),
    ({"scope": {"agentId": "a\u0000b"}}, [("scope.agentId", "String must not contain NUL (U+0000) characters")]),
    ({"notifyChannels": ["ftp://x/y", "https://ok.example.com/"]}, [("notifyChannels.0", "Invalid url")]),
    ({"notifyChannels": "https://x"}, [("notifyChannels", "Expected array, received string")]),
])
async def test_create_rejects_bad_fields(client: Any, fields: dict[str, Any], details: list[tuple[str, str]]) -> None:
    resp = await client.post("/api/alerts/rules", json={**RULE, **fields})
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "Validation failed"
    assert [(d["path"], d["message"]) for d in body["details"]] == details


async def test_create_reports_every_missing_field_and_bad_bodies(client: Any) -> None:
    resp = await client.post("/api/alerts/rules", json={})
    body = await resp.json()
    assert resp.status == 400
    assert sorted(d["path"] for d in body["details"]) == ["condition", "name", "threshold", "windowMinutes"]
    assert {d["message"] for d in body["details"]} == {"Required"}
    resp = await client.post("/api/alerts/rules", json=[RULE])
    assert (resp.status, (await resp.json())["details"]) == (400, [{"path": "", "message": "Expected object, "
                                                                                           "received array"}])
    resp = await client.post("/api/alerts/rules", data=b"{nope", headers={"Content-Type": "application/json"})
    assert (resp.status, (await resp.json())["error"]) == (400, "Invalid JSON body")
    resp = await client.post("/api/alerts/rules", data=b"name=x", headers={"Content-Type": "text/plain"})
    assert resp.status == 415
    assert (await (await client.get("/api/alerts/rules")).json()) == {"rules": []}


async def test_list_update_and_delete(client: Any) -> None:
    first = await create(client, name="first")
    second = await create(client, name="second", scope={"agentId": "a1"})
    listed = (await (await client.get("/api/alerts/rules")).json())["rules"]
    assert [r["name"] for r in listed] == ["first", "second"]

    resp = await client.put(f"/api/alerts/rules/{second['id']}", json={"threshold": 2, "enabled": False})
    updated = await resp.json()
    assert resp.status == 200
    assert (updated["threshold"], updated["enabled"], updated["name"], updated["scope"]) == (2, False, "second",
                                                                                            {"agentId": "a1"})
    assert updated["updatedAt"] >= second["updatedAt"] and updated["createdAt"] == second["createdAt"]
    replaced = await (await client.put(f"/api/alerts/rules/{second['id']}", json={"scope": {"tags": ["x"]}})).json()
    assert replaced["scope"] == {"tags": ["x"]}          # the scope is replaced as a whole
    unchanged = await client.put(f"/api/alerts/rules/{first['id']}", json={})
    assert unchanged.status == 200 and (await unchanged.json())["name"] == "first"
    bad = await client.put(f"/api/alerts/rules/{first['id']}", json={"condition": "x", "windowMinutes": -1})
    assert bad.status == 400 and len((await bad.json())["details"]) == 2

    resp = await client.delete(f"/api/alerts/rules/{first['id']}")
    assert (resp.status, await resp.json()) == (200, {"id": first["id"], "deleted": True})
    assert [r["name"] for r in (await (await client.get("/api/alerts/rules")).json())["rules"]] == ["second"]


@pytest.mark.parametrize(("method", "body"), [("GET", None), ("PUT", {"name": "x"}), ("DELETE", None)])
@pytest.mark.parametrize("rule_id", ["01JUNKNOWN0000000000000000", "with%00nul"])
async def test_unknown_rules_are_404(client: Any, method: str, body: Any, rule_id: str) -> None:
    resp = await client.request(method, f"/api/alerts/rules/{rule_id}", json=body)
    assert resp.status == 404
    assert await resp.json() == {"error": "Alert rule not found", "status": 404}


async def test_history_pages_newest_first_and_survives_rule_deletion(client: Any) -> None:
    rule = await create(client)
    other = await create(client, name="other")
    store = client.app[store_key]
    assert await (await client.get("/api/alerts/history")).json() == {"entries": [], "total": 0, "hasMore": False}
    for i in range(3):
        await store.insert_alert_history("default", AlertHistoryEntry(
            id=f"h{i}", rule_id=rule["id"], triggered_at=f"2026-11-27T10:0{i}:00.000Z", resolved_at=None,
            current_value=0.5, threshold=0.1, message=f"m{i}", tenant_id="default",
        ))
    await store.insert_alert_history("default", AlertHistoryEntry(
        id="o", rule_id=other["id"], triggered_at="2026-11-27T09:00:00.000Z", resolved_at="2026-11-27T09:01:00.000Z",
        current_value=1, threshold=0.1, message="old", tenant_id="default",
    ))
    page = await (await client.get("/api/alerts/history?limit=2")).json()
    assert ([e["id"] for e in page["entries"]], page["total"], page["hasMore"]) == (["h2", "h1"], 4, True)
    assert page["entries"][0] == {
        "id": "h2", "ruleId": rule["id"], "triggeredAt": "2026-11-27T10:02:00.000Z", "resolvedAt": None,
        "currentValue": 0.5, "threshold": 0.1, "message": "m2", "tenantId": "default",
    }
    page = await (await client.get("/api/alerts/history?limit=2&offset=2")).json()
    assert ([e["id"] for e in page["entries"]], page["hasMore"]) == (["h0", "o"], False)
    by_rule = await (await client.get(f"/api/alerts/history?ruleId={other['id']}")).json()
    assert [e["id"] for e in by_rule["entries"]] == ["o"]
    assert (await (await client.get("/api/alerts/history?ruleId=a%00b")).json())["total"] == 0

    assert (await client.delete(f"/api/alerts/rules/{rule['id']}")).status == 200
    after = await (await client.get(f"/api/alerts/history?ruleId={rule['id']}&limit=0")).json()
    assert after["total"] == 3                           # deleting a rule keeps its history
