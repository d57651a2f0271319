"""insert_events: outcomes, seq/prev_hash chaining, client-id dedupe, atomicity, append order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from store.canonical import event_hash
from store.errors import PermanentStoreError
from store.interface import Store
from store.model import EventQuery, NewEvent, StoredEvent
from tests.store.builders import custom, ev, session_started


def expected_hash(e: NewEvent, prev: str | None) -> str:
    return event_hash(
        event_id=e.id, timestamp=e.timestamp, session_id=e.session_id, agent_id=e.agent_id,
        event_type=e.event_type, severity=e.severity, payload_json=e.payload_json,
        metadata_json=e.metadata_json, prev_hash=prev,
    )


async def chain(store: Store, session: str, tenant: str = "default") -> list[StoredEvent]:
    """The stored events of a session in seq order."""
    events = await store.get_session_timeline(tenant, session)
    return sorted(events, key=lambda e: e.seq)


async def test_empty_insert_is_a_no_op(store: Store) -> None:
    result = await store.insert_events([])
    assert (result.outcomes, result.inserted, result.duplicates) == ((), 0, 0)
    assert await store.count_events("default", EventQuery()) == 0


async def test_single_event_is_the_genesis(store: Store) -> None:
    e = custom("s1", {"i": 1})
    result = await store.insert_events([e])
    assert result.inserted == 1 and result.duplicates == 0
    (outcome,) = result.outcomes
    assert (outcome.id, outcome.duplicate, outcome.session_id) == (e.id, False, "s1")
    assert outcome.hash == expected_hash(e, None)
    stored = await store.get_event("default", e.id)
    assert stored is not None
    assert (stored.seq, stored.prev_hash, stored.hash) == (0, None, outcome.hash)
    assert (stored.timestamp, stored.ts_us, stored.tenant_id) == (e.timestamp, e.ts_us, "default")
    assert (stored.payload_json, stored.metadata_json) == (e.payload_json, e.metadata_json)
    assert result.sessions_touched == (("default", "s1"),)


async def test_batch_chains_in_input_order(store: Store) -> None:
    events = [custom("s1", {"i": i}, at=i) for i in range(4)]
    result = await store.insert_events(events)
    prev = None
    for e, o in zip(events, result.outcomes, strict=True):
        assert o.id == e.id and o.hash == expected_hash(e, prev)
        prev = o.hash
    stored = await chain(store, "s1")
    assert [s.seq for s in stored] == [0, 1, 2, 3]
    assert [s.id for s in stored] == [e.id for e in events]
    assert [s.prev_hash for s in stored] == [None, *(s.hash for s in stored[:-1])]


async def test_append_order_is_the_given_order_not_time_order(store: Store) -> None:
    late, early = custom("s1", {"i": 0}, at=60), custom("s1", {"i": 1}, at=0)
    await store.insert_events([late, early])
    stored = await chain(store, "s1")
    assert [s.id for s in stored] == [late.id, early.id]
    assert stored[1].prev_hash == stored[0].hash
    verification = await store.verify_session("default", "s1")
    assert verification is not None and verification.valid


async def test_chain_continues_across_calls(store: Store) -> None:
    first = await store.insert_events([custom("s1", {"i": 0}), custom("s1", {"i": 1}, at=1)])
    second_event = custom("s1", {"i": 2}, at=2)
    second = await store.insert_events([second_event])
    assert second.outcomes[0].hash == expected_hash(second_event, first.outcomes[-1].hash)
    stored = await chain(store, "s1")
    assert [s.seq for s in stored] == [0, 1, 2]
    assert stored[2].prev_hash == first.outcomes[-1].hash


async def test_sessions_have_independent_chains(store: Store) -> None:
    a0, b0, a1, b1 = custom("a", at=0), custom("b", at=0), custom("a", at=1), custom("b", at=1)
    result = await store.insert_events([a0, b0, a1, b1])
    by_id = {o.id: o for o in result.outcomes}
    assert by_id[b0.id].hash == expected_hash(b0, None)
    assert by_id[a1.id].hash == expected_hash(a1, by_id[a0.id].hash)
    assert by_id[b1.id].hash == expected_hash(b1, by_id[b0.id].hash)
    assert [s.seq for s in await chain(store, "b")] == [0, 1]
    assert set(result.sessions_touched) == {("default", "a"), ("default", "b")}


async def test_outcomes_follow_input_order_across_sessions(store: Store) -> None:
    events = [custom("a", event_id="x1"), custom("b", event_id="x2"), custom("a", event_id="x3", at=1)]
    result = await store.insert_events(events)
    assert [(o.id, o.session_id) for o in result.outcomes] == [("x1", "a"), ("x2", "b"), ("x3", "a")]


async def test_client_id_repeated_in_one_batch_is_stored_once(store: Store) -> None:
    first = custom("s1", {"i": 1}, event_id="evt-1")
    again = custom("s1", {"i": 2}, event_id="evt-1", at=5)
    after = custom("s1", {"i": 3}, event_id="evt-2", at=6)
    result = await store.insert_events([first, again, after])
    assert (result.inserted, result.duplicates) == (2, 1)
    o1, o2, o3 = result.outcomes
    assert (o2.id, o2.duplicate, o2.hash, o2.session_id) == ("evt-1", True, o1.hash, "s1")
    assert not o1.duplicate and not o3.duplicate
    assert o3.hash == expected_hash(after, o1.hash)  # the duplicate was not chained
    stored = await chain(store, "s1")
    assert [(s.id, s.seq) for s in stored] == [("evt-1", 0), ("evt-2", 1)]
    assert stored[0].payload_json == first.payload_json


async def test_client_id_already_stored_is_a_duplicate(store: Store) -> None:
    original = custom("s1", {"i": 1}, event_id="evt-1")
    stored_hash = (await store.insert_events([original])).outcomes[0].hash
    retry = await store.insert_events([custom("s1", {"i": 1}, event_id="evt-1")])
    assert (retry.inserted, retry.duplicates) == (0, 1)
    assert retry.outcomes[0].duplicate and retry.outcomes[0].hash == stored_hash
    assert retry.sessions_touched == ()
    assert await store.count_events("default", EventQuery()) == 1
    nxt = custom("s1", {"i": 2}, at=1)
    result = await store.insert_events([nxt])
    assert result.outcomes[0].hash == expected_hash(nxt, stored_hash)
    assert [s.seq for s in await chain(store, "s1")] == [0, 1]


async def test_duplicate_with_other_content_keeps_the_stored_event(store: Store) -> None:
    await store.insert_events([custom("s1", {"v": "original"}, event_id="evt-1")])
    result = await store.insert_events([custom("other-session", {"v": "changed"}, event_id="evt-1")])
    assert result.outcomes[0].duplicate
    stored = await store.get_event("default", "evt-1")
    assert stored is not None and stored.session_id == "s1" and '"original"' in stored.payload_json
    assert await store.get_session("default", "other-session") is None


async def test_duplicates_change_no_counter(store: Store) -> None:
    batch = [session_started("s1", "Bot", event_id="k0"), ev("s1", "cost_tracked", {
        "provider": "p", "model": "m", "inputTokens": 1, "outputTokens": 1, "totalTokens": 2, "costUsd": 0.5,
    }, event_id="k1", at=1, severity="error")]
    await store.insert_events(batch)
    before_session = await store.get_session("default", "s1")
    before_agent = await store.get_agent("default", "agent-1")
    result = await store.insert_events(batch)
    assert result.duplicates == 2
    assert await store.get_session("default", "s1") == before_session
    assert await store.get_agent("default", "agent-1") == before_agent
    assert before_session is not None
    assert (before_session.event_count, before_session.error_count) == (2, 1)
    assert before_session.total_cost_usd == pytest.approx(0.5)


async def test_same_client_id_in_two_tenants_is_two_events(store: Store) -> None:
    a = custom("s1", {"t": "a"}, event_id="shared-id", tenant="tenant-a")
    b = custom("s1", {"t": "b"}, event_id="shared-id", tenant="tenant-b")
    result = await store.insert_events([a, b])
    assert (result.inserted, result.duplicates) == (2, 0)
    again = await store.insert_events([custom("s1", {"t": "b2"}, event_id="shared-id", tenant="tenant-b")])
    assert again.duplicates == 1 and again.outcomes[0].hash == result.outcomes[1].hash
    for tenant, marker in (("tenant-a", '"a"'), ("tenant-b", '"b"')):
        stored = await store.get_event(tenant, "shared-id")
        assert stored is not None and stored.tenant_id == tenant and marker in stored.payload_json
        assert stored.seq == 0 and stored.prev_hash is None


async def test_failed_insert_changes_nothing(store: Store) -> None:
    """A batch that cannot be stored is rolled back entirely, even its valid events."""
    existing = custom("s1", event_id="taken")
    await store.insert_events([existing])
    fresh = session_started("s2", "New", tags=["t"], agent="agent-2")
    # a server-minted id (no dedupe lookup) that collides with a stored one: the insert must fail
    clash = existing._replace(dedupe=False)
    with pytest.raises(PermanentStoreError):
        await store.insert_events([fresh, custom("s1", at=1), clash])
    assert await store.count_events("default", EventQuery()) == 1
    assert await store.get_session("default", "s2") is None
    assert await store.get_agent("default", "agent-2") is None
    session = await store.get_session("default", "s1")
    assert session is not None and session.event_count == 1
    # the store is still usable and the chain continues from the stored head
    result = await store.insert_events([custom("s1", at=2)])
    assert result.inserted == 1
    assert [s.seq for s in await chain(store, "s1")] == [0, 1]


async def test_events_of_many_tenants_in_one_call(store: Store) -> None:
    result = await store.insert_events([custom("s1", tenant="t1"), custom("s1", tenant="t2")])
    assert result.inserted == 2
    assert set(result.sessions_touched) == {("t1", "s1"), ("t2", "s1")}
    for tenant in ("t1", "t2"):
        (only,) = await chain(store, "s1", tenant)
        assert only.seq == 0 and only.prev_hash is None


async def test_concurrent_writers_on_one_database_keep_one_linear_chain(
    backend: str, make_store: Callable[..., Any],
) -> None:
    """Two stores on the same database (two processes in production) appending to one session."""
    first: Store = await make_store(backend, shared_db=True)
    second: Store = await make_store(backend, shared_db=True)

    async def writer(st: Store, name: str) -> None:
        for batch in range(8):
            await st.insert_events([
                custom("shared", {"w": name, "b": batch, "i": i}, at=batch, event_id=f"{name}-{batch}-{i}")
                for i in range(5)
            ])

    await asyncio.gather(writer(first, "x"), writer(second, "y"))
    stored = await chain(first, "shared")
    assert [s.seq for s in stored] == list(range(80))
    assert [s.prev_hash for s in stored] == [None, *(s.hash for s in stored[:-1])]
    verification = await second.verify_session("default", "shared")
    assert verification is not None and verification.valid and verification.event_count == 80
    session = await first.get_session("default", "shared")
    assert session is not None and session.event_count == 80
