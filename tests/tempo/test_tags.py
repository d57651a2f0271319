"""Tag names and values for Grafana's autocomplete: v1 (flat) and v2 (scoped, typed), filtered by q and window."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from store.interface import Store
from tests.conftest import AppClientFactory
from tests.otlp.builders import SECOND, T0
from tests.tempo.support import dataset


@pytest.fixture
async def client(store: Store, make_client: AppClientFactory) -> TestClient[Any, Any]:
    c = await make_client(store)
    for doc in dataset():
        assert (await c.post("/v1/traces", json=doc)).status == 200
    return c


async def _get(client: TestClient[Any, Any], path: str, **params: Any) -> Any:
    resp = await client.get(path, params={k: str(v) for k, v in params.items()})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_v2_tag_names_are_scoped(client: TestClient[Any, Any]) -> None:
    doc = await _get(client, "/tempo/api/v2/search/tags")
    scopes = {s["name"]: s["tags"] for s in doc["scopes"]}
    assert scopes["resource"] == ["deployment.environment", "service.name"]
    assert "gen_ai.request.model" in scopes["span"] and "http.status_code" in scopes["span"]
    assert "service.name" not in scopes["span"]
    assert {"name", "status", "duration", "kind", "rootServiceName", "traceDuration"} <= set(scopes["intrinsic"])
    only = await _get(client, "/tempo/api/v2/search/tags", scope="resource")
    assert [s["name"] for s in only["scopes"]] == ["resource"]


async def test_v1_tag_names_are_flat(client: TestClient[Any, Any]) -> None:
    names = (await _get(client, "/tempo/api/search/tags"))["tagNames"]
    assert names == sorted(names) and {"service.name", "gen_ai.request.model", "http.method"} <= set(names)
    assert "duration" not in names    # intrinsics are v2 only


async def test_v2_values_are_typed(client: TestClient[Any, Any]) -> None:
    async def values(tag: str, **params: Any) -> list[dict[str, str]]:
        return list((await _get(client, f"/tempo/api/v2/search/tag/{tag}/values", **params))["tagValues"])

    assert await values(".service.name") == [{"type": "string", "value": v} for v in ("api", "batch", "worker")]
    assert await values("resource.service.name") == await values(".service.name")
    assert await values("span.http.status_code") == [{"type": "int", "value": "500"}]
    assert await values("span.service.name") == []
    assert {"type": "string", "value": "chat gpt-4o"} in await values("name")
    assert await values("status") == [{"type": "keyword", "value": v} for v in ("unset", "ok", "error")]
    assert {"type": "keyword", "value": "server"} in await values("kind")
    assert await values("rootServiceName") == [{"type": "string", "value": v} for v in ("api", "worker")]
    # q narrows the values to spans matching a filter (Grafana sends the other conditions of the query)
    assert await values("name", q='{ resource.service.name = "worker" }') == [
        {"type": "string", "value": "chat claude"}, {"type": "string", "value": "invoke_agent coder"}]
    # the window: only the newest trace (orphan step, service batch)
    assert await values(".service.name", start=(T0 + 25 * SECOND) // SECOND) == [{"type": "string", "value": "batch"}]


async def test_v1_values(client: TestClient[Any, Any]) -> None:
    doc = await _get(client, "/tempo/api/search/tag/gen_ai.request.model/values")
    assert doc == {"tagValues": ["claude-sonnet-4", "gpt-4o"]}


async def test_bad_queries_are_400(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/tempo/api/v2/search/tag/name/values", params={"q": "{} | count() > 1"})
    assert resp.status == 400 and "pipelines" in await resp.text()
    assert (await client.get("/tempo/api/v2/search/tags", params={"start": "x"})).status == 400


async def test_echo_and_buildinfo(client: TestClient[Any, Any]) -> None:
    echo = await client.get("/tempo/api/echo")
    assert echo.status == 200 and await echo.text() == "echo"
    info = await _get(client, "/tempo/api/status/buildinfo")
    assert info["version"].startswith("2.") and info["data"]["version"] == info["version"]
