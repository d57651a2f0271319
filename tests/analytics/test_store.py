"""Aggregations from the rollups (plus the raw edge hours) agree with brute force over the raw events."""

from __future__ import annotations

from typing import Any

import pytest

from store.aggregates import Buckets, EventAggQuery, PercentileQuery, SessionAggQuery
from store.interface import Store
from store.model import AnalyticsParams
from tests.analytics.reference import COST_TYPES, DAY, HOUR, START, Ref, bucket_key, dataset, percentile

WINDOWS = [
    ("everything", START - DAY, START + 5 * DAY),
    ("unaligned edges", START + 5 * HOUR + 17 * 60_000_000 + 123, START + 2 * DAY + 13 * HOUR + 41 * 60_000_000),
    ("hour aligned, inclusive end", START + 6 * HOUR, START + 30 * HOUR),
    ("end one microsecond before an hour", START + 6 * HOUR, START + 30 * HOUR - 1),
    ("inside one hour", START + 26 * HOUR + 60_000_000, START + 26 * HOUR + 50 * 60_000_000),
    ("nothing", START + 10 * DAY, START + 11 * DAY),
]


def _approx(doc: Any) -> Any:
    if isinstance(doc, float):
        return pytest.approx(doc, rel=1e-9, abs=1e-9)
    if isinstance(doc, dict):
        return {k: _approx(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_approx(v) for v in doc]
    if isinstance(doc, tuple):
        return tuple(_approx(v) for v in doc)
    return doc


def _as_doc(result: Any) -> dict[str, Any]:
    t = result.totals
    return {
        "buckets": [{"timestamp": b.timestamp, "eventCount": b.event_count, "toolCallCount": b.tool_call_count,
                     "errorCount": b.error_count, "avgLatencyMs": b.avg_latency_ms, "totalCostUsd": b.total_cost_usd,
                     "uniqueSessions": b.unique_sessions} for b in result.buckets],
        "totals": {"eventCount": t.event_count, "toolCallCount": t.tool_call_count, "errorCount": t.error_count,
                   "avgLatencyMs": t.avg_latency_ms, "totalCostUsd": t.total_cost_usd,
                   "uniqueSessions": t.unique_sessions, "uniqueAgents": t.unique_agents},
    }


@pytest.fixture
async def seeded(store: Store) -> tuple[Store, Ref]:
    events = dataset()
    # in several transactions, like a live collector (rollup rows are incremented across commits)
    for i in range(0, len(events), 97):
        await store.insert_events(events[i:i + 97])
    await store.insert_events(events[:50])      # duplicates: stored once, counted once
    await store.insert_events(dataset(seed=8, sessions=3, tenant="other"))
    return store, Ref(events)


@pytest.mark.parametrize(("name", "lo", "hi"), WINDOWS)
async def test_get_analytics_matches_brute_force(seeded: tuple[Store, Ref], name: str, lo: int, hi: int) -> None:
    store, ref = seeded
    for granularity in ("hour", "day", "week"):
        for agent in (None, "agent-b"):
            for exclude in (False, True):
                got = await store.get_analytics("default", AnalyticsParams(lo, hi, granularity, agent, exclude))  # type: ignore[arg-type]
                want = ref.analytics(lo, hi, granularity, agent, exclude)
                assert _as_doc(got) == _approx(want), (name, granularity, agent, exclude)


@pytest.mark.parametrize(("name", "lo", "hi"), WINDOWS[:3])
async def test_aggregate_events_matches_brute_force(seeded: tuple[Store, Ref], name: str, lo: int, hi: int) -> None:
    store, ref = seeded
    query = EventAggQuery(lo, hi, buckets=Buckets("day"), group_by=("agent_id", "model"), event_types=COST_TYPES)
    got = {(a.bucket_us, a.keys): (a.event_count, a.error_count, a.cost_usd, a.input_tokens, a.output_tokens,
                                   a.cache_read_tokens, a.cache_write_tokens, a.duration_sum, a.duration_count)
           for a in await store.aggregate_events("default", query)}
    want: dict[Any, list[Any]] = {}
    for e in ref.select(lo, hi, types=COST_TYPES):
        key = (e.ts_us - e.ts_us % DAY, (e.agent_id, e.facts.model))
        w = want.setdefault(key, [0, 0, 0.0, 0, 0, 0, 0, 0.0, 0])
        f = e.facts
        w[0] += 1
        w[1] += ref.is_error(e)
        w[2] += f.cost_usd or 0
        w[3] += f.input_tokens or 0
        w[4] += f.output_tokens or 0
        w[5] += f.cache_read_tokens or 0
        w[6] += f.cache_write_tokens or 0
        if f.duration_ms is not None:
            w[7] += f.duration_ms
            w[8] += 1
    assert got == _approx({k: tuple(v) for k, v in want.items()}), name
    assert any(v[5] for v in want.values()), "the data set must carry cache tokens"
    # tool names and a step of 2 hours (rollups) vs 30 minutes (raw events only): same sums
    for step in (2 * HOUR, HOUR // 2):
        q = EventAggQuery(lo, hi, buckets=Buckets(step_us=step), group_by=("tool_name",), has_tool_name=True)
        rows = await store.aggregate_events("default", q)
        expected: dict[Any, int] = {}
        for e in ref.select(lo, hi, where=lambda e: bool(e.facts.tool_name)):
            key = (e.ts_us - e.ts_us % step, e.facts.tool_name)
            expected[key] = expected.get(key, 0) + 1
        assert {(r.bucket_us, r.keys[0]): r.event_count for r in rows} == expected


async def test_sessions_per_bucket_and_agent(seeded: tuple[Store, Ref]) -> None:
    store, ref = seeded
    lo, hi = WINDOWS[1][1], WINDOWS[1][2]
    rows = await store.aggregate_sessions("default", SessionAggQuery(lo, hi, Buckets(step_us=3 * HOUR), by_agent=True))
    want: dict[Any, set[str]] = {}
    for e in ref.select(lo, hi):
        want.setdefault((e.ts_us - e.ts_us % (3 * HOUR), e.agent_id), set()).add(e.session_id)
    assert {(r.bucket_us, r.agent_id): r.sessions for r in rows} == {k: len(v) for k, v in want.items()}
    top = await store.top_sessions_by_cost("default", SessionAggQuery(lo, hi), 5)
    costs: dict[str, float] = {}
    for e in ref.select(lo, hi, types=COST_TYPES):
        costs[e.session_id] = costs.get(e.session_id, 0.0) + (e.facts.cost_usd or 0.0)
    expected = sorted(costs.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [(s.session_id, s.cost_usd) for s in top] == _approx(expected)


async def test_percentiles_match_brute_force(seeded: tuple[Store, Ref]) -> None:
    store, ref = seeded
    lo, hi = WINDOWS[1][1], WINDOWS[1][2]
    rows = await store.duration_percentiles("default", PercentileQuery(
        lo, hi, ("llm_response",), (0.5, 0.95, 0.0, 1.0), group_by=("model",)))
    by_model: dict[str | None, list[float]] = {}
    for e in ref.select(lo, hi, types=("llm_response",)):
        by_model.setdefault(e.facts.model, []).append(e.facts.duration_ms or 0.0)
    assert {r.keys[0]: (r.count, *r.values) for r in rows} == _approx(
        {m: (len(v), *(percentile(v, p) for p in (0.5, 0.95, 0.0, 1.0))) for m, v in by_model.items()})
    hourly = await store.duration_percentiles("default", PercentileQuery(
        lo, hi, ("tool_response", "tool_error"), (0.95,), buckets=Buckets("hour"), agent_id="agent-a"))
    per_hour: dict[str, list[float]] = {}
    for e in ref.select(lo, hi, agent="agent-a", types=("tool_response", "tool_error")):
        per_hour.setdefault(bucket_key(e.ts_us, "hour"), []).append(e.facts.duration_ms or 0.0)
    assert {bucket_key(r.bucket_us or 0, "hour"): r.values[0] for r in hourly} == _approx(
        {k: percentile(v, 0.95) for k, v in per_hour.items()})


async def test_retention_keeps_the_rollups_true(seeded: tuple[Store, Ref]) -> None:
    store, ref = seeded
    cutoff = START + DAY + 7 * HOUR + 1234                    # mid-hour: that hour is recomputed
    await store.apply_retention("default", cutoff, batch_size=100)
    remaining = Ref(e for e in ref.events if e.ts_us > cutoff)
    lo, hi = WINDOWS[0][1], WINDOWS[0][2]
    for granularity in ("hour", "day"):
        got = await store.get_analytics("default", AnalyticsParams(lo, hi, granularity))  # type: ignore[arg-type]
        assert _as_doc(got) == _approx(remaining.analytics(lo, hi, granularity))
    # and new events into the recomputed hour still add up
    late = dataset(seed=99, sessions=2)
    await store.insert_events(late)
    both = Ref([*remaining.events, *late])
    got = await store.get_analytics("default", AnalyticsParams(lo, hi, "hour"))
    assert _as_doc(got) == _approx(both.analytics(lo, hi, "hour"))
