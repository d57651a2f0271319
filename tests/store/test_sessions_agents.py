"""Session and agent materialization on insert, upsert_session/upsert_agent, list_agents/get_agent."""

from __future__ import annotations

import pytest

from store.interface import Store
from store.model import AgentPatch, SessionPatch, SessionQuery
from tests.store.builders import (
    cost,
    custom,
    ev,
    llm_response,
    session_ended,
    session_started,
    tool_call,
    tool_error,
    tool_response,
    ts,
    us,
)


async def test_any_event_auto_creates_session_and_agent(store: Store) -> None:
    await store.insert_events([tool_call("s1", at=30, agent="bot")])
    s = await store.get_session("default", "s1")
    assert s is not None
    assert (s.id, s.agent_id, s.agent_name, s.started_at, s.ended_at) == ("s1", "bot", None, ts(30), None)
    assert (s.status, s.event_count, s.tool_call_count, s.error_count) == ("active", 1, 1, 0)
    assert (s.tags, s.tenant_id, s.last_event_at) == ((), "default", ts(30))
    a = await store.get_agent("default", "bot")
    assert a is not None
    assert (a.id, a.name, a.first_seen_at, a.last_seen_at, a.session_count) == ("bot", "bot", ts(30), ts(30), 1)


async def test_session_started_sets_name_tags_and_status(store: Store) -> None:
    await store.insert_events([session_started("s1", "Support Bot", ["prod", "eu"])])
    s = await store.get_session("default", "s1")
    assert s is not None
    assert (s.agent_name, s.tags, s.status, s.event_count) == ("Support Bot", ("prod", "eu"), "active", 1)
    a = await store.get_agent("default", "agent-1")
    assert a is not None and a.name == "Support Bot"


@pytest.mark.parametrize(("reason", "status"), [
    ("completed", "completed"), ("error", "error"), ("timeout", "completed"), ("manual", "completed"),
])
async def test_session_ended_sets_end_and_status(store: Store, reason: str, status: str) -> None:
    await store.insert_events([session_started("s1", at=0), session_ended("s1", reason, at=10)])
    s = await store.get_session("default", "s1")
    assert s is not None
    assert (s.status, s.ended_at, s.event_count, s.idle) == (status, ts(10), 2, False)


async def test_session_started_after_end_reopens_and_next_end_closes(store: Store) -> None:
    await store.insert_events([session_started("s1", at=0), session_ended("s1", "error", at=1)])
    await store.insert_events([session_started("s1", at=2)])
    s = await store.get_session("default", "s1")
    assert s is not None and (s.status, s.ended_at, s.started_at) == ("active", None, ts(0))
    await store.insert_events([session_ended("s1", at=3)])
    s = await store.get_session("default", "s1")
    assert s is not None and (s.status, s.ended_at, s.event_count) == ("completed", ts(3), 4)


async def test_counters_follow_the_rules(store: Store) -> None:
    await store.insert_events([
        session_started("s1", "Bot", at=0),
        tool_call("s1", at=1),
        tool_call("s1", at=2),
        tool_response("s1", at=3),
        tool_error("s1", at=4),                           # error by type
        tool_error("s1", at=5, severity="error"),         # counted once, not twice
        custom("s1", at=6, severity="critical"),
        custom("s1", at=7, severity="warn"),
        cost("s1", 0.05, (1000, 1000), at=8),              # cost_tracked tokens are not session tokens
        llm_response("s1", 0.10, (100, 20), at=9),
        llm_response("s1", 0.20, (50, 5), at=10, severity="error"),
        ev("s1", "llm_call", {"callId": "l", "provider": "p", "model": "m",
                              "messages": [{"role": "user", "content": "hi"}]}, at=11),
    ])
    s = await store.get_session("default", "s1")
    assert s is not None
    assert s.event_count == 12
    assert s.tool_call_count == 2
    assert s.error_count == 4
    assert s.llm_call_count == 2
    assert (s.total_input_tokens, s.total_output_tokens) == (150, 25)
    assert s.total_cost_usd == pytest.approx(0.35)
    assert s.last_event_at == ts(11)


