"""Two stores on one database: leader election by advisory lock, commit fan-out by LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest

from store.factory import open_store
from store.interface import Store
from store.model import NewEvent
from tests.store.builders import custom
from tests.support import wait_until, wait_until_async

pytestmark = pytest.mark.postgres


def new_event(session: str, i: int, *, tenant: str = "default", event_id: str | None = None) -> NewEvent:
    return custom(session, {"i": i}, at=i, tenant=tenant, event_id=event_id)


@pytest.fixture
async def two_stores(pg_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores (two processes' worth of connections) on one database, both closed afterwards."""
    a, b = await open_store(pg_url), await open_store(pg_url)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def _terminate(url: str, store: Store, role: str) -> int:
    """``pg_terminate_backend`` on the store's connections of one role (leader, listen, pool)."""
    conn = await asyncpg.connect(url)
    try:
        name = f"agentlens-collector:{role}:{store.origin}"  # type: ignore[attr-defined]
        return int(await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", name,
        ))
    finally:
        await conn.close()


async def test_exactly_one_leader_and_takeover_when_its_connection_dies(
    two_stores: tuple[Store, Store], pg_url: str
) -> None:
    a, b = two_stores
    assert await a.is_leader("retention") is True
    assert await b.is_leader("retention") is False
    # asking again changes nothing; names are independent locks
    assert await a.is_leader("retention") is True
    assert await b.is_leader("retention") is False
    assert await b.is_leader("alerts") is True
    assert await a.is_leader("alerts") is False

    assert await _terminate(pg_url, a, "leader") == 1
    # PostgreSQL released a's locks with its connection: b takes over on its next check
    await wait_until_async(lambda: b.is_leader("retention"))
    assert await b.is_leader("alerts") is True
    # a notices it lost the lock, reconnects, and is now a follower
    assert await a.is_leader("retention") is False
    assert await a.is_leader("alerts") is False


async def test_closing_the_leader_hands_over(two_stores: tuple[Store, Store]) -> None:
    a, b = two_stores
    assert await a.is_leader("jobs") is True
    assert await b.is_leader("jobs") is False
    await a.close()
    await wait_until_async(lambda: b.is_leader("jobs"))


class Received:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    async def __call__(self, tenant: str, ids: Sequence[str]) -> None:
        self.calls.append((tenant, list(ids)))

    def ids(self, tenant: str | None = None) -> list[str]:
        return [i for t, ids in self.calls if tenant in (None, t) for i in ids]


async def test_commits_of_another_store_are_announced_not_our_own(two_stores: tuple[Store, Store]) -> None:
    a, b = two_stores
    got_a, got_b = Received(), Received()
    stop_a = await a.listen_commits(got_a)
    stop_b = await b.listen_commits(got_b)
    try:
        await a.insert_events([new_event("s1", i, tenant="t1") for i in range(3)])
        await b.insert_events([new_event("s2", i, tenant="t2") for i in range(2)])
        await wait_until(lambda: len(got_b.ids()) == 3 and len(got_a.ids()) == 2, what="notifications")
        assert got_b.calls[0][0] == "t1"
        assert got_a.calls[0][0] == "t2"
        # the announced ids are readable at once on the receiving side (delivered after commit)
        events = await b.get_events_by_ids("t1", got_b.ids("t1"))
        assert [e.session_id for e in events] == ["s1"] * 3
        # duplicates are not announced again
        before = len(got_b.calls)
        first = (await a.get_session_timeline("t1", "s1"))[0]
        dup = new_event("s1", 0, tenant="t1", event_id=first.id)
        result = await a.insert_events([dup, new_event("s1", 9, tenant="t1")])
        assert result.duplicates == 1
        await wait_until(lambda: len(got_b.calls) > before, what="second notification")
        assert got_b.calls[-1][1] == [result.outcomes[1].id]
    finally:
        await stop_a()
        await stop_b()


async def test_large_commits_are_split_under_the_payload_limit(two_stores: tuple[Store, Store]) -> None:
    a, b = two_stores
    got = Received()
    stop = await b.listen_commits(got)
    try:
        result = await a.insert_events([new_event(f"s{i % 7}", i) for i in range(2000)])
        await wait_until(lambda: len(got.ids()) == 2000, what="2000 announced ids")
        assert sorted(got.ids()) == sorted(o.id for o in result.outcomes)
        assert len(got.calls) > 1  # 2000 ids do not fit one 8000-byte payload
    finally:
        await stop()


async def test_listener_reconnects_after_its_connection_dies(two_stores: tuple[Store, Store], pg_url: str) -> None:
    a, b = two_stores
    got = Received()
    stop = await b.listen_commits(got)
    try:
        assert await _terminate(pg_url, b, "listen") == 1
        # keep committing until the re-established LISTEN connection hears one
        n = 0
        while not got.calls:
            await a.insert_events([new_event("s", n)])
            n += 1
            await asyncio.sleep(0.05)
            assert n < 400, "listener did not come back"
    finally:
        await stop()


async def test_stop_listening(two_stores: tuple[Store, Store]) -> None:
    a, b = two_stores
    got, probe = Received(), Received()
    stop = await b.listen_commits(got)
    stop_probe = await b.listen_commits(probe)
    try:
        await a.insert_events([new_event("s", 0)])
        await wait_until(lambda: len(got.calls) == 1 and len(probe.calls) == 1, what="first notification")
        await stop()
        await a.insert_events([new_event("s", 1)])
        await wait_until(lambda: len(probe.calls) == 2, what="second notification")
        assert len(got.calls) == 1  # the stopped callback heard nothing more
    finally:
        await stop_probe()
