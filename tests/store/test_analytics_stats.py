"""get_analytics (hour/day/week buckets, totals, filters), get_alert_window_stats and get_stats."""

from __future__ import annotations

import pytest

from store.interface import Store
from store.model import AnalyticsParams, AnalyticsTotals
from tests.store.builders import (
    cost,
    custom,
    llm_response,
    session_started,
    tool_call,
    tool_error,
    tool_response,
    us,
)

DAY_FROM = us("2026-11-01T00:00:00Z")
DAY_TO = us("2026-12-31T23:59:59Z")


async def seed(store: Store) -> None:
    await store.insert_events([
        tool_call("s1", at="2026-11-27T10:05:00Z", agent="a"),
        tool_response("s1", 100, at="2026-11-27T10:06:00Z", agent="a"),
        tool_response("s1", 300, at="2026-11-27T10:59:59.999Z", agent="a"),
        tool_error("s1", 5000, at="2026-11-27T11:00:00Z", agent="a"),
        cost("s2", 0.05, at="2026-11-27T11:30:00Z", agent="b"),
        llm_response("s2", 0.10, latency_ms=9999, at="2026-11-27T11:31:00Z", agent="b", severity="critical"),
        custom("s3", at="2026-11-28T09:00:00Z", agent="a", severity="error"),
    ])


async def test_hour_buckets_and_totals(store: Store) -> None:
    await seed(store)
    result = await store.get_analytics("default", AnalyticsParams(DAY_FROM, DAY_TO, "hour"))
    rows = [(b.timestamp, b.event_count, b.tool_call_count, b.error_count, b.unique_sessions) for b in result.buckets]
    assert rows == [
        ("2026-11-27T10:00:00Z", 3, 1, 0, 1),
        ("2026-11-27T11:00:00Z", 3, 0, 2, 2),
        ("2026-11-28T09:00:00Z", 1, 0, 1, 1),
    ]
    b10, b11, b09 = result.buckets
    assert b10.avg_latency_ms == pytest.approx(200)      # tool_response durations only
    assert b11.avg_latency_ms == 0                        # tool_error and llm latency do not count
    assert b10.total_cost_usd == 0 == b09.total_cost_usd
    assert b11.total_cost_usd == pytest.approx(0.15)      # cost_tracked + llm_response
    t = result.totals
    assert (t.event_count, t.tool_call_count, t.error_count, t.unique_sessions, t.unique_agents) == (7, 1, 3, 3, 2)
    assert t.avg_latency_ms == pytest.approx(200)
    assert t.total_cost_usd == pytest.approx(0.15)


async def test_day_buckets(store: Store) -> None:
    await seed(store)
    result = await store.get_analytics("default", AnalyticsParams(DAY_FROM, DAY_TO, "day"))
    assert [(b.timestamp, b.event_count) for b in result.buckets] == [
        ("2026-11-27T00:00:00Z", 6), ("2026-11-28T00:00:00Z", 1)]


async def test_week_buckets_start_on_monday(store: Store) -> None:
    await store.insert_events([
        custom("s", at="2026-11-22T23:59:59Z"),   # Sunday -> week of Monday 16th
        custom("s", at="2026-11-23T00:00:00Z"),   # Monday 23rd
        custom("s", at="2026-11-27T10:00:00Z"),   # Friday
        custom("s", at="2026-11-29T23:59:59Z"),   # Sunday
        custom("s", at="2026-11-30T00:00:00Z"),   # Monday 30th
        custom("s", at="2027-01-01T12:00:00Z"),   # Friday; ISO week starts Monday 2026-12-28
    ])
    result = await store.get_analytics("default", AnalyticsParams(DAY_FROM, us("2027-01-31T00:00:00Z"), "week"))
    assert [(b.timestamp, b.event_count) for b in result.buckets] == [
        ("2026-11-16T00:00:00Z", 1), ("2026-11-23T00:00:00Z", 3), ("2026-11-30T00:00:00Z", 1),
        ("2026-12-28T00:00:00Z", 1)]


async def test_buckets_use_the_instant_of_offset_timestamps(store: Store) -> None:
    await store.insert_events([custom("s", at="2026-11-28T01:30:00+02:00")])  # 2026-11-27T23:30Z
    result = await store.get_analytics("default", AnalyticsParams(DAY_FROM, DAY_TO, "day"))
    assert [b.timestamp for b in result.buckets] == ["2026-11-27T00:00:00Z"]


async def test_range_is_inclusive_and_filters(store: Store) -> None:
    await seed(store)
    lo, hi = us("2026-11-27T10:06:00Z"), us("2026-11-27T11:00:00Z")
    result = await store.get_analytics("default", AnalyticsParams(lo, hi, "hour"))
    assert result.totals.event_count == 3  # 10:06, 10:59:59.999 and exactly 11:00
    assert [b.event_count for b in result.buckets] == [2, 1]


