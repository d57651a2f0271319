"""The alert evaluator on a real store, controlled clock: conditions, boundaries, scope, quiet period, resolution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from collector.jobs.alerts import AlertEvaluator, fmt_number
from collector.jobs.scheduler import Scheduler
from collector.metrics import Metrics
from collector.stream.bus import StreamBus, StreamFilter, Subscriber
from store.interface import Store
from store.model import AlertRule, AlertRuleInput, NewEvent
from store.timefmt import format_ms
from tests.jobs.conftest import MINUTE_US, Clock
from tests.store.builders import cost, custom, ev, llm_response, session_started, tool_error, tool_response


def ago(clock: Clock, minutes: float = 0, ms: int = 0) -> str:
    return format_ms(clock() - round(minutes * MINUTE_US) - ms * 1000)


async def make_rule(store: Store, condition: str, threshold: float, *, window: int = 5, tenant: str = "default",
                    **fields: Any) -> AlertRule:
    return await store.create_alert_rule(tenant, AlertRuleInput(
        name=fields.pop("name", f"{condition} > {threshold}"), condition=condition, threshold=threshold,
        window_minutes=window, **fields,
    ))


async def history(store: Store, rule: AlertRule) -> list[Any]:
    return list((await store.list_alert_history(rule.tenant_id, rule_id=rule.id, limit=500)).entries)


async def messages(sub: Subscriber) -> list[tuple[str, dict[str, Any]]]:
    """The frames queued for a subscriber, decoded."""
    frames = await sub.take(0)
    assert frames is not None
    out = []
    for frame in frames:
        head, data = frame.decode().strip().split("\n")
        out.append((head.removeprefix("event: "), orjson.loads(data.removeprefix("data: "))))
    return out


@pytest.fixture
def bus(clocked_store: Store) -> StreamBus:
    return StreamBus(clocked_store, Metrics(), client_buffer_bytes=1 << 20, max_clients=10)


@pytest.fixture
def evaluator(clocked_store: Store, bus: StreamBus) -> AlertEvaluator:
    return AlertEvaluator(clocked_store, publisher=bus)


@pytest.fixture
def now(clock: Clock) -> int:
    return clock.advance(minutes=60)


async def test_no_rules_or_only_disabled_rules_do_nothing(clocked_store: Store, evaluator: AlertEvaluator,
                                                          now: int) -> None:
    assert await evaluator.run_once(now) == []
    rule = await make_rule(clocked_store, "no_events_for", 0, enabled=False)
    assert await evaluator.run_once(now) == []
    assert await history(clocked_store, rule) == []


def _error_rate_events(c: Clock) -> list[NewEvent]:          # 1 error in 4 events = 0.25
    return [custom("s", at=ago(c, 1)), custom("s", at=ago(c, 2)), custom("s", at=ago(c, 3)),
            tool_error("s", at=ago(c, 4))]


def _cost_events(c: Clock) -> list[NewEvent]:                 # 0.25 + 0.5 = 0.75 (llm_response counts)
    return [cost("s", cost_usd=0.25, at=ago(c, 1)), llm_response("s", cost_usd=0.5, at=ago(c, 2))]


def _latency_events(c: Clock) -> list[NewEvent]:              # tool_response mean (100 + 300) / 2; LLM latency ignored
    return [tool_response("s", duration_ms=100, at=ago(c, 1)), tool_response("s", duration_ms=300, at=ago(c, 2)),
            llm_response("s", latency_ms=5000, at=ago(c, 3))]


def _count_events(c: Clock) -> list[NewEvent]:
    return [custom("s", at=ago(c, i)) for i in range(3)]


@pytest.mark.parametrize(("condition", "events", "value", "below", "fired_message"), [
    ("error_rate_exceeds", _error_rate_events, 0.25, 0.2, "Error rate 25.0% exceeds threshold 20.0% in the last 5m"),
    ("cost_exceeds", _cost_events, 0.75, 0.5, "Cost $0.7500 exceeds threshold $0.5000 in the last 5m"),
    ("latency_exceeds", _latency_events, 200, 199.5,
     "Average latency 200ms exceeds threshold 199.5000ms in the last 5m"),
    ("event_count_exceeds", _count_events, 3, 2, "Event count 3 exceeds threshold 2 in the last 5m"),
])
async def test_exceeds_conditions_fire_strictly_above_the_threshold(
    clocked_store: Store, evaluator: AlertEvaluator, bus: StreamBus, clock: Clock, now: int, condition: str,
    events: Callable[[Clock], list[NewEvent]], value: float, below: float, fired_message: str,
) -> None:
    await clocked_store.insert_events(events(clock))
    at_threshold = await make_rule(clocked_store, condition, value, name="equal")
    above = await make_rule(clocked_store, condition, below, name="below")
    sub = bus.subscribe("default", StreamFilter(session_id="elsewhere", agent_id="nobody"))   # alerts ignore filters

    outcomes = await evaluator.run_once(now)

    assert [(o.kind, o.rule_id) for o in outcomes] == [("fired", above.id)]
    assert await history(clocked_store, at_threshold) == []
    [entry] = await history(clocked_store, above)
    assert (entry.current_value, entry.threshold, entry.message) == (value, below, fired_message)
    assert (entry.triggered_at, entry.resolved_at) == (format_ms(now), None)
    assert await messages(sub) == [("alert", {
        "ruleId": above.id, "name": "below", "currentValue": value, "threshold": below, "message": fired_message,
        "triggeredAt": format_ms(now),
    })]


async def test_window_is_inclusive_and_excludes_otlp_metric_events(
    clocked_store: Store, evaluator: AlertEvaluator, clock: Clock, now: int,
) -> None:
    await clocked_store.insert_events([
        custom("s", at=ago(clock, 5)),                  # exactly now - window: counted
        custom("s", at=ago(clock, 5, ms=1)),            # 1 ms older: not counted
        custom("s", at=format_ms(now + 1000)),          # in the future: not counted
        custom("s", at=ago(clock, 1)),
        ev("s", at=ago(clock, 1), metadata={"source": "otlp_metric"}),
        ev("s", at=ago(clock, 1), severity="error", metadata={"source": "otlp_metric"}),
    ])
    count = await make_rule(clocked_store, "event_count_exceeds", 1)
    rate = await make_rule(clocked_store, "error_rate_exceeds", 0)
    assert [o.kind for o in await evaluator.run_once(now)] == ["fired"]
    assert [e.current_value for e in await history(clocked_store, count)] == [2]
    assert await history(clocked_store, rate) == []     # the only error is a metric event


async def test_no_events_for(clocked_store: Store, evaluator: AlertEvaluator, clock: Clock, now: int) -> None:
    await clocked_store.insert_events([custom("s", at=ago(clock, 10))])          # outside the window
    rule = await make_rule(clocked_store, "no_events_for", 0)
    rate = await make_rule(clocked_store, "error_rate_exceeds", 0)               # no events: rate 0, not > 0
    await evaluator.run_once(now)
    [entry] = await history(clocked_store, rule)
    assert (entry.current_value, entry.message) == (0, "No events received in the last 5m")
    assert await history(clocked_store, rate) == []

    quiet = await make_rule(clocked_store, "no_events_for", 0, name="with events")
    await clocked_store.insert_events([custom("s", at=ago(clock, 1))])
    await evaluator.run_once(now)
    assert await history(clocked_store, quiet) == []


async def test_a_rule_that_fired_is_quiet_for_one_window(
    clocked_store: Store, evaluator: AlertEvaluator, clock: Clock, now: int,
) -> None:
    rule = await make_rule(clocked_store, "event_count_exceeds", 0, window=5)
    await clocked_store.insert_events([custom("s", at=ago(clock, 0))])
    await evaluator.run_once(now)
    for _ in range(4):                                 # still firing, still quiet
        clock.advance(minutes=1)
        await clocked_store.insert_events([custom("s", at=ago(clock, 0))])
        assert await evaluator.run_once(clock()) == []
    clock.advance(minutes=1)                           # exactly one window after the firing
    await clocked_store.insert_events([custom("s", at=ago(clock, 0))])
    assert [o.kind for o in await evaluator.run_once(clock())] == ["fired"]
    assert [e.triggered_at for e in await history(clocked_store, rule)] == [format_ms(clock()), format_ms(now)]


async def test_scope_by_agent_and_by_session_tags(
    clocked_store: Store, evaluator: AlertEvaluator, clock: Clock, now: int,
) -> None:
    t = ago(clock, 1)
    await clocked_store.insert_events([
        session_started("prod1", tags=["prod"], at=t), custom("prod1", at=t),                              # 2
        session_started("dev1", tags=["dev", "x"], at=t), custom("dev1", at=t), custom("dev1", at=t),      # 3
        custom("plain", at=t), custom("plain", at=t), custom("plain", at=t), custom("plain", at=t),        # 4
        ev("other", at=t, agent="agent-2"),                                                                # 1
    ])
    rules = {
        "all": await make_rule(clocked_store, "event_count_exceeds", 0, name="all"),
        "agent-2": await make_rule(clocked_store, "event_count_exceeds", 0, scope_agent_id="agent-2"),
        "agent-2 high": await make_rule(clocked_store, "event_count_exceeds", 1, scope_agent_id="agent-2"),
        "prod": await make_rule(clocked_store, "event_count_exceeds", 0, scope_tags=("prod",)),
        "prod|dev": await make_rule(clocked_store, "event_count_exceeds", 0, scope_tags=("prod", "dev")),
        "prod+agent-2": await make_rule(clocked_store, "event_count_exceeds", 0, scope_agent_id="agent-2",
                                        scope_tags=("prod",)),
    }
    await evaluator.run_once(now)
    values = {name: [e.current_value for e in await history(clocked_store, r)] for name, r in rules.items()}
    assert values == {"all": [10], "agent-2": [1], "agent-2 high": [], "prod": [2], "prod|dev": [5],
                      "prod+agent-2": []}


async def test_resolution_when_the_condition_clears(
    clocked_store: Store, evaluator: AlertEvaluator, bus: StreamBus, clock: Clock, now: int,
) -> None:
    rule = await make_rule(clocked_store, "error_rate_exceeds", 0.1)
    await clocked_store.insert_events([tool_error("s", at=ago(clock, 1)), custom("s", at=ago(clock, 1))])
    sub = bus.subscribe("default", StreamFilter())
    await evaluator.run_once(now)
    assert [name for name, _ in await messages(sub)] == ["alert"]

    clock.advance(minutes=6)                            # the errors left the window
    await clocked_store.insert_events([custom("s", at=ago(clock, 1))])
    outcomes = await evaluator.run_once(clock())
    assert [o.kind for o in outcomes] == ["resolved"]
    [entry] = await history(clocked_store, rule)
    assert entry.resolved_at == format_ms(clock())
    assert await messages(sub) == [("alert_resolved", {
        "ruleId": rule.id, "name": rule.name, "currentValue": 0.0, "threshold": 0.1,
        "message": "Error rate 0.0% no longer exceeds threshold 10.0% in the last 5m",
        "triggeredAt": format_ms(now), "resolvedAt": format_ms(clock()), "historyId": entry.id,
    })]
    assert await evaluator.run_once(clock()) == []      # nothing left to resolve
    assert await messages(sub) == []


async def test_a_clear_resolves_every_open_firing_of_the_rule(
    clocked_store: Store, evaluator: AlertEvaluator, clock: Clock, now: int,
) -> None:
    rule = await make_rule(clocked_store, "no_events_for", 0, window=5)
    await evaluator.run_once(now)
    clock.advance(minutes=5)
    await evaluator.run_once(clock())                   # still no events: a reminder firing
    assert [e.resolved_at for e in await history(clocked_store, rule)] == [None, None]
    await clocked_store.insert_events([custom("s", at=ago(clock, 0))])
    clock.advance(minutes=1)
    [outcome] = await evaluator.run_once(clock())
    assert outcome.message == "Events received again: 1 in the last 5m"
    assert [e.resolved_at for e in await history(clocked_store, rule)] == [format_ms(clock())] * 2


async def test_rules_see_only_their_own_tenant(clocked_store: Store, evaluator: AlertEvaluator, clock: Clock,
                                               now: int) -> None:
    await clocked_store.insert_events([custom("s", at=ago(clock, 1)) for _ in range(3)])
    other_count = await make_rule(clocked_store, "event_count_exceeds", 0, tenant="t2")
    other_silence = await make_rule(clocked_store, "no_events_for", 0, tenant="t2")
    await evaluator.run_once(now)
    assert await history(clocked_store, other_count) == []
    assert [e.tenant_id for e in await history(clocked_store, other_silence)] == ["t2"]


def test_number_formatting_follows_javascript() -> None:
    assert [fmt_number(v) for v in (0, 3.0, 12, 0.5, 1 / 3, 1.03125, 2.00005, 1e21)] == [
        "0", "3", "12", "0.5000", "0.3333", "1.0313", "2.0000", "1e+21"]   # 2.00005 is 2.0000499.. in binary


@pytest.mark.usefixtures("pg_selected")
async def test_two_replicas_on_postgresql_fire_once(make_store: Callable[..., Any], clock: Clock) -> None:
    """Two stores on one database stand for two collector processes: only the leader evaluates."""
    stores = [await make_store("postgresql", shared_db=True, clock_us=clock) for _ in range(2)]
    rule = await make_rule(stores[0], "no_events_for", 0)
    metrics = [Metrics(), Metrics()]
    schedulers = []
    for store, m in zip(stores, metrics, strict=True):
        scheduler = Scheduler(store, m, clock=clock)
        scheduler.add(AlertEvaluator(store), "* * * * *")
        schedulers.append(scheduler)
    clock.advance(minutes=10)
    outcomes = sorted([await schedulers[0].run_now("alerts"), await schedulers[1].run_now("alerts")])
    assert outcomes == ["not_leader", "ok"]
    assert len(await history(stores[1], rule)) == 1
