"""Alert rule CRUD (NotFound on missing rules) and alert history insert/list/resolve."""

from __future__ import annotations

import pytest

from store.errors import NotFound
from store.interface import Store
from store.model import AlertHistoryEntry, AlertRuleInput, AlertRulePatch
from tests.store.builders import ts

RULE = AlertRuleInput(name="errors", condition="error_rate_exceeds", threshold=0.1, window_minutes=5)


def entry(rule_id: str, i: int, at: float, tenant: str = "default") -> AlertHistoryEntry:
    return AlertHistoryEntry(
        id=f"h{i}", rule_id=rule_id, triggered_at=ts(at), resolved_at=None, current_value=0.5 + i,
        threshold=0.1, message=f"fired {i}", tenant_id=tenant,
    )


async def test_create_get_list(store: Store) -> None:
    full = AlertRuleInput(
        name="cost", condition="cost_exceeds", threshold=2.5, window_minutes=60, enabled=False,
        scope_agent_id="bot", scope_tags=("prod",), notify_channels=("https://hooks.example/x",),
    )
    a = await store.create_alert_rule("default", RULE)
    b = await store.create_alert_rule("default", full)
    assert a.id != b.id and a.id and b.id
    assert (a.name, a.enabled, a.condition, a.threshold, a.window_minutes) == (
        "errors", True, "error_rate_exceeds", 0.1, 5)
    assert (a.scope_agent_id, a.scope_tags, a.notify_channels, a.tenant_id) == (None, None, (), "default")
    assert a.created_at == a.updated_at
    assert (b.enabled, b.scope_agent_id, b.scope_tags, b.notify_channels) == (
        False, "bot", ("prod",), ("https://hooks.example/x",))
    assert await store.get_alert_rule("default", a.id) == a
    assert await store.get_alert_rule("default", b.id) == b
    assert await store.list_alert_rules("default") == [a, b]
    assert await store.get_alert_rule("default", "missing") is None


async def test_list_is_in_creation_order(store: Store) -> None:
    created = [await store.create_alert_rule("default", AlertRuleInput(
        name=f"r{i}", condition="event_count_exceeds", threshold=i, window_minutes=1)) for i in range(5)]
    assert [r.id for r in await store.list_alert_rules("default")] == [r.id for r in created]


async def test_update_applies_only_the_patch(store: Store) -> None:
    rule = await store.create_alert_rule("default", AlertRuleInput(
        name="r", condition="cost_exceeds", threshold=1, window_minutes=10, scope_agent_id="bot",
        scope_tags=("t",), notify_channels=("https://a",)))
    updated = await store.update_alert_rule("default", rule.id, AlertRulePatch(name="renamed", threshold=3.5))
    assert (updated.name, updated.threshold) == ("renamed", 3.5)
    assert (updated.condition, updated.window_minutes, updated.enabled, updated.scope_agent_id,
            updated.scope_tags, updated.notify_channels) == ("cost_exceeds", 10, True, "bot", ("t",), ("https://a",))
    assert (updated.id, updated.created_at) == (rule.id, rule.created_at)
    assert updated.updated_at >= rule.updated_at
    assert await store.get_alert_rule("default", rule.id) == updated


async def test_update_every_field_and_replace_scope(store: Store) -> None:
    rule = await store.create_alert_rule("default", AlertRuleInput(
        name="r", condition="cost_exceeds", threshold=1, window_minutes=10, scope_agent_id="bot", scope_tags=("t",)))
    patch = AlertRulePatch(name="n", condition="no_events_for", threshold=0, window_minutes=43200, enabled=False,
                           scope_set=True, scope_agent_id=None, scope_tags=("x", "y"), notify_channels=())
    updated = await store.update_alert_rule("default", rule.id, patch)
    assert (updated.name, updated.condition, updated.threshold, updated.window_minutes, updated.enabled) == (
        "n", "no_events_for", 0, 43200, False)
    assert (updated.scope_agent_id, updated.scope_tags, updated.notify_channels) == (None, ("x", "y"), ())
    assert await store.get_alert_rule("default", rule.id) == updated
    cleared = await store.update_alert_rule("default", rule.id, AlertRulePatch(scope_set=True))
    assert (cleared.scope_agent_id, cleared.scope_tags) == (None, None)