async def test_agent_filter(store: Store) -> None:
    await seed(store)
    result = await store.get_analytics("default", AnalyticsParams(DAY_FROM, DAY_TO, "day", agent_id="b"))
    t = result.totals
    assert (t.event_count, t.error_count, t.unique_sessions, t.unique_agents) == (2, 1, 1, 1)
    assert t.total_cost_usd == pytest.approx(0.15)
    assert [b.event_count for b in result.buckets] == [2]


async def test_exclude_metrics(store: Store) -> None:
    await store.insert_events([
        custom("s", at="2026-11-27T10:00:00Z", metadata={"source": "otlp_metric"}),
        cost("s", 1.0, at="2026-11-27T10:01:00Z", metadata={"source": "otlp_metric"}),
        custom("s", at="2026-11-27T10:02:00Z", metadata={"source": "otlp"}),
    ])
    everything = await store.get_analytics("default", AnalyticsParams(DAY_FROM, DAY_TO))
    assert everything.totals.event_count == 3 and everything.totals.total_cost_usd == pytest.approx(1.0)
    result = await store.get_analytics("default", AnalyticsParams(DAY_FROM, DAY_TO, exclude_metrics=True))
    assert result.totals.event_count == 1 and result.totals.total_cost_usd == 0


async def test_empty_range(store: Store) -> None:
    await seed(store)
    result = await store.get_analytics("default", AnalyticsParams(us("2020-01-01T00:00:00Z"),
                                                                  us("2020-01-02T00:00:00Z")))
    assert result.buckets == ()
    assert result.totals == AnalyticsTotals(0, 0, 0, 0.0, 0.0, 0, 0)


# ---------------------------------------------------------------------- alert window stats


async def test_alert_window_stats(store: Store) -> None:
    await seed(store)
    await store.insert_events([custom("m", at="2026-11-27T10:30:00Z", agent="a", severity="error",
                                      metadata={"source": "otlp_metric"})])
    lo, hi = us("2026-11-27T10:00:00Z"), us("2026-11-27T11:59:59Z")
    w = await store.get_alert_window_stats("default", lo, hi, agent_id=None, tags=None)
    assert (w.event_count, w.error_count) == (6, 2)       # the metric event is excluded
    assert w.total_cost_usd == pytest.approx(0.15)
    assert w.avg_latency_ms == pytest.approx(200)
    w = await store.get_alert_window_stats("default", lo, hi, agent_id="a", tags=None)
    assert (w.event_count, w.error_count, w.total_cost_usd) == (4, 1, 0)
    w = await store.get_alert_window_stats("default", lo, us("2026-11-27T11:00:00Z"), agent_id=None, tags=None)
    assert w.event_count == 4
    empty = await store.get_alert_window_stats("default", 0, 1, agent_id=None, tags=None)
    assert (empty.event_count, empty.error_count, empty.total_cost_usd, empty.avg_latency_ms) == (0, 0, 0, 0)


async def test_alert_window_stats_tags_match_session_tags(store: Store) -> None:
    await store.insert_events([
        session_started("prod", tags=["prod", "eu"], at="2026-11-27T10:00:00Z"),
        tool_error("prod", at="2026-11-27T10:01:00Z"),
        session_started("prod2", tags=["production"], at="2026-11-27T10:00:00Z"),
        session_started("dev", tags=["dev"], at="2026-11-27T10:00:00Z"),
        cost("dev", 2.5, at="2026-11-27T10:02:00Z"),
    ])
    lo, hi = us("2026-11-27T09:00:00Z"), us("2026-11-27T11:00:00Z")
    w = await store.get_alert_window_stats("default", lo, hi, agent_id=None, tags=["prod"])
    assert (w.event_count, w.error_count, w.total_cost_usd) == (2, 1, 0)
    w = await store.get_alert_window_stats("default", lo, hi, agent_id=None, tags=["prod", "dev"])
    assert (w.event_count, w.error_count) == (4, 1) and w.total_cost_usd == pytest.approx(2.5)
    w = await store.get_alert_window_stats("default", lo, hi, agent_id=None, tags=["nope"])
    assert w.event_count == 0


# ---------------------------------------------------------------------- stats


async def test_stats_of_an_empty_store(store: Store) -> None:
    s = await store.get_stats("default")
    assert (s.total_events, s.total_sessions, s.total_agents, s.oldest_event, s.newest_event) == (0, 0, 0, None, None)
    assert s.storage_size_bytes > 0


async def test_stats_counts_and_extremes_by_instant(store: Store) -> None:
    await store.insert_events([
        custom("s1", at="2026-11-27T10:00:00.5Z", agent="a"),
        custom("s1", at="2026-11-27T10:00:00Z", agent="a"),
        custom("s2", at="2026-11-27T12:30:00+02:00", agent="b"),   # 10:30Z: the newest
    ])
    await store.insert_events([custom("s3", at="2026-11-27T10:20:00Z", agent="b")])
    s = await store.get_stats("default")
    assert (s.total_events, s.total_sessions, s.total_agents) == (4, 3, 2)
    assert (s.oldest_event, s.newest_event) == ("2026-11-27T10:00:00Z", "2026-11-27T12:30:00+02:00")
    assert s.storage_size_bytes > 0