async def test_counters_accumulate_across_calls(store: Store) -> None:
    await store.insert_events([cost("s1", 0.25, at=0)])
    await store.insert_events([llm_response("s1", 0.5, (7, 3), at=1), tool_call("s1", at=2)])
    s = await store.get_session("default", "s1")
    assert s is not None
    assert (s.event_count, s.tool_call_count, s.llm_call_count) == (3, 1, 1)
    assert (s.total_input_tokens, s.total_output_tokens) == (7, 3)
    assert s.total_cost_usd == pytest.approx(0.75)


async def test_last_event_and_last_seen_never_move_backwards(store: Store) -> None:
    await store.insert_events([custom("s1", at=600)])
    await store.insert_events([custom("s1", at=60)])
    s = await store.get_session("default", "s1")
    assert s is not None and s.last_event_at == ts(600) and s.event_count == 2
    a = await store.get_agent("default", "agent-1")
    assert a is not None and a.last_seen_at == ts(600)
    await store.insert_events([custom("s1", at=900)])
    a = await store.get_agent("default", "agent-1")
    assert a is not None and a.last_seen_at == ts(900)


async def test_agent_name_is_the_first_session_started_name(store: Store) -> None:
    await store.insert_events([custom("s0", at=0, agent="bot")])
    assert (await store.get_agent("default", "bot")).name == "bot"  # type: ignore[union-attr]
    await store.insert_events([session_started("s1", "First Name", at=1, agent="bot")])
    await store.insert_events([session_started("s2", "Second Name", at=2, agent="bot")])
    a = await store.get_agent("default", "bot")
    assert a is not None and a.name == "First Name"
    s2 = await store.get_session("default", "s2")
    assert s2 is not None and s2.agent_name == "Second Name"


async def test_session_started_without_tags_keeps_existing_tags(store: Store) -> None:
    await store.insert_events([session_started("s1", "Bot", ["a", "b"], at=0)])
    await store.insert_events([session_started("s1", at=1)])
    s = await store.get_session("default", "s1")
    assert s is not None and s.tags == ("a", "b") and s.agent_name == "Bot"
    await store.insert_events([session_started("s1", tags=["c"], at=2)])
    s = await store.get_session("default", "s1")
    assert s is not None and s.tags == ("c",)


async def test_session_count_is_counted_from_sessions(store: Store) -> None:
    await store.insert_events([
        session_started("s1", "Bot", at=0), custom("s2", at=1), custom("s2", at=2), custom("s3", at=3, agent="other"),
    ])
    a = await store.get_agent("default", "agent-1")
    assert a is not None and a.session_count == 2
    await store.upsert_session("default", SessionPatch(id="manual", agent_id="agent-1", started_at=ts(5)))
    assert [(x.id, x.session_count) for x in await store.list_agents("default")] == [
        ("other", 1), ("agent-1", 3),
    ]


async def test_list_agents_orders_by_last_seen_desc(store: Store) -> None:
    await store.insert_events([custom("s1", at=10, agent="b"), custom("s2", at=30, agent="a")])
    await store.insert_events([custom("s3", at=20, agent="c")])
    assert [a.id for a in await store.list_agents("default")] == ["a", "c", "b"]
    await store.insert_events([custom("s1", at=40, agent="b")])
    agents = await store.list_agents("default")
    assert [a.id for a in agents] == ["b", "a", "c"]
    assert all(a.tenant_id == "default" for a in agents)


async def test_unknown_agent_and_session_are_none(store: Store) -> None:
    assert await store.get_agent("default", "nope") is None
    assert await store.get_session("default", "nope") is None
    assert await store.list_agents("default") == []


# ---------------------------------------------------------------------- upsert_session / upsert_agent


