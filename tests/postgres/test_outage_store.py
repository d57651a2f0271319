"""The store when PostgreSQL goes away: Unavailable (retryable) errors, then recovery by itself."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from store.errors import StoreClosed, Unavailable
from store.factory import open_store, run_migrations
from store.model import EventQuery
from tests.postgres.conftest import database_name
from tests.postgres.proxy import PgProxy
from tests.store.builders import custom
from tests.support import wait_until, wait_until_async

pytestmark = pytest.mark.postgres


async def test_cut_connection_raises_unavailable_then_recovers(pg_url: str, proxy: PgProxy) -> None:
    store = await open_store(proxy.url(database_name(pg_url)), pool_min=2, pool_max=3)
    try:
        before = await store.insert_events([custom("s", {"n": i}, at=i) for i in range(5)])
        assert await store.is_leader("jobs") is True

        await proxy.cut()
        with pytest.raises(Unavailable) as err:
            await store.ping()
        assert err.value.retryable
        with pytest.raises(Unavailable):
            await store.insert_events([custom("s", {"n": 99}, at=99)])
        with pytest.raises(Unavailable):
            await store.query_events("default", EventQuery())
        with pytest.raises(Unavailable):
            await store.get_session("default", "s")
        assert await store.is_leader("jobs") is False  # nobody leads while the database is away

        await proxy.restore()
        assert await store.ping() >= 0
        after = await store.insert_events([custom("s", {"n": i}, at=i) for i in range(5, 8)])
        assert after.inserted == 3
        timeline = await store.get_session_timeline("default", "s")
        # the refused event is not there; the chain goes on from the last committed event
        assert [e.id for e in timeline] == [o.id for o in (*before.outcomes, *after.outcomes)]
        verification = await store.verify_session("default", "s")
        assert verification is not None and verification.valid and verification.event_count == 8
        assert await store.is_leader("jobs") is True
    finally:
        await store.close()


async def test_killed_pool_connections_are_replaced_transparently(pg_url: str) -> None:
    store = await open_store(pg_url, pool_min=2, pool_max=2)
    try:
        await store.insert_events([custom("s", at=0)])
        conn = await asyncpg.connect(pg_url)
        try:
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                f"agentlens-collector:pool:{store.origin}",  # type: ignore[attr-defined]
            )
        finally:
            await conn.close()
        assert killed == 2
        # the dead connections fail before anything was committed: the store runs the work again
        result = await store.insert_events([custom("s", at=1)])
        assert result.inserted == 1
        assert await store.count_events("default", EventQuery()) == 2
        assert await store.ping() >= 0
    finally:
        await store.close()


async def test_unreachable_server_at_open_is_a_clear_unavailable(pg_url: str, proxy: PgProxy) -> None:
    await proxy.cut()
    with pytest.raises(Unavailable, match=r"cannot connect to PostgreSQL at postgresql://root:\*\*\*@127\.0\.0\.1"):
        await open_store(f"postgresql://root:secret@127.0.0.1:{proxy.port}/{database_name(pg_url)}")


async def test_unknown_database_is_a_clear_unavailable(pg_url: str) -> None:
    with pytest.raises(Unavailable, match="does not exist"):
        name = database_name(pg_url)
        await open_store(pg_url.replace(f"/{name}", f"/{name}_missing"))


async def test_closed_store_raises_store_closed(pg_url: str) -> None:
    store = await open_store(pg_url)
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreClosed):
        await store.ping()
    with pytest.raises(StoreClosed):
        await store.insert_events([custom("s")])
    with pytest.raises(StoreClosed):
        await store.is_leader("jobs")


async def test_too_many_connections_is_unavailable(pg_dsn: str) -> None:
    """A role limited to 2 connections: the pool's third connection is refused by the server."""
    suffix = uuid.uuid4().hex[:10]
    role, db = f"alc_limited_{suffix}", f"alc_test_limited_{suffix}"
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 2')
        await admin.execute(f'CREATE DATABASE "{db}" OWNER "{role}"')
        url = pg_dsn.replace("://root@", f"://{role}@").replace("/test", f"/{db}")
        await run_migrations(url)
        # the migration connection must be gone server-side before the pool counts against the limit
        await wait_until_async(lambda: admin.fetchval(
            "SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = $1", role))
        store = await open_store(url, pool_min=1, pool_max=5, migrate=False)
        try:
            release = asyncio.Event()

            async def hold(conn: asyncpg.Connection) -> None:
                await release.wait()

            holders = [asyncio.create_task(store._c.read(hold)) for _ in range(2)]  # type: ignore[attr-defined]
            await wait_until(lambda: sum(h.done() for h in holders) >= 1 or _busy(store) >= 2, what="2 busy")
            with pytest.raises(Unavailable, match="too many connections"):
                await store.get_session("default", "s")
            release.set()
            errors = await asyncio.gather(*holders, return_exceptions=True)
            # one of the holders may itself have been the refused third connection
            assert all(e is None or isinstance(e, Unavailable) for e in errors)
            assert await store.ping() >= 0  # connections free again: it works
        finally:
            await store.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


def _busy(store: object) -> int:
    pool = store.pool  # type: ignore[attr-defined]
    return int(pool.get_size() - pool.get_idle_size())
