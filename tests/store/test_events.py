"""query_events / count_events / get_event / get_events_by_ids: filters, ordering ties, paging, search."""

from __future__ import annotations

from store.interface import Store
from store.model import EventQuery
from tests.store.builders import contains_pattern, custom, ev, tool_call, tool_error, ts, us


async def ids(store: Store, query: EventQuery, tenant: str = "default") -> list[str]:
    page = await store.query_events(tenant, query)
    assert page.total == await store.count_events(tenant, query)
    return [e.id for e in page.events]


async def seed_mixed(store: Store) -> None:
    await store.insert_events([
        custom("s1", at=0, agent="a", event_id="e0"),
        tool_call("s1", at=10, agent="a", event_id="e1"),
        tool_error("s2", at=20, agent="b", severity="error", event_id="e2"),
        custom("s2", at=30, agent="b", severity="warn", event_id="e3"),
        custom("s3", at=40, agent="a", severity="critical", event_id="e4"),
    ])


async def test_default_order_is_time_desc_and_asc_is_supported(store: Store) -> None:
    await seed_mixed(store)
    assert await ids(store, EventQuery()) == ["e4", "e3", "e2", "e1", "e0"]
    assert await ids(store, EventQuery(order="asc")) == ["e0", "e1", "e2", "e3", "e4"]


async def test_ties_are_broken_by_id_in_the_same_direction(store: Store) -> None:
    await store.insert_events([custom("s1", at=5, event_id=i) for i in ("b", "c", "a")] + [
        custom("s1", at=4, event_id="z"), custom("s1", at=6, event_id="0")])
    assert await ids(store, EventQuery(order="asc")) == ["z", "a", "b", "c", "0"]
    assert await ids(store, EventQuery(order="desc")) == ["0", "c", "b", "a", "z"]


async def test_order_and_ranges_use_the_instant_not_the_text(store: Store) -> None:
    await store.insert_events([
        custom("s1", at="2026-11-27T10:00:00Z", event_id="whole"),
        custom("s1", at="2026-11-27T10:00:00.5Z", event_id="half"),
        custom("s1", at="2026-11-27T11:00:00.25+02:00", event_id="offset"),  # 09:00:00.25Z
        custom("s1", at="2026-11-27T10:00:00.000001Z", event_id="micro"),
    ])
    assert await ids(store, EventQuery(order="asc")) == ["offset", "whole", "micro", "half"]
    start = us("2026-11-27T10:00:00Z")
    assert await ids(store, EventQuery(from_us=start, order="asc")) == ["whole", "micro", "half"]
    assert await ids(store, EventQuery(to_us=start, order="asc")) == ["offset", "whole"]
    stored = await store.get_event("default", "offset")
    assert stored is not None and stored.timestamp == "2026-11-27T11:00:00.25+02:00"
    assert stored.ts_us == us("2026-11-27T09:00:00.25Z")


async def test_each_filter(store: Store) -> None:
    await seed_mixed(store)
    assert await ids(store, EventQuery(session_id="s2")) == ["e3", "e2"]
    assert await ids(store, EventQuery(agent_id="a")) == ["e4", "e1", "e0"]
    assert await ids(store, EventQuery(event_types=("tool_call",))) == ["e1"]
    assert await ids(store, EventQuery(event_types=("tool_call", "tool_error"))) == ["e2", "e1"]
    assert await ids(store, EventQuery(severities=("error",))) == ["e2"]
    assert await ids(store, EventQuery(severities=("error", "critical"))) == ["e4", "e2"]
    assert await ids(store, EventQuery(from_us=us(ts(10)), to_us=us(ts(30)))) == ["e3", "e2", "e1"]
    assert await ids(store, EventQuery(from_us=us(ts(40)))) == ["e4"]
    assert await ids(store, EventQuery(to_us=us(ts(0)))) == ["e0"]
    assert await ids(store, EventQuery(from_us=us(ts(41)))) == []
    assert await ids(store, EventQuery(session_id="nope")) == []
    assert await ids(store, EventQuery(event_types=("nope",))) == []


async def test_filters_combine_with_and(store: Store) -> None:
    await seed_mixed(store)
    q = EventQuery(agent_id="a", severities=("info", "critical"), event_types=("custom",), from_us=us(ts(1)))
    assert await ids(store, q) == ["e4"]
    assert await ids(store, EventQuery(session_id="s1", agent_id="b")) == []


async def test_limit_offset_total_has_more(store: Store) -> None:
    await store.insert_events([custom("s1", at=i, event_id=f"e{i}") for i in range(5)])
    page = await store.query_events("default", EventQuery(limit=2))
    assert ([e.id for e in page.events], page.total, page.has_more) == (["e4", "e3"], 5, True)
    page = await store.query_events("default", EventQuery(limit=2, offset=3))
    assert ([e.id for e in page.events], page.total, page.has_more) == (["e1", "e0"], 5, False)
    page = await store.query_events("default", EventQuery(limit=2, offset=2, order="asc"))
    assert ([e.id for e in page.events], page.has_more) == (["e2", "e3"], True)
    page = await store.query_events("default", EventQuery(limit=5, offset=5))
    assert (page.events, page.total, page.has_more) == ((), 5, False)
    page = await store.query_events("default", EventQuery(limit=1, session_id="s1", offset=4))
    assert ([e.id for e in page.events], page.has_more) == (["e0"], False)
    assert await store.count_events("default", EventQuery(limit=1, offset=3)) == 5


