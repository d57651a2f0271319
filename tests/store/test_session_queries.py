"""query_sessions / count_sessions: order, filters, derived idle status, tags any-of exact match, paging."""

from __future__ import annotations

from store.interface import Store
from store.model import SessionPatch, SessionQuery
from tests.store.builders import BASE_US, MINUTE_US, custom, session_ended, session_started, ts, us
from tests.store.conftest import Clock


async def ids(store: Store, query: SessionQuery) -> list[str]:
    page = await store.query_sessions("default", query)
    assert page.total == await store.count_sessions("default", query)
    return [s.id for s in page.sessions]


async def test_ordered_by_started_at_desc_ties_by_id_desc(store: Store) -> None:
    await store.insert_events([custom("b", at=10), custom("a", at=10), custom("c", at=5), custom("d", at=20)])
    assert await ids(store, SessionQuery()) == ["d", "b", "a", "c"]


async def test_started_at_uses_the_instant_not_the_text(store: Store) -> None:
    # lexicographically "…10:00:00.5Z" < "…10:00:00Z", but it is half a second later
    await store.insert_events([custom("whole", at="2026-11-27T10:00:00Z"), custom("half", at="2026-11-27T10:00:00.5Z"),
                               custom("offset", at="2026-11-27T11:00:00.25+02:00")])
    assert await ids(store, SessionQuery()) == ["half", "whole", "offset"]
    s = await store.get_session("default", "offset")
    assert s is not None and s.started_at == "2026-11-27T11:00:00.25+02:00"


async def test_filters_by_agent_and_started_range_inclusive(store: Store) -> None:
    await store.insert_events([
        custom("s0", at=0, agent="x"), custom("s1", at=60, agent="y"), custom("s2", at=120, agent="x"),
        custom("s3", at=180, agent="x"),
    ])
    assert await ids(store, SessionQuery(agent_id="x")) == ["s3", "s2", "s0"]
    assert await ids(store, SessionQuery(from_us=us(ts(60)), to_us=us(ts(120)))) == ["s2", "s1"]
    assert await ids(store, SessionQuery(agent_id="x", from_us=us(ts(60)))) == ["s3", "s2"]
    assert await ids(store, SessionQuery(to_us=us(ts(0)))) == ["s0"]
    assert await ids(store, SessionQuery(agent_id="nobody")) == []


async def test_range_is_on_started_at_not_on_later_events(store: Store) -> None:
    await store.insert_events([custom("s1", at=0), custom("s1", at=600)])
    assert await ids(store, SessionQuery(from_us=us(ts(300)))) == []


async def test_tags_any_of_exact_match(store: Store) -> None:
    await store.insert_events([
        session_started("prod-eu", tags=["prod", "eu"], at=0),
        session_started("production", tags=["production"], at=1),
        session_started("dev", tags=["dev"], at=2),
        session_started("none", at=3),
        session_started("percent", tags=["p%d_"], at=4),
    ])
    assert await ids(store, SessionQuery(tags=("prod",))) == ["prod-eu"]
    assert await ids(store, SessionQuery(tags=("prod", "dev"))) == ["dev", "prod-eu"]
    assert await ids(store, SessionQuery(tags=("eu", "prod"))) == ["prod-eu"]
    assert await ids(store, SessionQuery(tags=("pro",))) == []
    assert await ids(store, SessionQuery(tags=("PROD",))) == []
    assert await ids(store, SessionQuery(tags=("p%",))) == []
    assert await ids(store, SessionQuery(tags=("p%d_",))) == ["percent"]


async def test_paging_total_and_has_more(store: Store) -> None:
    await store.insert_events([custom(f"s{i}", at=i) for i in range(5)])
    page = await store.query_sessions("default", SessionQuery(limit=2))
    assert ([s.id for s in page.sessions], page.total, page.has_more) == (["s4", "s3"], 5, True)
    page = await store.query_sessions("default", SessionQuery(limit=2, offset=2))
    assert ([s.id for s in page.sessions], page.has_more) == (["s2", "s1"], True)
    page = await store.query_sessions("default", SessionQuery(limit=2, offset=4))
    assert ([s.id for s in page.sessions], page.has_more) == (["s0"], False)
    page = await store.query_sessions("default", SessionQuery(limit=10, offset=9))
    assert (page.sessions, page.total, page.has_more) == ((), 5, False)
    assert await store.count_sessions("default", SessionQuery(limit=1, offset=3)) == 5


