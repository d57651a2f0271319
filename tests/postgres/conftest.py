"""Fixtures of the PostgreSQL-specific tests: fresh databases, and a proxy that can cut them off."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import pytest

from tests.postgres.proxy import PgProxy
from tests.support import drop_databases, pg_database_url

NewDatabase = Callable[[], Awaitable[str]]


@pytest.fixture
async def new_database(pg_dsn: str) -> AsyncIterator[NewDatabase]:
    """``await new_database()``: the URL of a fresh empty database, dropped after the test."""
    created: list[str] = []

    async def factory() -> str:
        return await pg_database_url(pg_dsn, created)

    yield factory
    if created:
        await drop_databases(pg_dsn, created)


@pytest.fixture
async def pg_url(new_database: NewDatabase) -> str:
    return await new_database()


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _tcp_target() -> tuple[str, int]:
    """Where the proxy forwards: the TCP address of the test server (AGENTLENS_TEST_PG_TCP=host:port)."""
    host, _, port = os.environ.get("AGENTLENS_TEST_PG_TCP", "127.0.0.1:5432").rpartition(":")
    return host, int(port)


@pytest.fixture
async def proxy(pg_dsn: str) -> AsyncIterator[PgProxy]:
    """A cuttable TCP proxy to the test PostgreSQL server."""
    host, port = _tcp_target()
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL must listen on TCP {host}:{port} in CI: {exc}")
        pytest.skip(f"PostgreSQL does not listen on TCP {host}:{port}: {exc}")
    p = await PgProxy(host, port).start()
    yield p
    await p.close()
