"""Shared fixtures: real stores on both backends, the real app on a loopback server, server processes."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.app import create_app
from collector.config import Settings, load_settings
from store.factory import open_store
from store.interface import Store
from tests.support import drop_templates, pg_admin_dsn, pg_database_url, release_databases

BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db", action="store", default="all", choices=("sqlite", "postgresql", "all"),
        help="which store backends the parametrized tests run against",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--db")
        params = [b for b in BACKENDS if chosen in ("all", b)]
        metafunc.parametrize("backend", params)


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """An admin DSN for the local PostgreSQL; skipped with a reason when there is none (fails in CI)."""
    dsn, reason = pg_admin_dsn()
    if dsn is None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(f"PostgreSQL not reachable: {reason}")
    yield dsn
    asyncio.run(drop_templates())  # make_store's reusable databases and their template


StoreFactory = Callable[..., Awaitable[Store]]


@pytest.fixture
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await make_store(backend, **options)``: a fresh store on a fresh database, closed afterwards.

    Calling it twice with ``shared=True`` returns two stores on the same database (two replicas).
    """
    opened: list[Store] = []
    databases: list[str] = []
    shared: dict[str, str] = {}

    async def factory(backend: str, *, shared_db: bool = False, **options: Any) -> Store:
        if backend == "sqlite":
            url = shared.get("sqlite") if shared_db else None
            url = url or f"sqlite:///{tmp_path / f'store-{uuid.uuid4().hex[:8]}.db'}"
        else:
            dsn = request.getfixturevalue("pg_dsn")
            url = shared.get("postgresql") if shared_db else None
            if url is None:
                url = await pg_database_url(dsn, databases, migrated=True)
        if shared_db:
            shared[backend] = url
        st = await open_store(url, **options)
        opened.append(st)
        return st

    yield factory
    for st in opened:
        await st.close()
    if databases:
        await release_databases(request.getfixturevalue("pg_dsn"), databases)


@pytest.fixture
async def store(backend: str, make_store: Callable[..., Any]) -> Store:
    """A fresh store of each selected backend."""
    result: Store = await make_store(backend)
    return result


@pytest.fixture
async def sqlite_store(make_store: Callable[..., Any]) -> Store:
    result: Store = await make_store("sqlite")
    return result


def test_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for an in-process app: loopback, auth off, a temp SQLite path, OTLP mapped on a thread.

    (The mapper process, the default for ``serve``, has its own tests: tests/otlp/test_mapper_process.py.)
    """
    env = {"AGENTLENS_DB_PATH": str(tmp_path / "app.db"), "AGENTLENS_AUTH": "disabled",
           "AGENTLENS_OTLP_MAPPER": "thread"}
    settings, problems = load_settings(env, overrides)
    assert not problems, problems
    return settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path)


AppClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def make_client(aiohttp_client: Any, tmp_path: Path) -> AppClientFactory:
    """``await make_client(store, **setting_overrides)``: the real app on a loopback server."""

    async def factory(st: Store, **overrides: Any) -> TestClient[Any, Any]:
        app = create_app(test_settings(tmp_path, **overrides), st)
        client: TestClient[Any, Any] = await aiohttp_client(app)
        return client

    return factory


@pytest.fixture
async def client(store: Store, make_client: AppClientFactory) -> TestClient[Any, Any]:
    """The app over a fresh store of each selected backend."""
    return await make_client(store)
