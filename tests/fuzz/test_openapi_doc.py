"""/api/openapi.json describes exactly the routed /api operations and is public; fuzz findings stay fixed."""

from __future__ import annotations

import re
from typing import Any

from collector.api.openapi import document
from store.interface import Store
from tests.conftest import AppClientFactory

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def _api_routes(app: Any) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        if canonical.startswith("/api/") and route.method != "HEAD":
            out.add((route.method, _PARAM.sub(lambda m: "{" + m[1] + "}", canonical)))
    return out


def _documented() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in document()["paths"].items() for method in ops}


async def test_every_api_route_is_documented_and_nothing_else(
    sqlite_store: Store, make_client: AppClientFactory,
) -> None:
    client = await make_client(sqlite_store)
    routes = _api_routes(client.server.app)
    missing = routes - _documented()
    assert not missing, f"add these routes to collector/api/openapi.py OPERATIONS: {sorted(missing)}"
    stale = _documented() - routes
    assert not stale, f"documented but not routed: {sorted(stale)}"


async def test_the_document_is_served_without_a_key(sqlite_store: Store, make_client: AppClientFactory) -> None:
    client = await make_client(sqlite_store, auth="required")
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    assert await resp.json() == document()
    assert (await client.get("/api/events")).status == 401


def test_every_operation_documents_the_error_envelope() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            if "security" in op:
                assert {"401", "403"} <= set(responses), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if "requestBody" in op:
                assert {"400", "413", "415"} <= set(responses), (method, path)
            for status, response in responses.items():
                for media in response.get("content", {}).values():
                    name = media["schema"].get("$ref", "").rsplit("/", 1)[-1]
                    assert not name or name in schemas, (method, path, status, name)
                    if int(status) >= 400 and path != "/api/health":
                        assert name == "Error", (method, path, status)


async def test_fuzz_found_offsets_beyond_64_bit_integers(client: Any) -> None:
    """Found by the fuzz run: a huge ``offset`` overflowed the database integer (500)."""
    for path in ("/api/events", "/api/sessions", "/api/alerts/history"):
        huge = {"offset": "5075881355753460258842869760", "limit": "99999999999999999999"}
        resp = await client.get(path, params=huge)
        assert resp.status == 200, (path, await resp.text())
        body = await resp.json()
        assert body["hasMore"] is False
