"""Fixtures for the auth tests: the real app with auth required, a controllable clock, keys minted in the store."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from collector.app import create_app
from collector.config import load_settings
from collector.keys import mint_key
from collector.receivers.otlp_http import add_routes as add_otlp_routes
from store.interface import Store

START_US = 1_800_000_000_000_000  # 2027-01-15, unix microseconds


@dataclass
class Clock:
    """The app's injected clock (unix microseconds); tests move it forward explicitly."""

    now_us: int = START_US

    def __call__(self) -> int:
        return self.now_us

    def advance(self, seconds: float) -> None:
        self.now_us += int(seconds * 1_000_000)


@dataclass
class AuthEnv:
    """A running app with auth required over one store."""

    client: TestClient[Any, Any]
    store: Store
    clock: Clock
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def app(self) -> web.Application:
        return self.client.server.app  # type: ignore[no-any-return]

    async def key(self, tenant: str, scopes: list[str], *, expires_in_s: int | None = None, name: str = "t") -> str:
        now_s = self.clock() // 1_000_000
        expires = now_s + expires_in_s if expires_in_s is not None else None
        raw, record = mint_key(tenant, name, scopes, now_s=now_s, expires_at=expires)
        await self.store.create_api_key(record)
        self.keys[raw] = record.id
        return raw


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def auth_settings(tmp_path: Path, **env: str) -> Any:
    base = {"AGENTLENS_DB_PATH": str(tmp_path / "app.db"), "AGENTLENS_AUTH": "required", **env}
    settings, problems = load_settings(base)
    assert not problems, problems
    return settings


MakeEnv = Callable[..., Awaitable[AuthEnv]]


@pytest.fixture
async def make_env(aiohttp_client: Any, tmp_path: Path) -> MakeEnv:
    """``await make_env(store, **env)``: the real app with AGENTLENS_AUTH=required (plus ``env``)."""

    async def factory(st: Store, **env: str) -> AuthEnv:
        clock = Clock()
        app = create_app(auth_settings(tmp_path, **env), st, clock=clock)
        if not any(getattr(r, "canonical", None) == "/v1/traces" for r in app.router.resources()):
            add_otlp_routes(app)  # until collector/routes.py registers them: the walk covers OTLP too
        client: TestClient[Any, Any] = await aiohttp_client(app)
        return AuthEnv(client, st, clock)

    return factory


@pytest.fixture
async def env(store: Store, make_env: MakeEnv) -> AuthEnv:
    """Auth required over a fresh store of each selected backend."""
    return await make_env(store)


_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def fill(canonical: str, value: str = "dummy") -> str:
    """A route's canonical path with every ``{param}`` (or ``{param:regex}``) replaced by ``value``."""
    return _PARAM.sub(value, canonical)


def has_params(canonical: str) -> bool:
    return _PARAM.search(canonical) is not None


def registered_routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, canonical path) of every route in the router; ``*`` routes are tried as GET and POST."""
    out: set[tuple[str, str]] = set()
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        methods = ("GET", "POST") if route.method == "*" else (route.method,)
        out.update((m, canonical) for m in methods)
    return sorted(out)
