"""Timelines (limit/after, chunked iteration) and chain verification, including tampered rows."""

from __future__ import annotations

import re

import pytest

from store.interface import Store
from store.model import SessionPatch
from tests.store.builders import custom
from tests.store.rawsql import delete_event, tamper_event


async def timeline_ids(store: Store, session: str = "s1", **kw: object) -> list[str]:
    return [e.id for e in await store.get_session_timeline("default", session, **kw)]  # type: ignore[arg-type]


async def seed_ties(store: Store) -> list[str]:
    """Seven events of s1 whose timeline order is time asc, then id asc; returns that order."""
    await store.insert_events([
        custom("s1", at=3, event_id="d"), custom("s1", at=1, event_id="c"), custom("s1", at=1, event_id="a"),
        custom("s1", at=1, event_id="b"), custom("s1", at=0, event_id="z"), custom("s1", at=2, event_id="e"),
        custom("s1", at=2, event_id="f"), custom("other", at=0, event_id="o"),
    ])
    return ["z", "a", "b", "c", "e", "f", "d"]


async def test_timeline_is_time_then_id_ascending(store: Store) -> None:
    order = await seed_ties(store)
    assert await timeline_ids(store) == order
    assert await timeline_ids(store, "other") == ["o"]
    assert await timeline_ids(store, "unknown") == []


async def test_timeline_limit_and_after(store: Store) -> None:
    order = await seed_ties(store)
    assert await timeline_ids(store, limit=3) == order[:3]
    assert await timeline_ids(store, after="a") == order[2:]
    assert await timeline_ids(store, after="b", limit=2) == ["c", "e"]
    assert await timeline_ids(store, after="e", limit=100) == ["f", "d"]
    assert await timeline_ids(store, after="d") == []
    assert await timeline_ids(store, after="unknown") == []
    assert await timeline_ids(store, after="o") == []  # an event of another session


async def test_paging_with_after_visits_every_event_once(store: Store) -> None:
    order = await seed_ties(store)
    seen: list[str] = []
    after = None
    while True:
        page = await timeline_ids(store, limit=2, after=after)
        if not page:
            break
        seen += page
        after = page[-1]
    assert seen == order


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 100])
async def test_iter_session_timeline_chunks(store: Store, chunk_size: int) -> None:
    order = await seed_ties(store)
    chunks = [c async for c in store.iter_session_timeline("default", "s1", chunk_size=chunk_size)]
    assert [e.id for c in chunks for e in c] == order
    assert all(0 < len(c) <= chunk_size for c in chunks)
    assert len(chunks) == -(-len(order) // chunk_size)
    assert [c async for c in store.iter_session_timeline("default", "unknown")] == []


# ---------------------------------------------------------------------- verify_session


async def test_verify_valid_chain(store: Store) -> None:
    await store.insert_events([custom("s1", at=i) for i in range(3)])
    await store.insert_events([custom("s1", at=3)])
    v = await store.verify_session("default", "s1")
    assert v is not None
    assert (v.valid, v.failed_at_seq, v.reason, v.event_count, v.anchored) == (True, None, None, 4, False)


async def test_verify_unknown_session_is_none(store: Store) -> None:
    assert await store.verify_session("default", "nope") is None


async def test_verify_session_without_events(store: Store) -> None:
    await store.upsert_session("default", SessionPatch(id="empty", agent_id="a"))
    v = await store.verify_session("default", "empty")
    assert v is not None and (v.valid, v.event_count, v.anchored) == (True, 0, False)


async def seed_chain(store: Store, n: int = 5) -> list[str]:
    events = [custom("s1", {"i": i}, at=i, event_id=f"e{i}") for i in range(n)]
    await store.insert_events(events)
    return [e.id for e in events]


@pytest.mark.parametrize(
    ("seq", "column", "value", "reason"),
    [
        pytest.param(2, "payload", '{"type":"t","data":{"i":99}}', "hash mismatch", id="payload"),
        pytest.param(4, "severity", "debug", None, id="severity"),
        pytest.param(1, "hash", "0" * 64, "hash", id="hash"),
        pytest.param(3, "prev_hash", "f" * 64, "prevHash", id="prev_hash"),
        pytest.param(0, "prev_hash", "a" * 64, "^First event must have prevHash = null$", id="genesis_prev_hash"),
    ],
)
async def test_tampered_column_is_detected(
    store: Store, seq: int, column: str, value: str, reason: str | None
) -> None:
    """Changing one stored column of one event fails verification at that event (``reason``: a regex)."""
    ids = await seed_chain(store)
    await tamper_event(store, "default", ids[seq], column, value)
    v = await store.verify_session("default", "s1")
    assert v is not None and not v.valid and v.failed_at_seq == seq
    if reason is not None:
        assert v.reason is not None and re.search(reason, v.reason), v.reason


async def test_rehashed_event_still_breaks_the_link(store: Store) -> None:
    """Rewriting an event together with its own hash is caught by the next event's prevHash."""
    from store.canonical import event_hash

    ids = await seed_chain(store)
    victim = await store.get_event("default", ids[1])
    assert victim is not None
    forged_payload = '{"type":"t","data":{"i":"forged"}}'
    forged = event_hash(
        event_id=victim.id, timestamp=victim.timestamp, session_id=victim.session_id, agent_id=victim.agent_id,
        event_type=victim.event_type, severity=victim.severity, payload_json=forged_payload,
        metadata_json=victim.metadata_json, prev_hash=victim.prev_hash,
    )
    await tamper_event(store, "default", ids[1], "payload", forged_payload)
    await tamper_event(store, "default", ids[1], "hash", forged)
    v = await store.verify_session("default", "s1")
    assert v is not None and not v.valid and v.failed_at_seq == 2


async def test_deleted_middle_event_is_detected(store: Store) -> None:
    ids = await seed_chain(store)
    await delete_event(store, "default", ids[2])
    v = await store.verify_session("default", "s1")
    assert v is not None and not v.valid and v.failed_at_seq == 2
    assert v.reason is not None and "missing" in v.reason


async def test_deleted_last_event_is_detected(store: Store) -> None:
    ids = await seed_chain(store)
    await delete_event(store, "default", ids[-1])
    v = await store.verify_session("default", "s1")
    assert v is not None and not v.valid and v.failed_at_seq == 4


async def test_deleted_first_event_is_detected(store: Store) -> None:
    ids = await seed_chain(store)
    await delete_event(store, "default", ids[0])
    v = await store.verify_session("default", "s1")
    assert v is not None and not v.valid and v.failed_at_seq == 0 and not v.anchored


async def test_verify_reads_long_chains_in_chunks(store: Store) -> None:
    events = [custom("s1", {"i": i}, at=i / 1000, event_id=f"e{i:05d}") for i in range(2500)]
    await store.insert_events(events)
    v = await store.verify_session("default", "s1")
    assert v is not None and v.valid and v.event_count == 2500
    await tamper_event(store, "default", "e02100", "payload", '{"type":"t","data":{"i":-1}}')
    v = await store.verify_session("default", "s1")
    assert v is not None and not v.valid and v.failed_at_seq == 2100


async def test_tampering_one_session_leaves_others_valid(store: Store) -> None:
    await seed_chain(store)
    await store.insert_events([custom("s2", at=0, event_id="x0"), custom("s2", at=1, event_id="x1")])
    await tamper_event(store, "default", "e1", "payload", "{}")
    s1 = await store.verify_session("default", "s1")
    s2 = await store.verify_session("default", "s2")
    assert s1 is not None and not s1.valid
    assert s2 is not None and s2.valid and s2.event_count == 2
