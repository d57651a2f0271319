"""Every route in the router, walked: no key -> 401 (except public), read key -> no mutation, tenant B never sees A."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import ClientResponse

from tests.auth.conftest import AuthEnv, MakeEnv, bearer, fill, has_params, registered_routes
from tests.support import custom_event

PUBLIC = {"/api/health", "/api/openapi.json", "/metrics"}
MANAGE = {("PUT", "/api/config"), ("POST", "/api/retention/run")}
MARKER = "zq7marker"  # appears in everything tenant A stores, nowhere else


def is_public(method: str, path: str) -> bool:
    return method in ("GET", "HEAD") and path in PUBLIC


def is_mutation(method: str, path: str) -> bool:
    # Grafana's JSON data source sends its (read-only) queries as POST
    return method not in ("GET", "HEAD") and not path.startswith("/grafana/")


def needs_manage(method: str, path: str) -> bool:
    return path == "/api/keys" or path.startswith("/api/keys/") or (method, path) in MANAGE


async def call(env: AuthEnv, method: str, path: str, headers: dict[str, str] | None = None,
               params: dict[str, str] | None = None) -> tuple[int, bytes, ClientResponse]:
    """One request; a JSON ``{}`` body on mutations; never reads an event stream's endless body."""
    body = b"{}" if method not in ("GET", "HEAD") else None
    hdrs = {**(headers or {}), **({"Content-Type": "application/json"} if body is not None else {})}
    async with env.client.request(method, path, headers=hdrs, params=params, data=body) as resp:
        if resp.content_type == "text/event-stream":
            resp.close()  # drop the connection: the stream never ends (and HEAD must not be reused)
            return resp.status, b"", resp
        return resp.status, await resp.read(), resp


async def test_without_a_key_every_route_answers_401_except_the_public_ones(env: AuthEnv) -> None:
    routes = registered_routes(env.app)
    assert len(routes) >= 15
    for method, canonical in routes:
        path = fill(canonical)
        status, body, resp = await call(env, method, path)
        if is_public(method, canonical):
            assert status == 200, (method, path, status, body)
            continue
        assert status == 401, (method, path, status, body)
        assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer"), (method, path)
        if path.startswith("/api/") and method != "HEAD":
            doc = orjson.loads(body)
            assert doc["error"] == "Authentication required" and doc["status"] == 401 and doc["hint"], doc


async def test_a_wrong_scheme_or_a_malformed_key_is_refused_everywhere(env: AuthEnv) -> None:
    good = await env.key("acme", ["*"])
    bad_headers = [
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": f"Bearer {good[:-1]}"},            # one hex digit short
        {"Authorization": f"Bearer {good.upper()}"},          # keys are lowercase hex
        {"Authorization": f"Bearer als_{'0' * 64}"},          # well-formed, unknown
        {"X-Api-Key": good},                                  # only Authorization counts
    ]
    for method, canonical in registered_routes(env.app):
        if is_public(method, canonical):
            continue
        for headers in bad_headers:
            status, body, _ = await call(env, method, fill(canonical), headers)
            assert status == 401, (method, canonical, headers, status, body)


async def test_metrics_can_be_protected(store: Any, make_env: MakeEnv) -> None:
    env = await make_env(store, AGENTLENS_METRICS_AUTH="true")
    assert (await call(env, "GET", "/metrics"))[0] == 401
    viewer = await env.key("acme", ["read"])
    assert (await call(env, "GET", "/metrics", bearer(viewer)))[0] == 200
    assert (await call(env, "GET", "/api/health"))[0] == 200


async def test_a_read_key_can_read_but_never_mutate(env: AuthEnv) -> None:
    viewer = bearer(await env.key("acme", ["read"]))
    mutations = 0
    for method, canonical in registered_routes(env.app):
        path = fill(canonical)
        status, body, _ = await call(env, method, path, viewer)
        if is_mutation(method, canonical) or needs_manage(method, canonical):
            mutations += 1
            assert status == 403, (method, path, status, body)
            if path.startswith("/api/") and method != "HEAD":
                doc = orjson.loads(body)
                assert doc["error"] == "Insufficient permissions" and doc["current"] == "viewer", doc
                assert doc["required"] in ("write", "manage") and doc["hint"] and doc["status"] == 403, doc
        else:
            assert status not in (401, 403), (method, path, status, body)
    assert mutations >= 4


async def test_a_write_key_cannot_manage(env: AuthEnv) -> None:
    member = bearer(await env.key("acme", ["read", "write"]))
    admin = bearer(await env.key("acme", ["manage"]))
    managed = 0
    for method, canonical in registered_routes(env.app):
        path = fill(canonical)
        status, body, _ = await call(env, method, path, member)
        if needs_manage(method, canonical):
            managed += 1
            assert status == 403, (method, path, status, body)
            assert method == "HEAD" or orjson.loads(body)["required"] == "manage"
            assert (await call(env, method, path, admin))[0] not in (401, 403), (method, path)
        else:
            assert status not in (401, 403), (method, path, status, body)
    assert managed >= 3  # POST/GET /api/keys, DELETE /api/keys/{id} at least


# ------------------------------------------------------------------ tenant isolation


def _strings(doc: Any, names: frozenset[str], out: set[str]) -> None:
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in names and isinstance(v, str):
                out.add(v)
            _strings(v, names, out)
    elif isinstance(doc, list):
        for v in doc:
            _strings(v, names, out)


def unechoed(body: bytes, *sent: str) -> bytes:
    """The body without the values the request itself carried (a 404 may quote the path it got)."""
    for value in sent:
        body = body.replace(value.encode(), b"")
    return body