async def test_empty_store(store: Store) -> None:
    page = await store.query_sessions("default", SessionQuery())
    assert (page.sessions, page.total, page.has_more) == ((), 0, False)
    assert await store.count_sessions("default", SessionQuery(statuses=("idle",))) == 0


# ---------------------------------------------------------------------- derived idle


async def test_idle_is_derived_from_the_last_event(clocked_store: Store, clock: Clock) -> None:
    store = clocked_store
    clock.now_us = BASE_US + 60 * MINUTE_US  # 11:00
    await store.insert_events([
        session_started("old", at=0),                      # 10:00, nothing since -> idle
        session_started("busy", at=0), custom("busy", at=45 * 60),  # started 10:00, event 10:45 -> active
        session_started("done", at=0), session_ended("done", at=1),  # ended long ago -> not idle
        session_started("failed", at=0), session_ended("failed", "error", at=1),
    ])
    by_id = {s.id: s for s in (await store.query_sessions("default", SessionQuery())).sessions}
    assert {k: (s.status, s.idle) for k, s in by_id.items()} == {
        "old": ("active", True), "busy": ("active", False), "done": ("completed", False),
        "failed": ("error", False),
    }
    old = await store.get_session("default", "old")
    assert old is not None and old.idle and old.status == "active"

    assert await ids(store, SessionQuery(statuses=("idle",))) == ["old"]
    assert await ids(store, SessionQuery(statuses=("active",))) == ["busy"]
    assert sorted(await ids(store, SessionQuery(statuses=("active", "idle")))) == ["busy", "old"]
    assert await ids(store, SessionQuery(statuses=("completed",))) == ["done"]
    assert await ids(store, SessionQuery(statuses=("error",))) == ["failed"]
    assert sorted(await ids(store, SessionQuery(statuses=("idle", "error")))) == ["failed", "old"]
    assert sorted(await ids(store, SessionQuery(statuses=("active", "completed")))) == ["busy", "done"]


async def test_a_session_goes_idle_as_time_passes_and_wakes_on_a_new_event(
    clocked_store: Store, clock: Clock,
) -> None:
    store = clocked_store
    await store.insert_events([custom("s1", at=0)])
    clock.advance_minutes(29)
    s = await store.get_session("default", "s1")
    assert s is not None and not s.idle
    assert await ids(store, SessionQuery(statuses=("active",))) == ["s1"]
    clock.advance_minutes(2)
    s = await store.get_session("default", "s1")
    assert s is not None and s.idle and s.status == "active"
    assert await ids(store, SessionQuery(statuses=("idle",))) == ["s1"]
    assert await ids(store, SessionQuery(statuses=("active",))) == []
    await store.insert_events([custom("s1", at=30 * 60)])
    s = await store.get_session("default", "s1")
    assert s is not None and not s.idle
    assert await ids(store, SessionQuery(statuses=("idle",))) == []


async def test_upserted_session_without_events_idles_from_its_start(clocked_store: Store, clock: Clock) -> None:
    store = clocked_store
    await clocked_store.upsert_session("default", SessionPatch(id="m", agent_id="a", started_at=ts(0)))
    clock.advance_minutes(31)
    s = await store.get_session("default", "m")
    assert s is not None and s.idle
    assert await ids(store, SessionQuery(statuses=("idle",))) == ["m"]


async def test_idle_combines_with_other_filters(clocked_store: Store, clock: Clock) -> None:
    store = clocked_store
    await store.insert_events([
        session_started("a-old", tags=["t"], at=0, agent="a"),
        session_started("b-old", tags=["t"], at=1, agent="b"),
        session_started("a-other", tags=["u"], at=2, agent="a"),
    ])
    clock.advance_minutes(120)
    assert await ids(store, SessionQuery(statuses=("idle",), agent_id="a", tags=("t",))) == ["a-old"]
    assert await ids(store, SessionQuery(statuses=("idle",), tags=("t", "u"), limit=1)) == ["a-other"]
