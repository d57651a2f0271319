"""Two stores on one database writing at once: linear chains, exact counters, ids stored once."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from store.factory import open_store
from store.interface import Store
from store.model import EventQuery
from tests.store.builders import custom, session_started

pytestmark = pytest.mark.postgres

SESSIONS = [f"shared-{i}" for i in range(5)]


async def _check_sessions(store: Store, sessions: list[str], expected: Counter[str]) -> None:
    for sid in sessions:
        verification = await store.verify_session("default", sid)
        assert verification is not None and verification.valid, (sid, verification)
        timeline = await store.get_session_timeline("default", sid)
        session = await store.get_session("default", sid)
        assert session is not None
        assert session.event_count == len(timeline) == verification.event_count == expected[sid]
        assert len({e.id for e in timeline}) == len(timeline)


async def test_concurrent_writers_in_two_stores_keep_every_chain_linear(pg_url: str) -> None:
    a = await open_store(pg_url, pool_max=4)
    b = await open_store(pg_url, pool_max=4)
    expected: Counter[str] = Counter()

    async def writer(store: Store, name: str) -> None:
        for n in range(30):
            batch = [
                custom(SESSIONS[(n + k) % len(SESSIONS)], {"w": name, "n": n, "k": k}, at=n)
                for k in range(8)
            ]
            result = await store.insert_events(batch)
            assert result.inserted == len(batch)
            expected.update(e.session_id for e in batch)

    try:
        await asyncio.gather(*(writer(st, f"{x}{j}") for x, st in (("a", a), ("b", b)) for j in range(3)))
        await _check_sessions(a, SESSIONS, expected)
        assert await b.count_events("default", EventQuery()) == 6 * 30 * 8
    finally:
        await a.close()
        await b.close()


async def test_the_same_client_ids_sent_through_both_stores_are_stored_once(pg_url: str) -> None:
    """Same ids into the same session and into different sessions, from two stores at once."""
    a = await open_store(pg_url, pool_max=4)
    b = await open_store(pg_url, pool_max=4)
    try:
        stored_hash: dict[str, str] = {}
        for rnd in range(6):
            ids = [f"r{rnd}-{i}" for i in range(60)]
            # overlapping slices, so some ids race while others are new to one side only
            batch_a = [custom("dup-a", {"i": i}, at=rnd, event_id=eid) for i, eid in enumerate(ids[:45])]
            batch_b = [custom("dup-b" if rnd % 2 else "dup-a", {"i": i}, at=rnd, event_id=eid)
                       for i, eid in enumerate(ids[15:], start=15)]
            ra, rb = await asyncio.gather(a.insert_events(batch_a), b.insert_events(batch_b))
            assert ra.inserted + rb.inserted == len(ids)
            assert ra.duplicates + rb.duplicates == 30
            for outcome in (*ra.outcomes, *rb.outcomes):
                if outcome.id in stored_hash:
                    assert stored_hash[outcome.id] == outcome.hash  # a duplicate reports the stored hash
                stored_hash.setdefault(outcome.id, outcome.hash)
        events = await a.get_events_by_ids("default", list(stored_hash))
        assert len(events) == len(stored_hash) == 6 * 60
        assert {e.id: e.hash for e in events} == stored_hash
        counts = Counter(e.session_id for e in events)
        await _check_sessions(b, ["dup-a", "dup-b"], counts)
    finally:
        await a.close()
        await b.close()


async def test_a_batch_of_only_duplicates_leaves_no_session_behind(pg_url: str) -> None:
    a = await open_store(pg_url)
    try:
        first = await a.insert_events([custom("kept", event_id="only-once")])
        again = await a.insert_events([custom("elsewhere", event_id="only-once")])
        assert again.duplicates == 1 and again.inserted == 0
        assert again.outcomes[0].hash == first.outcomes[0].hash
        assert await a.get_session("default", "elsewhere") is None
        assert await a.get_session("default", "kept") is not None
    finally:
        await a.close()


async def test_agents_shared_by_two_stores_keep_first_and_last_seen(pg_url: str) -> None:
    a = await open_store(pg_url)
    b = await open_store(pg_url)
    try:
        await asyncio.gather(
            a.insert_events([session_started("x1", agent_name="Named", at=50, agent="shared")]),
            b.insert_events([custom("x2", at=10, agent="shared"), custom("x2", at=90, agent="shared")]),
        )
        agent = await a.get_agent("default", "shared")
        assert agent is not None
        assert agent.name == "Named"
        assert agent.first_seen_at.startswith("2026-11-27T10:00:10")
        assert agent.last_seen_at.startswith("2026-11-27T10:01:30")
        assert agent.session_count == 2
    finally:
        await a.close()
        await b.close()