async def test_empty_patch_still_checks_existence(store: Store) -> None:
    rule = await store.create_alert_rule("default", RULE)
    same = await store.update_alert_rule("default", rule.id, AlertRulePatch())
    assert (same.name, same.threshold) == (rule.name, rule.threshold)
    with pytest.raises(NotFound):
        await store.update_alert_rule("default", "missing", AlertRulePatch())


async def test_update_and_delete_missing_rule_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.update_alert_rule("default", "missing", AlertRulePatch(name="x"))
    with pytest.raises(NotFound):
        await store.delete_alert_rule("default", "missing")


async def test_delete_keeps_history(store: Store) -> None:
    rule = await store.create_alert_rule("default", RULE)
    other = await store.create_alert_rule("default", RULE)
    await store.insert_alert_history("default", entry(rule.id, 1, 0))
    await store.delete_alert_rule("default", rule.id)
    assert await store.get_alert_rule("default", rule.id) is None
    assert [r.id for r in await store.list_alert_rules("default")] == [other.id]
    with pytest.raises(NotFound):
        await store.delete_alert_rule("default", rule.id)
    page = await store.list_alert_history("default", rule_id=rule.id)
    assert [e.id for e in page.entries] == ["h1"]


# ---------------------------------------------------------------------- history


async def test_history_insert_and_list_newest_first(store: Store) -> None:
    rule = await store.create_alert_rule("default", RULE)
    other = await store.create_alert_rule("default", RULE)
    for i, at in enumerate([10, 30, 20, 30]):
        await store.insert_alert_history("default", entry(rule.id, i, at))
    await store.insert_alert_history("default", entry(other.id, 9, 25))
    page = await store.list_alert_history("default")
    assert [e.id for e in page.entries] == ["h3", "h1", "h9", "h2", "h0"]  # ties by id desc
    assert (page.total, page.has_more) == (5, False)
    first = page.entries[-1]
    assert first == entry(rule.id, 0, 10)
    by_rule = await store.list_alert_history("default", rule_id=other.id)
    assert ([e.id for e in by_rule.entries], by_rule.total) == (["h9"], 1)
    assert (await store.list_alert_history("default", rule_id="missing")).total == 0


async def test_history_paging(store: Store) -> None:
    rule = await store.create_alert_rule("default", RULE)
    for i in range(5):
        await store.insert_alert_history("default", entry(rule.id, i, i))
    page = await store.list_alert_history("default", limit=2)
    assert ([e.id for e in page.entries], page.total, page.has_more) == (["h4", "h3"], 5, True)
    page = await store.list_alert_history("default", limit=2, offset=4)
    assert ([e.id for e in page.entries], page.has_more) == (["h0"], False)
    page = await store.list_alert_history("default", rule_id=rule.id, limit=3, offset=1)
    assert ([e.id for e in page.entries], page.total, page.has_more) == (["h3", "h2", "h1"], 5, True)


async def test_history_order_uses_the_instant(store: Store) -> None:
    rule = await store.create_alert_rule("default", RULE)
    for i, at in enumerate(["2026-11-27T10:00:00Z", "2026-11-27T10:00:00.5Z", "2026-11-27T11:30:00+02:00"]):
        await store.insert_alert_history("default", AlertHistoryEntry(
            id=f"h{i}", rule_id=rule.id, triggered_at=at, resolved_at=None, current_value=1, threshold=0,
            message="m", tenant_id="default"))
    page = await store.list_alert_history("default")
    assert [e.id for e in page.entries] == ["h1", "h0", "h2"]


async def test_resolve(store: Store) -> None:
    rule = await store.create_alert_rule("default", RULE)
    await store.insert_alert_history("default", entry(rule.id, 1, 0))
    await store.insert_alert_history("default", entry(rule.id, 2, 1))
    await store.resolve_alert_history("default", "h1", ts(60))
    entries = {e.id: e for e in (await store.list_alert_history("default")).entries}
    assert entries["h1"].resolved_at == ts(60)
    assert entries["h2"].resolved_at is None
    with pytest.raises(NotFound):
        await store.resolve_alert_history("default", "missing", ts(60))
