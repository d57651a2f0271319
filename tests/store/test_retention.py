"""apply_retention: expired events only, orphan sessions, anchored chains that still verify; the audit row."""

from __future__ import annotations

import random

import pytest

from store.interface import Store
from store.model import EventQuery, RetentionResult, SessionQuery
from tests.store.builders import custom, session_started, ts, us
from tests.store.rawsql import delete_event, retention_runs, tamper_event


async def verified(store: Store, session: str, tenant: str = "default") -> tuple[bool, int, bool]:
    v = await store.verify_session(tenant, session)
    assert v is not None
    assert v.valid, v.reason
    return v.valid, v.event_count, v.anchored


async def remaining(store: Store, tenant: str = "default") -> list[str]:
    page = await store.query_events(tenant, EventQuery(limit=1000, order="asc"))
    return [e.id for e in page.events]


async def test_deletes_expired_events_and_orphan_sessions(store: Store) -> None:
    await store.insert_events([
        session_started("old", tags=["t"], at=0, event_id="o0"), custom("old", at=10, event_id="o1"),
        custom("mixed", at=5, event_id="m0"), custom("mixed", at=10, event_id="m1"),
        custom("mixed", at=20, event_id="m2"),
        custom("new", at=30, event_id="n0"),
    ])
    result = await store.apply_retention("default", us(ts(10)))   # inclusive cutoff
    assert result == RetentionResult(deleted_count=4, sessions_deleted=1, anchored_sessions=1, cutoff_us=us(ts(10)))
    assert await remaining(store) == ["m2", "n0"]
    assert await store.get_session("default", "old") is None
    assert await store.verify_session("default", "old") is None
    assert await store.get_session_timeline("default", "old") == []
    assert await verified(store, "mixed") == (True, 1, True)
    assert await verified(store, "new") == (True, 1, False)
    stats = await store.get_stats("default")
    assert (stats.total_events, stats.total_sessions) == (2, 2)


async def test_nothing_expired(store: Store) -> None:
    await store.insert_events([custom("s", at=60)])
    result = await store.apply_retention("default", us(ts(59)))
    assert result == RetentionResult(0, 0, 0, us(ts(59)))
    assert await verified(store, "s") == (True, 1, False)


async def test_chain_keeps_growing_after_retention(store: Store) -> None:
    await store.insert_events([custom("s", at=i, event_id=f"e{i}") for i in range(4)])
    await store.apply_retention("default", us(ts(1)))
    await store.insert_events([custom("s", at=10, event_id="e10")])
    stored = await store.get_event("default", "e10")
    assert stored is not None and stored.seq == 4
    assert await verified(store, "s") == (True, 3, True)


async def test_retention_twice_extends_the_anchor(store: Store) -> None:
    await store.insert_events([custom("s", at=i, event_id=f"e{i}") for i in range(6)])
    first = await store.apply_retention("default", us(ts(1)))
    second = await store.apply_retention("default", us(ts(3)))
    again = await store.apply_retention("default", us(ts(3)))
    assert (first.deleted_count, second.deleted_count, again.deleted_count) == (2, 2, 0)
    assert await remaining(store) == ["e4", "e5"]
    assert await verified(store, "s") == (True, 2, True)


async def test_out_of_order_timestamps_leave_a_middle_gap_that_verifies(store: Store) -> None:
    # appended in this order: seq 0 new, seq 1-2 old, seq 3 new, seq 4 old (the tail)
    await store.insert_events([
        custom("s", at=100, event_id="keep0"), custom("s", at=1, event_id="old1"), custom("s", at=2, event_id="old2"),
        custom("s", at=101, event_id="keep3"), custom("s", at=3, event_id="old4"),
    ])
    result = await store.apply_retention("default", us(ts(50)))
    assert (result.deleted_count, result.sessions_deleted, result.anchored_sessions) == (3, 0, 1)
    assert await remaining(store) == ["keep0", "keep3"]
    assert await verified(store, "s") == (True, 2, True)
    await store.insert_events([custom("s", at=102, event_id="keep5")])
    assert await verified(store, "s") == (True, 3, True)