ID_FIELDS = frozenset({"id", "sessionId", "agentId", "ruleId", "traceId", "traceID"})
TRACE_ID = "5b8efff798038103d269b633813fc60c"


async def _seed(env: AuthEnv, key: dict[str, str], tag: str) -> None:
    """Data for one tenant through every writing route this build has."""
    events = [custom_event(f"sess-{tag}", i, agentId=f"agent-{tag}") for i in range(3)]
    for e in events:
        e["payload"]["data"]["note"] = tag
    resp = await env.client.post("/api/events", json={"events": events}, headers=key)
    assert resp.status == 201, await resp.text()
    routes = set(registered_routes(env.app))
    if ("POST", "/api/alerts/rules") in routes:
        rule = {"name": f"rule-{tag}", "condition": "error_rate_exceeds", "threshold": 0.5, "windowMinutes": 60}
        resp = await env.client.post("/api/alerts/rules", json=rule, headers=key)
        assert resp.status == 201, await resp.text()
    if ("POST", "/v1/traces") in routes:
        span = {"traceId": TRACE_ID if tag == MARKER else "0af7651916cd43dd8448eb211c80319c",
                "spanId": "eee19b7ec3c1b174", "name": f"op-{tag}", "kind": 1,
                "startTimeUnixNano": "1800000000000000000", "endTimeUnixNano": "1800000001000000000"}
        otlp = {"resourceSpans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": f"svc-{tag}"}}]},
            "scopeSpans": [{"spans": [span]}]}]}
        resp = await env.client.post("/v1/traces", json=otlp, headers=key)
        assert resp.status == 200, await resp.text()
    resp = await env.client.post("/api/keys", json={"name": f"key-{tag}"}, headers=key)
    assert resp.status == 201, await resp.text()


async def test_tenant_b_never_sees_or_touches_tenant_a(env: AuthEnv) -> None:
    a = bearer(await env.key("tenant-a", ["*"]))
    b = bearer(await env.key("tenant-b", ["*"]))
    await _seed(env, a, MARKER)
    await _seed(env, b, "other")
    routes = registered_routes(env.app)
    reads = [(m, c) for m, c in routes if m == "GET" and not is_public(m, c)]

    # every id tenant A can see through the list routes
    candidates: set[str] = {TRACE_ID}
    seen_by_a = b""
    for _, canonical in reads:
        if not has_params(canonical):
            status, body, _ = await call(env, "GET", canonical, a)
            seen_by_a += body
            if status == 200 and body[:1] in (b"{", b"["):
                _strings(orjson.loads(body), ID_FIELDS, candidates)
    assert MARKER.encode() in seen_by_a
    candidates = {c for c in candidates if c and "/" not in c}
    assert len(candidates) >= 5, candidates

    a_filters = {"sessionId": f"sess-{MARKER}", "agentId": f"agent-{MARKER}"}
    for _, canonical in reads:
        if not has_params(canonical):
            for params in (None, a_filters):
                status, body, _ = await call(env, "GET", canonical, b, params)
                assert MARKER.encode() not in unechoed(body, *(params or {}).values()), (canonical, params, body[:300])
            continue
        a_found = False
        for candidate in sorted(candidates):
            path = fill(canonical, candidate)
            status, body, _ = await call(env, "GET", path, b)
            assert MARKER.encode() not in unechoed(body, candidate), (path, status, body[:300])
            if canonical.startswith("/api/"):
                assert status in (400, 404), (path, status, body[:300])
            a_status, a_body, _ = await call(env, "GET", path, a)
            a_found = a_found or (a_status == 200 and MARKER.encode() in a_body)
        if canonical in ("/api/events/{id}", "/api/sessions/{id}", "/api/agents/{id}", "/api/sessions/{id}/timeline"):
            assert a_found, f"tenant A should see its own data through {canonical}"

    # B's mutations aimed at A's ids change nothing
    before = (await call(env, "GET", "/api/events", a))[1]
    for method, canonical in routes:
        if method in ("GET", "HEAD") or not has_params(canonical):
            continue
        for candidate in sorted(candidates):
            status, body, _ = await call(env, method, fill(canonical, candidate), b)
            assert status >= 400, (method, canonical, candidate, status, body[:300])
    assert (await call(env, "GET", "/api/events", a))[1] == before
    keys_of_a = orjson.loads((await call(env, "GET", "/api/keys", a))[1])["keys"]
    assert all(k["revokedAt"] is None for k in keys_of_a)
    keys_of_b = orjson.loads((await call(env, "GET", "/api/keys", b))[1])["keys"]
    assert {k["tenantId"] for k in keys_of_b} == {"tenant-b"}


async def test_the_stream_of_tenant_b_carries_nothing_of_tenant_a(env: AuthEnv) -> None:
    a = bearer(await env.key("tenant-a", ["*"]))
    b_key = await env.key("tenant-b", ["read", "write"])
    async with env.client.get("/api/stream", params={"token": b_key}) as stream:
        assert stream.status == 200
        assert (await asyncio.wait_for(stream.content.readline(), 30)).startswith(b"event: heartbeat")
        # subscribed before the first heartbeat: A's event is committed (and published) before B's
        for key, tag in ((a, MARKER), (bearer(b_key), "tenant-b-own")):
            event = custom_event(f"sess-{tag}", 1)
            resp = await env.client.post("/api/events", json={"events": [event]}, headers=key)
            assert resp.status == 201
        received = b""
        while b"tenant-b-own" not in received:
            received += await asyncio.wait_for(stream.content.readline(), 30)
        assert MARKER.encode() not in received
        stream.close()
