"""Fixtures for the OTLP tests: the real app (with the OTLP routes) on a loopback server over SQLite."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.app import create_app
from collector.receivers.otlp_http import add_routes
from store.interface import Store
from tests.conftest import test_settings

OtlpClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


def ensure_otlp_routes(app: web.Application) -> None:
    """Add the OTLP routes unless collector/routes.py already registers them."""
    if not any(getattr(r, "canonical", None) == "/v1/traces" for r in app.router.resources()):
        add_routes(app)


@pytest.fixture
async def make_otlp_client(aiohttp_client: Any, tmp_path: Path, make_store: Callable[..., Any]) -> OtlpClientFactory:
    """``await make_otlp_client(**setting_overrides, server_kwargs=..., store=...)``."""

    async def factory(*, store: Store | None = None, server_kwargs: dict[str, Any] | None = None,
                      **overrides: Any) -> TestClient[Any, Any]:
        st = store if store is not None else await make_store("sqlite")
        app = create_app(test_settings(tmp_path, **overrides), st)
        ensure_otlp_routes(app)
        # Runner options (such as auto_decompress=False) only reach the server through
        # start_server(); aiohttp_client then reuses the already started server.
        server = TestServer(app)
        await server.start_server(**(server_kwargs or {}))
        client: TestClient[Any, Any] = await aiohttp_client(server)
        return client

    return factory


@pytest.fixture
async def otlp_client(make_otlp_client: OtlpClientFactory) -> TestClient[Any, Any]:
    """The app with default settings (auth off) over a fresh SQLite store."""
    return await make_otlp_client()


async def all_events(client: TestClient[Any, Any], **params: str) -> list[dict[str, Any]]:
    """Every stored event of the default tenant, oldest first."""
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        resp = await client.get("/api/events", params={"limit": "500", "offset": str(offset), "order": "asc",
                                                       **params})
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        out.extend(page["events"])
        if not page.get("hasMore"):
            return out
        offset += len(page["events"])


async def stats(client: TestClient[Any, Any]) -> dict[str, Any]:
    resp = await client.get("/api/stats")
    assert resp.status == 200
    result: dict[str, Any] = await resp.json()
    return result