async def test_upsert_session_creates_with_defaults(store: Store) -> None:
    s = await store.upsert_session("default", SessionPatch(id="m1", agent_id="bot", started_at=ts(0)))
    assert (s.id, s.agent_id, s.agent_name, s.started_at, s.ended_at, s.status) == (
        "m1", "bot", None, ts(0), None, "active")
    assert (s.event_count, s.tool_call_count, s.error_count, s.llm_call_count) == (0, 0, 0, 0)
    assert (s.total_cost_usd, s.total_input_tokens, s.total_output_tokens, s.tags) == (0.0, 0, 0, ())
    assert s.tenant_id == "default"
    assert await store.get_session("default", "m1") == s


async def test_upsert_session_updates_only_given_fields(store: Store) -> None:
    await store.insert_events([session_started("s1", "Bot", ["x"], at=0), tool_call("s1", at=1)])
    s = await store.upsert_session("default", SessionPatch(id="s1", status="completed", ended_at=ts(9),
                                                           total_cost_usd=1.25, tags=("y", "z")))
    assert (s.status, s.ended_at, s.total_cost_usd, s.tags) == ("completed", ts(9), 1.25, ("y", "z"))
    assert (s.agent_name, s.agent_id, s.event_count, s.tool_call_count, s.started_at) == (
        "Bot", "agent-1", 2, 1, ts(0))
    page = await store.query_sessions("default", SessionQuery(tags=("z",)))
    assert [x.id for x in page.sessions] == ["s1"]
    # the chain is untouched: the next event continues it
    await store.insert_events([custom("s1", at=2)])
    v = await store.verify_session("default", "s1")
    assert v is not None and v.valid and v.event_count == 3


async def test_upsert_session_moves_started_at_for_filters_and_order(store: Store) -> None:
    await store.insert_events([custom("a", at=0), custom("b", at=60)])
    await store.upsert_session("default", SessionPatch(id="a", started_at=ts(120)))
    page = await store.query_sessions("default", SessionQuery())
    assert [s.id for s in page.sessions] == ["a", "b"]
    later = await store.query_sessions("default", SessionQuery(from_us=us(ts(90))))
    assert [s.id for s in later.sessions] == ["a"]


async def test_events_append_to_an_upserted_session(store: Store) -> None:
    await store.upsert_session("default", SessionPatch(id="m1", agent_id="bot", started_at=ts(0)))
    await store.insert_events([tool_call("m1", at=1, agent="bot")])
    s = await store.get_session("default", "m1")
    assert s is not None and (s.event_count, s.tool_call_count, s.started_at) == (1, 1, ts(0))
    (stored,) = await store.get_session_timeline("default", "m1")
    assert stored.seq == 0 and stored.prev_hash is None


async def test_upsert_agent_creates_and_updates(store: Store) -> None:
    a = await store.upsert_agent("default", AgentPatch(id="bot", last_seen_at=ts(5)))
    assert (a.id, a.name, a.description, a.first_seen_at, a.last_seen_at, a.session_count, a.tenant_id) == (
        "bot", "bot", None, ts(5), ts(5), 0, "default")
    a = await store.upsert_agent("default", AgentPatch(id="bot", name="Bot", description="helps"))
    assert (a.name, a.description, a.last_seen_at) == ("Bot", "helps", ts(5))
    a = await store.upsert_agent("default", AgentPatch(id="bot", last_seen_at=ts(50)))
    assert (a.name, a.last_seen_at) == ("Bot", ts(50))
    assert await store.get_agent("default", "bot") == a


async def test_upsert_agent_last_seen_orders_the_list(store: Store) -> None:
    await store.insert_events([custom("s1", at=10, agent="x"), custom("s2", at=20, agent="y")])
    await store.upsert_agent("default", AgentPatch(id="x", last_seen_at=ts(30)))
    assert [a.id for a in await store.list_agents("default")] == ["x", "y"]


async def test_upsert_session_with_no_tags_clears_them(store: Store) -> None:
    await store.insert_events([session_started("s1", tags=["a"])])
    s = await store.upsert_session("default", SessionPatch(id="s1", tags=()))
    assert s.tags == ()
    assert (await store.query_sessions("default", SessionQuery(tags=("a",)))).total == 0