async def test_small_batches_and_shuffled_times_still_verify(store: Store) -> None:
    rng = random.Random(7)
    times = [float(i) for i in range(40)]
    rng.shuffle(times)
    await store.insert_events([custom("s", {"i": i}, at=t, event_id=f"e{i}") for i, t in enumerate(times)])
    await store.insert_events([custom("t", at=t) for t in times[:10]])
    result = await store.apply_retention("default", us(ts(19)), batch_size=3)
    expected = sum(1 for t in times if t <= 19) + sum(1 for t in times[:10] if t <= 19)
    assert result.deleted_count == expected
    assert await verified(store, "s") == (True, 20, True)
    v = await store.verify_session("default", "t")
    assert v is not None and v.valid
    second = await store.apply_retention("default", us(ts(29)), batch_size=2)
    assert second.deleted_count > 0
    assert await verified(store, "s") == (True, 10, True)


async def test_a_session_emptied_by_retention_can_start_again(store: Store) -> None:
    await store.insert_events([session_started("s", tags=["x"], at=0), custom("s", at=1)])
    await store.apply_retention("default", us(ts(5)))
    assert await store.get_session("default", "s") is None
    await store.insert_events([custom("s", at=10, event_id="fresh")])
    stored = await store.get_event("default", "fresh")
    assert stored is not None and (stored.seq, stored.prev_hash) == (0, None)
    s = await store.get_session("default", "s")
    assert s is not None and (s.event_count, s.tags) == (1, ())
    assert await verified(store, "s") == (True, 1, False)
    assert (await store.query_sessions("default", SessionQuery(tags=("x",)))).total == 0


async def test_retention_is_per_tenant(store: Store) -> None:
    await store.insert_events([custom("s", at=0, tenant="a"), custom("s", at=0, tenant="b"),
                               custom("s", at=50, tenant="a")])
    result = await store.apply_retention("a", us(ts(10)))
    assert result.deleted_count == 1
    assert await store.count_events("b", EventQuery()) == 1
    assert await verified(store, "s", "b") == (True, 1, False)
    assert await verified(store, "s", "a") == (True, 1, True)


async def test_record_retention_run(store: Store) -> None:
    r1 = RetentionResult(5, 1, 2, us(ts(0)))
    r2 = RetentionResult(3, 0, 1, us(ts(0)))
    await store.record_retention_run(started_at=ts(60), cutoff=ts(0), results=[("a", r1), ("b", r2)],
                                     duration_ms=12.5)
    await store.record_retention_run(started_at=ts(120), cutoff=ts(1), results=[], duration_ms=1.0)
    rows = await retention_runs(store)
    assert [tuple(r) for r in rows] == [(ts(1), 0, 0, 0), (ts(0), 8, 1, 3)]


@pytest.mark.parametrize("batch_size", [1, 5000])
async def test_many_sessions_in_one_run(store: Store, batch_size: int) -> None:
    await store.insert_events([custom(f"s{i}", at=i % 3) for i in range(30)])
    result = await store.apply_retention("default", us(ts(1)), batch_size=batch_size)
    assert (result.deleted_count, result.sessions_deleted) == (20, 20)
    assert (await store.get_stats("default")).total_sessions == 10


async def test_an_anchor_does_not_excuse_a_later_deletion(store: Store) -> None:
    await store.insert_events([custom("s", at=i, event_id=f"e{i}") for i in range(5)])
    await store.apply_retention("default", us(ts(1)))          # anchors seqs 0..1
    await delete_event(store, "default", "e2")                  # behind the store's back
    v = await store.verify_session("default", "s")
    assert v is not None and not v.valid and v.failed_at_seq in (0, 2)  # where the unexplained gap is seen
    assert v.reason is not None and "missing" in v.reason


async def test_tampering_after_retention_is_detected(store: Store) -> None:
    await store.insert_events([custom("s", at=i, event_id=f"e{i}") for i in range(4)])
    await store.apply_retention("default", us(ts(1)))
    await tamper_event(store, "default", "e2", "prev_hash", "e" * 64)
    v = await store.verify_session("default", "s")
    assert v is not None and not v.valid and v.failed_at_seq == 2
