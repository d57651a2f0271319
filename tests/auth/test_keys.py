"""API keys: format and hashing, scopes -> roles, /api/keys, revocation, expiry, lastUsedAt, where keys are read."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
import pytest

from collector.appkeys import auth_renderers_key, authenticator_key
from collector.keys import hash_key, mint_key, required_category, role_of
from tests.auth.conftest import AuthEnv, bearer
from tests.support import custom_event

KEY_RE = re.compile(r"als_[0-9a-f]{64}")


def test_keys_are_als_plus_64_hex_and_stored_as_sha256_only() -> None:
    raws = set()
    for _ in range(50):
        raw, record = mint_key("t", "n", ["read"], now_s=1)
        assert KEY_RE.fullmatch(raw)
        assert record.key_hash == hashlib.sha256(raw.encode()).hexdigest() == hash_key(raw)
        assert raw not in repr(record)
        raws.add(raw)
    assert len(raws) == 50


@pytest.mark.parametrize(("scopes", "role"), [
    (["*"], "admin"), (["manage"], "admin"), (["read", "manage"], "admin"), (["write"], "member"),
    (["read", "write"], "member"), (["read"], "viewer"), ([], "viewer"),
])
def test_scopes_map_to_roles(scopes: list[str], role: str) -> None:
    assert role_of(scopes) == role


@pytest.mark.parametrize(("method", "path", "needed"), [
    ("GET", "/api/events", "read"), ("HEAD", "/api/events", "read"), ("POST", "/api/events", "write"),
    ("POST", "/v1/traces", "write"), ("DELETE", "/api/alerts/rules/x", "write"), ("GET", "/api/keys", "manage"),
    ("POST", "/api/keys", "manage"), ("DELETE", "/api/keys/x", "manage"), ("GET", "/api/config", "read"),
    ("PUT", "/api/config", "manage"), ("POST", "/api/retention/run", "manage"), ("POST", "/grafana/query", "read"),
    ("GET", "/api/keysmith", "read"),
])
def test_required_category(method: str, path: str, needed: str) -> None:
    assert required_category(method, path) == needed


async def test_create_list_and_revoke_through_the_api(env: AuthEnv) -> None:
    admin = bearer(await env.key("acme", ["*"]))
    resp = await env.client.post("/api/keys", json={"tenantId": "someone-else"}, headers=admin)
    assert resp.status == 201
    created = await resp.json()
    assert KEY_RE.fullmatch(created["key"])
    assert created["name"] == "Unnamed Key" and created["scopes"] == ["*"]
    assert created["tenantId"] == "acme"  # the body's tenant counts only with auth disabled
    stored = await env.store.find_api_key(hash_key(created["key"]))
    assert stored is not None and stored.id == created["id"] and stored.key_hash != created["key"]

    resp = await env.client.post("/api/keys", json={"name": "ci", "scopes": ["read"], "expiresInDays": 2},
                                 headers=admin)
    viewer = await resp.json()
    assert viewer["expiresAt"] is not None and viewer["scopes"] == ["read"]

    listing = await env.client.get("/api/keys", headers=admin)
    text = await listing.text()
    assert created["key"] not in text and viewer["key"] not in text and stored.key_hash not in text
    keys = (await listing.json())["keys"]
    assert {k["id"] for k in keys} >= {created["id"], viewer["id"]}
    assert all("key" not in k and k["tenantId"] == "acme" for k in keys)

    resp = await env.client.delete(f"/api/keys/{viewer['id']}", headers=admin)
    assert resp.status == 200 and await resp.json() == {"id": viewer["id"], "revoked": True}
    resp = await env.client.delete(f"/api/keys/{viewer['id']}", headers=admin)
    assert resp.status == 409 and (await resp.json())["error"] == "API key already revoked"
    resp = await env.client.delete("/api/keys/01NOSUCHKEY", headers=admin)
    assert resp.status == 404 and (await resp.json())["error"] == "API key not found"
    other = bearer(await env.key("other", ["*"]))
    resp = await env.client.delete(f"/api/keys/{created['id']}", headers=other)
    assert resp.status == 404
    assert (await env.client.get("/api/events", headers=bearer(created["key"]))).status == 200


@pytest.mark.parametrize(("body", "status", "path"), [
    ({"scopes": ["wrtie"]}, 400, "scopes"), ({"scopes": []}, 400, "scopes"), ({"scopes": "read"}, 400, "scopes"),
    ({"name": ""}, 400, "name"), ({"name": "x" * 256}, 400, "name"), ({"expiresInDays": 0}, 400, "expiresInDays"),
    ({"expiresInDays": True}, 400, "expiresInDays"), ([1], 400, ""),
])
async def test_create_validation(env: AuthEnv, body: Any, status: int, path: str) -> None:
    admin = bearer(await env.key("acme", ["*"]))
    resp = await env.client.post("/api/keys", json=body, headers=admin)
    assert resp.status == status
    doc = await resp.json()
    assert doc["error"] == "Validation failed" and doc["details"][0]["path"] == path


async def test_create_rejects_bad_bodies(env: AuthEnv) -> None:
    admin = bearer(await env.key("acme", ["*"]))
    resp = await env.client.post("/api/keys", data=b"{nope", headers={**admin, "Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["error"] == "Invalid JSON body"
    resp = await env.client.post("/api/keys", data=b"name=x", headers={**admin, "Content-Type": "text/plain"})
    assert resp.status == 415
    big = b'{"name": "' + b"x" * 70_000 + b'"}'
    resp = await env.client.post("/api/keys", data=big, headers={**admin, "Content-Type": "application/json"})
    assert resp.status == 413


async def _status_everywhere(env: AuthEnv, raw: str) -> dict[str, tuple[int, str]]:
    """The answer to the key on the read API, ingest, OTLP and the stream (header and ?token=)."""
    out: dict[str, tuple[int, str]] = {}
    resp = await env.client.get("/api/events", headers=bearer(raw))
    out["api"] = (resp.status, await resp.text())
    resp = await env.client.post("/api/events", json={"events": [custom_event("s", 1)]}, headers=bearer(raw))
    out["ingest"] = (resp.status, await resp.text())
    resp = await env.client.post("/v1/traces", json={"resourceSpans": []}, headers=bearer(raw))
    out["otlp"] = (resp.status, await resp.text())
    for name, kwargs in (("stream", {"headers": bearer(raw)}), ("stream?token", {"params": {"token": raw}})):
        async with env.client.get("/api/stream", **kwargs) as resp:
            text = "" if resp.content_type == "text/event-stream" else await resp.text()
            out[name] = (resp.status, text)
            resp.close()
    return out


async def test_revoked_keys_are_refused_on_the_api_otlp_and_the_stream(env: AuthEnv) -> None:
    admin = bearer(await env.key("acme", ["*"]))
    raw = await env.key("acme", ["read", "write"])
    before = await _status_everywhere(env, raw)
    assert {k: s for k, (s, _) in before.items()} == {
        "api": 200, "ingest": 201, "otlp": before["otlp"][0], "stream": 200, "stream?token": 200}
    assert before["otlp"][0] != 401
    # revoked through the API: refused at once (the verified-key cache is cleared)
    assert (await env.client.delete(f"/api/keys/{env.keys[raw]}", headers=admin)).status == 200
    after = await _status_everywhere(env, raw)
    for where, (status, text) in after.items():
        assert status == 401, (where, status, text)
        assert "Invalid or revoked API key" in text, (where, text)


async def test_expired_keys_are_refused_on_the_api_otlp_and_the_stream(env: AuthEnv) -> None:
    raw = await env.key("acme", ["read", "write"], expires_in_s=3600)
    assert (await env.client.get("/api/events", headers=bearer(raw))).status == 200
    env.clock.advance(3600)
    after = await _status_everywhere(env, raw)
    for where, (status, text) in after.items():
        assert status == 401, (where, status, text)
        assert "API key expired" in text, (where, text)


async def test_a_key_revoked_elsewhere_is_refused_once_the_cache_entry_is_gone(env: AuthEnv) -> None:
    raw = await env.key("acme", ["read"])
    assert (await env.client.get("/api/events", headers=bearer(raw))).status == 200
    await env.store.revoke_api_key(None, env.keys[raw], 1)  # as `keys revoke` or another replica would
    env.app[authenticator_key].forget(env.keys[raw])       # what the cache's short TTL does by itself
    resp = await env.client.get("/api/events", headers=bearer(raw))
    assert resp.status == 401 and (await resp.json())["error"] == "Invalid or revoked API key"


async def test_last_used_at_is_recorded_and_throttled(env: AuthEnv) -> None:
    raw = await env.key("acme", ["*"])

    async def last_used() -> str | None:
        await env.app[authenticator_key].drain()
        keys = [k for k in await env.store.list_api_keys("acme") if k.id == env.keys[raw]]
        return None if keys[0].last_used_at is None else str(keys[0].last_used_at)

    assert await last_used() is None
    assert (await env.client.get("/api/events", headers=bearer(raw))).status == 200
    first = await last_used()
    assert first == str(env.clock() // 1_000_000)
    env.clock.advance(30)
    assert (await env.client.get("/api/events", headers=bearer(raw))).status == 200
    assert await last_used() == first  # within a minute: no write
    env.clock.advance(31)
    assert (await env.client.get("/api/events", headers=bearer(raw))).status == 200
    assert await last_used() == str(env.clock() // 1_000_000)


async def test_the_token_query_parameter_counts_only_on_the_stream(env: AuthEnv) -> None:
    raw = await env.key("acme", ["*"])
    assert (await env.client.get("/api/events", params={"token": raw})).status == 401
    assert (await env.client.get("/api/events", headers={"Authorization": f"bearer {raw}"})).status == 200
    async with env.client.get("/api/stream", params={"token": raw}) as resp:
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        resp.close()


async def test_otlp_refusals_use_the_otlp_error_shape_when_the_receiver_registered_one(env: AuthEnv) -> None:
    resp = await env.client.post("/v1/traces", data=b"{}", headers={"Content-Type": "application/json"})
    assert resp.status == 401
    doc = orjson.loads(await resp.read())
    if "/v1/" in (env.app.get(auth_renderers_key) or {}):
        assert doc == {"code": 16, "message": "Authentication required"}  # google.rpc.Status, UNAUTHENTICATED
        resp = await env.client.post("/v1/traces", data=b"", headers={"Content-Type": "application/x-protobuf"})
        assert resp.status == 401 and resp.content_type == "application/x-protobuf"
        assert await resp.read() == b"\x08\x10\x12\x17Authentication required"
    else:
        assert doc["error"] == "Authentication required"