async def test_search_is_a_case_insensitive_substring_of_the_payload(store: Store) -> None:
    await store.insert_events([
        ev("s1", "tool_error", {"callId": "c", "toolName": "t", "error": "Connection TIMEOUT", "durationMs": 1},
           event_id="timeout"),
        custom("s1", {"msg": "all fine"}, at=1, event_id="fine"),
        custom("s1", {"msg": "ok"}, at=2, metadata={"note": "timeout"}, event_id="meta-only"),
    ])
    assert await ids(store, EventQuery(search=contains_pattern("timeout"))) == ["timeout"]
    assert await ids(store, EventQuery(search=contains_pattern("Timeout"))) == ["timeout"]
    assert await ids(store, EventQuery(search=contains_pattern('"msg":"all'))) == ["fine"]
    assert await ids(store, EventQuery(search=contains_pattern("absent"))) == []


async def test_search_takes_percent_underscore_and_backslash_literally(store: Store) -> None:
    await store.insert_events([
        custom("s1", {"v": "100% sure"}, at=0, event_id="percent"),
        custom("s1", {"v": "100 percent sure"}, at=1, event_id="spelled"),
        custom("s1", {"v": "snake_case"}, at=2, event_id="underscore"),
        custom("s1", {"v": "snakeXcase"}, at=3, event_id="x"),
        custom("s1", {"v": "C:\\temp"}, at=4, event_id="backslash"),
        custom("s1", {"v": "C:temp"}, at=5, event_id="no-backslash"),
    ])
    assert await ids(store, EventQuery(search=contains_pattern("100%"))) == ["percent"]
    assert await ids(store, EventQuery(search=contains_pattern("snake_case"))) == ["underscore"]
    # the stored JSON text of C:\temp is "C:\\temp"
    assert await ids(store, EventQuery(search=contains_pattern("C:\\\\temp"))) == ["backslash"]
    assert await ids(store, EventQuery(search=contains_pattern("%"))) == ["percent"]
    assert await ids(store, EventQuery(search=contains_pattern("_"))) == ["underscore"]


async def test_exclude_metrics(store: Store) -> None:
    await store.insert_events([
        custom("s1", at=0, metadata={"source": "otlp_metric"}, event_id="metric"),
        custom("s1", at=1, metadata={"source": "otlp"}, event_id="span"),
        custom("s1", at=2, event_id="plain"),
    ])
    assert await ids(store, EventQuery(exclude_metrics=True)) == ["plain", "span"]
    assert await ids(store, EventQuery()) == ["plain", "span", "metric"]


async def test_get_event_returns_every_field(store: Store) -> None:
    e = ev("s1", "custom", {"b": 1, "a": [1.0, "é"], "0": None}, at="2026-11-27T10:00:00.123456Z",
           agent="bot", severity="warn", metadata={"z": 1, "y": {"k": True}}, event_id="evt")
    await store.insert_events([e])
    stored = await store.get_event("default", "evt")
    assert stored is not None
    assert (stored.id, stored.timestamp, stored.session_id, stored.agent_id) == (
        "evt", "2026-11-27T10:00:00.123456Z", "s1", "bot")
    assert (stored.event_type, stored.severity, stored.tenant_id, stored.seq) == ("custom", "warn", "default", 0)
    # the exact canonical text that was hashed: array-index key first, 1.0 written as 1
    assert stored.payload_json == '{"0":null,"b":1,"a":[1,"é"]}' == e.payload_json
    assert stored.metadata_json == '{"z":1,"y":{"k":true}}'
    assert stored.ts_us == us("2026-11-27T10:00:00.123456Z")
    assert await store.get_event("default", "unknown") is None


async def test_get_events_by_ids(store: Store) -> None:
    await store.insert_events([
        custom("s1", at=30, event_id="late"), custom("s2", at=10, event_id="b"), custom("s2", at=10, event_id="a"),
        custom("s1", at=20, event_id="mid"),
    ])
    found = await store.get_events_by_ids("default", ["late", "unknown", "mid", "a", "b", "a"])
    assert [e.id for e in found] == ["a", "b", "mid", "late"]
    assert await store.get_events_by_ids("default", []) == []
    assert await store.get_events_by_ids("default", ["unknown"]) == []


async def test_get_events_by_ids_beyond_one_parameter_chunk(store: Store) -> None:
    events = [custom("s1", at=i, event_id=f"e{i:04d}") for i in range(1200)]
    await store.insert_events(events)
    wanted = [e.id for e in reversed(events)] + ["missing"]
    found = await store.get_events_by_ids("default", wanted)
    assert [e.id for e in found] == [e.id for e in events]
