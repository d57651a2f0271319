"""Tenant isolation: another tenant sees nothing, and another tenant's ids behave as unknown."""

from __future__ import annotations

import pytest

from store.errors import NotFound
from store.interface import Store
from store.model import (
    AgentPatch,
    AlertHistoryEntry,
    AlertRuleInput,
    AlertRulePatch,
    AnalyticsParams,
    ApiKey,
    EventQuery,
    SessionPatch,
    SessionQuery,
)
from tests.store.builders import cost, custom, session_started, tool_error, ts, us

A, B = "tenant-a", "tenant-b"
ALL = AnalyticsParams(us("2020-01-01T00:00:00Z"), us("2030-01-01T00:00:00Z"), "day")


async def seed_a(store: Store) -> None:
    await store.insert_events([
        session_started("s1", "Bot", ["prod"], at=0, tenant=A, agent="bot", event_id="e0"),
        tool_error("s1", at=1, tenant=A, agent="bot", event_id="e1"),
        cost("s1", 1.5, at=2, tenant=A, agent="bot", event_id="e2"),
    ])


async def test_events_are_invisible_to_another_tenant(store: Store) -> None:
    await seed_a(store)
    page = await store.query_events(B, EventQuery())
    assert (page.events, page.total, page.has_more) == ((), 0, False)
    assert await store.count_events(B, EventQuery(session_id="s1")) == 0
    assert await store.get_event(B, "e0") is None
    assert await store.get_events_by_ids(B, ["e0", "e1"]) == []
    assert await store.get_session_timeline(B, "s1") == []
    assert await store.get_session_timeline(B, "s1", after="e0") == []
    assert await store.get_session_timeline(A, "s1", after="e0", limit=5) != []
    assert [c async for c in store.iter_session_timeline(B, "s1")] == []
    assert await store.verify_session(B, "s1") is None
    assert await store.count_events(A, EventQuery()) == 3


async def test_sessions_and_agents_are_invisible_to_another_tenant(store: Store) -> None:
    await seed_a(store)
    assert await store.get_session(B, "s1") is None
    page = await store.query_sessions(B, SessionQuery(tags=("prod",)))
    assert (page.sessions, page.total) == ((), 0)
    assert await store.count_sessions(B, SessionQuery()) == 0
    assert await store.list_agents(B) == []
    assert await store.get_agent(B, "bot") is None
    assert [s.id for s in (await store.query_sessions(A, SessionQuery(tags=("prod",)))).sessions] == ["s1"]


async def test_same_session_id_in_another_tenant_is_another_session(store: Store) -> None:
    await seed_a(store)
    await store.insert_events([custom("s1", at=5, tenant=B, agent="bot", event_id="e0")])
    (b_event,) = await store.get_session_timeline(B, "s1")
    assert (b_event.seq, b_event.prev_hash, b_event.tenant_id) == (0, None, B)
    sa, sb = await store.get_session(A, "s1"), await store.get_session(B, "s1")
    assert sa is not None and sb is not None
    assert (sa.event_count, sa.error_count, sa.total_cost_usd, sa.tags) == (3, 1, 1.5, ("prod",))
    assert (sb.event_count, sb.error_count, sb.total_cost_usd, sb.tags, sb.agent_name) == (1, 0, 0, (), None)
    ab, bb = await store.get_agent(A, "bot"), await store.get_agent(B, "bot")
    assert ab is not None and bb is not None
    assert (ab.name, ab.session_count, ab.tenant_id) == ("Bot", 1, A)
    assert (bb.name, bb.session_count, bb.tenant_id, bb.last_seen_at) == ("bot", 1, B, ts(5))
    va, vb = await store.verify_session(A, "s1"), await store.verify_session(B, "s1")
    assert va is not None and va.event_count == 3 and va.valid
    assert vb is not None and vb.event_count == 1 and vb.valid


async def test_upserts_touch_only_their_tenant(store: Store) -> None:
    await seed_a(store)
    await store.upsert_session(B, SessionPatch(id="s1", agent_id="x", status="completed"))
    await store.upsert_agent(B, AgentPatch(id="bot", name="Other"))
    sa = await store.get_session(A, "s1")
    assert sa is not None and (sa.status, sa.agent_id) == ("active", "bot")
    agent = await store.get_agent(A, "bot")
    assert agent is not None and agent.name == "Bot"
    sb = await store.get_session(B, "s1")
    assert sb is not None and (sb.status, sb.event_count, sb.tenant_id) == ("completed", 0, B)


async def test_analytics_stats_and_alert_windows_are_per_tenant(store: Store) -> None:
    await seed_a(store)
    result = await store.get_analytics(B, ALL)
    assert result.buckets == () and result.totals.event_count == 0
    assert (await store.get_analytics(A, ALL)).totals.event_count == 3
    window = await store.get_alert_window_stats(B, ALL.from_us, ALL.to_us, agent_id=None, tags=["prod"])
    assert (window.event_count, window.error_count, window.total_cost_usd) == (0, 0, 0)
    stats = await store.get_stats(B)
    assert (stats.total_events, stats.total_sessions, stats.total_agents, stats.oldest_event) == (0, 0, 0, None)
    assert (await store.get_stats(A)).total_events == 3


async def test_alert_rules_and_history_are_per_tenant(store: Store) -> None:
    rule = await store.create_alert_rule(A, AlertRuleInput(name="r", condition="cost_exceeds", threshold=1,
                                                           window_minutes=5))
    await store.insert_alert_history(A, AlertHistoryEntry(
        id="h1", rule_id=rule.id, triggered_at=ts(0), resolved_at=None, current_value=2, threshold=1,
        message="m", tenant_id=A))
    assert await store.list_alert_rules(B) == []
    assert await store.get_alert_rule(B, rule.id) is None
    with pytest.raises(NotFound):
        await store.update_alert_rule(B, rule.id, AlertRulePatch(name="hijack"))
    with pytest.raises(NotFound):
        await store.update_alert_rule(B, rule.id, AlertRulePatch())
    with pytest.raises(NotFound):
        await store.delete_alert_rule(B, rule.id)
    with pytest.raises(NotFound):
        await store.resolve_alert_history(B, "h1", ts(9))
    page = await store.list_alert_history(B)
    assert (page.entries, page.total) == ((), 0)
    assert (await store.list_alert_history(B, rule_id=rule.id)).total == 0
    kept = await store.get_alert_rule(A, rule.id)
    assert kept == rule
    (entry,) = (await store.list_alert_history(A)).entries
    assert entry.resolved_at is None and entry.tenant_id == A


async def test_keys_and_settings_are_per_tenant(store: Store) -> None:
    await store.create_api_key(ApiKey(id="k1", key_hash="a" * 64, name="n", scopes=("*",), tenant_id=A,
                                      created_at=1))
    assert await store.list_api_keys(B) == []
    with pytest.raises(NotFound):
        await store.revoke_api_key(B, "k1", 2)
    found = await store.find_api_key("a" * 64)
    assert found is not None and found.tenant_id == A and found.revoked_at is None
    await store.put_settings(A, {"retentionDays": "5"})
    assert await store.get_settings(B) == {}


async def test_retention_of_one_tenant_keeps_the_others(store: Store) -> None:
    await seed_a(store)
    await store.insert_events([custom("s1", at=0, tenant=B)])
    result = await store.apply_retention(B, us(ts(100)))
    assert (result.deleted_count, result.sessions_deleted) == (1, 1)
    assert await store.count_events(A, EventQuery()) == 3
    v = await store.verify_session(A, "s1")
    assert v is not None and v.valid and not v.anchored
