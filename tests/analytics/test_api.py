"""GET /api/analytics and its breakdowns over HTTP: brute-force agreement, defaults, 400s, tenant scoping."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.app import create_app
from collector.keys import mint_key
from store.interface import Store
from store.timefmt import format_us
from tests.analytics.reference import COST_TYPES, DAY, HOUR, START, Ref, dataset
from tests.analytics.test_store import _approx
from tests.conftest import test_settings as settings_for

NOW = START + 2 * DAY + 5 * HOUR + 1_234_567        # the app's clock: ranges default to [NOW - 24h, NOW]
LO = START + 5 * HOUR + 17 * 60_000_000 + 123
HI = START + 2 * DAY + 13 * HOUR + 41 * 60_000_000
ROUTES = ("/api/analytics", "/api/analytics/costs", "/api/analytics/llm", "/api/analytics/tools",
          "/api/analytics/agents")


KEYS: dict[int, dict[str, str]] = {}   # id(client) -> tenant -> raw key


@pytest.fixture
async def env(store: Store, aiohttp_client: Any, tmp_path: Path) -> tuple[TestClient[Any, Any], Ref, Ref]:
    mine, theirs = dataset(), dataset(seed=8, sessions=5, tenant="other")
    await store.insert_events(mine)
    await store.insert_events(theirs)
    app = create_app(settings_for(tmp_path, auth="required"), store, clock=lambda: NOW)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    keys = KEYS.setdefault(id(client), {})
    for tenant in ("default", "other"):
        raw, record = mint_key(tenant, "t", ["read"], now_s=int(time.time()))
        await store.create_api_key(record)
        keys[tenant] = raw
    return client, Ref(mine), Ref(theirs)


def _auth(client: TestClient[Any, Any], tenant: str = "default") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[id(client)][tenant]}"}


async def _get(client: TestClient[Any, Any], path: str, tenant: str = "default", **params: Any) -> Any:
    resp = await client.get(path, params={k: str(v) for k, v in params.items()}, headers=_auth(client, tenant))
    assert resp.status == 200, await resp.text()
    return await resp.json()


def _window(lo: int, hi: int) -> dict[str, str]:
    return {"from": format_us(lo), "to": format_us(hi)}


async def test_analytics_route_matches_brute_force(env: tuple[TestClient[Any, Any], Ref, Ref]) -> None:
    client, ref, _ = env
    for granularity in ("hour", "day", "week"):
        got = await _get(client, "/api/analytics", granularity=granularity, **_window(LO, HI))
        assert got == _approx(ref.analytics(LO, HI, granularity))
    got = await _get(client, "/api/analytics", agentId="agent-c", excludeMetrics="true", **_window(LO, HI))
    assert got == _approx(ref.analytics(LO, HI, "hour", "agent-c", exclude_metrics=True))


async def test_costs_match_brute_force(env: tuple[TestClient[Any, Any], Ref, Ref]) -> None:
    client, ref, _ = env
    assert await _get(client, "/api/analytics/costs", **_window(LO, HI)) == _approx(ref.costs(LO, HI, "day"))
    got = await _get(client, "/api/analytics/costs", granularity="hour", **_window(LO, HI))
    assert got == _approx(ref.costs(LO, HI, "hour"))
    assert any(a["cacheReadTokens"] for a in got["byAgent"])


async def test_llm_matches_brute_force_with_latency_percentiles(env: tuple[TestClient[Any, Any], Ref, Ref]) -> None:
    client, ref, _ = env
    assert await _get(client, "/api/analytics/llm", **_window(LO, HI)) == _approx(ref.llm(LO, HI))
    got = await _get(client, "/api/analytics/llm", granularity="day", model="gpt-4o", agentId="agent-a",
                     **_window(LO, HI))
    assert got == _approx(ref.llm(LO, HI, "day", model="gpt-4o", agent="agent-a"))
    got = await _get(client, "/api/analytics/llm", provider="anthropic", **_window(LO, HI))
    assert got == _approx(ref.llm(LO, HI, provider="anthropic"))
    assert [m["model"] for m in got["byModel"]] == ["claude-sonnet-4"] and got["byModel"][0]["p95LatencyMs"]


async def test_tools_match_brute_force(env: tuple[TestClient[Any, Any], Ref, Ref]) -> None:
    client, ref, _ = env
    assert await _get(client, "/api/analytics/tools", **_window(LO, HI)) == _approx(ref.tools(LO, HI))


async def test_agents_come_from_the_sessions_started_in_the_range(env: tuple[TestClient[Any, Any], Ref, Ref]) -> None:
    client, ref, _ = env
    sessions: dict[str, list[Any]] = {}
    for e in ref.events:
        sessions.setdefault(e.session_id, []).append(e)
    want: dict[str, dict[str, Any]] = {}
    for events in sessions.values():
        started = min(e.ts_us for e in events)
        if not LO <= started <= HI:
            continue
        a = want.setdefault(events[0].agent_id, {"sessions": 0, "events": 0, "errors": 0, "cost": 0.0, "ended": []})
        a["sessions"] += 1
        a["events"] += len(events)
        a["errors"] += sum(ref.is_error(e) for e in events)
        a["cost"] += sum(e.facts.cost_usd or 0.0 for e in events if e.event_type in COST_TYPES)
        a["ended"] += [(e.ts_us - started) / 1000 for e in events if e.event_type == "session_ended"]
    expected = sorted(({"agentId": k, "sessionCount": v["sessions"], "totalEvents": v["events"],
                        "totalErrors": v["errors"], "errorRate": v["errors"] / v["events"], "totalCostUsd": v["cost"],
                        "avgDurationMs": sum(v["ended"]) / len(v["ended"]) if v["ended"] else 0.0}
                       for k, v in want.items()), key=lambda a: (-a["sessionCount"], a["agentId"]))
    assert await _get(client, "/api/analytics/agents", **_window(LO, HI)) == _approx({"agents": expected})


async def test_defaults_are_the_last_24_hours_or_the_range(env: tuple[TestClient[Any, Any], Ref, Ref]) -> None:
    client, ref, _ = env
    assert await _get(client, "/api/analytics") == _approx(ref.analytics(NOW - 24 * HOUR, NOW, "hour"))
    assert await _get(client, "/api/analytics", range="3d") == _approx(ref.analytics(NOW - 72 * HOUR, NOW, "hour"))
    assert await _get(client, "/api/analytics", range="forever") == _approx(ref.analytics(NOW - 24 * HOUR, NOW, "hour"))
    assert await _get(client, "/api/analytics/costs") == _approx(ref.costs(NOW - 24 * HOUR, NOW, "day"))


async def test_each_tenant_sees_its_own_numbers(env: tuple[TestClient[Any, Any], Ref, Ref]) -> None:
    client, _, theirs = env
    everything = {"from": format_us(START - DAY), "to": format_us(START + 10 * DAY)}
    got = await _get(client, "/api/analytics", tenant="other", granularity="day", **everything)
    assert got == _approx(theirs.analytics(START - DAY, START + 10 * DAY, "day"))
    costs = await _get(client, "/api/analytics/costs", tenant="other", **everything)
    assert costs == _approx(theirs.costs(START - DAY, START + 10 * DAY, "day"))


@pytest.mark.parametrize("path", ROUTES)
async def test_bad_parameters_answer_400(env: tuple[TestClient[Any, Any], Ref, Ref], path: str) -> None:
    client, _, _ = env
    key = _auth(client)
    resp = await client.get(path, params={"granularity": "month"}, headers=key)
    assert resp.status == 400 and (await resp.json())["error"] == "Invalid granularity. Use: hour, day, week"
    assert (await client.get(path, params={"from": "last tuesday"}, headers=key)).status == 400
    inverted = {"from": format_us(HI), "to": format_us(LO)}
    assert (await client.get(path, params=inverted, headers=key)).status == 400
    assert (await client.get(path)).status == 401
