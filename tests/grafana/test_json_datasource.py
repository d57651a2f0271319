"""The simpod JSON data source contract under /grafana: Grafana's exact requests, answers read as toDataFrame does."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.app import create_app
from collector.keys import mint_key
from store.interface import Store
from store.timefmt import format_ms
from tests.analytics.reference import COST_TYPES, DAY, HOUR, START, Ref, dataset, percentile
from tests.analytics.test_store import _approx
from tests.conftest import test_settings as settings_for

FROM, TO = START + 5 * HOUR + 123_000, START + 2 * DAY + 13 * HOUR
KEYS: dict[int, dict[str, str]] = {}


def to_data_frame(item: dict[str, Any]) -> dict[str, Any]:
    """Grafana's ``toDataFrame`` for the two shapes the plugin receives (time series, table)."""
    if "datapoints" in item:
        points = item["datapoints"]
        return {"name": item.get("target"), "refId": item.get("refId"), "fields": [
            {"name": "Time", "type": "time", "values": [p[1] for p in points]},
            {"name": "Value", "type": "number", "values": [p[0] for p in points]},
        ]}
    assert "columns" in item, item
    return {"refId": item.get("refId"), "fields": [
        {"name": c["text"], "type": c.get("type", "other"), "values": [row[i] for row in item["rows"]]}
        for i, c in enumerate(item["columns"])
    ]}


def grafana_request(*targets: dict[str, Any], interval_ms: int = 3_600_000, max_points: int = 1000,
                    filters: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """``POST /query`` as the plugin sends it (reference §1a), after template interpolation."""
    return {
        "app": "dashboard", "requestId": "Q101", "timezone": "browser", "panelId": 2, "dashboardUID": "agentlens",
        "range": {"from": format_ms(FROM // 1000 * 1000), "to": format_ms(TO), "raw": {"from": "now-6h", "to": "now"}},
        "interval": "1h", "intervalMs": interval_ms, "maxDataPoints": max_points,
        "targets": [{"datasource": {"type": "simpod-json-datasource", "uid": "agentlens-json"}, "editorMode": "code",
                     **t} for t in targets],
        "adhocFilters": [], "filters": filters or [], "scopedVars": {"__interval": {"text": "1h", "value": "1h"}},
        "startTime": 1764236400000,
    }


@pytest.fixture
async def env(store: Store, aiohttp_client: Any, tmp_path: Path) -> tuple[TestClient[Any, Any], Ref]:
    mine = dataset()
    await store.insert_events(mine)
    await store.insert_events(dataset(seed=8, sessions=5, tenant="other"))
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(settings_for(tmp_path, auth="required"), store, clock=lambda: TO))
    keys = KEYS.setdefault(id(client), {})
    for tenant in ("default", "other"):
        raw, record = mint_key(tenant, "grafana", ["read"], now_s=int(time.time()))
        await store.create_api_key(record)
        keys[tenant] = raw
    return client, Ref(mine)


async def _post(client: TestClient[Any, Any], path: str, body: Any, tenant: str = "default",
                status: int = 200) -> Any:
    # Grafana's data proxy adds the custom header configured on the data source
    resp = await client.post(path, json=body, headers={"Authorization": f"Bearer {KEYS[id(client)][tenant]}"})
    assert resp.status == status, await resp.text()
    return await resp.json()


def _bucket(ts: int, step: int) -> int:
    return (ts - ts % step) // 1000


async def test_save_and_test_and_metric_discovery(env: tuple[TestClient[Any, Any], Ref]) -> None:
    client, _ = env
    key = {"Authorization": f"Bearer {KEYS[id(client)]['default']}"}
    assert (await client.get("/grafana/", headers=key)).status == 200
    assert (await client.get("/grafana/")).status == 401
    metrics = await _post(client, "/grafana/metrics", {})
    names = {m["value"] for m in metrics}
    assert {"events", "errors", "error_rate", "cost_usd", "input_tokens", "output_tokens", "llm_latency_p50",
            "llm_latency_p95", "tool_latency", "sessions", "failing_tools"} <= names
    for m in metrics:
        assert m["label"] and all(p["type"] == "select" and p["name"] for p in m["payloads"])
    again = await _post(client, "/grafana/metrics", {"metric": "cost_usd", "payload": {"group_by": "agent"}})
    assert again == metrics


async def test_time_series_match_brute_force(env: tuple[TestClient[Any, Any], Ref]) -> None:
    client, ref = env
    body = grafana_request(
        {"refId": "A", "target": "cost_usd", "payload": {"group_by": "agent"}},
        {"refId": "B", "target": "events", "payload": {}},
        {"refId": "C", "target": "error_rate", "payload": {"group_by": "event_type"}},
        {"refId": "D", "target": "sessions", "payload": {}},
    )
    frames = [to_data_frame(x) for x in await _post(client, "/grafana/query", body)]
    got: dict[tuple[str, str], dict[int, float]] = {}
    for f in frames:
        got[(f["refId"], f["name"])] = dict(zip(f["fields"][0]["values"], f["fields"][1]["values"], strict=True))
    events = ref.select(FROM // 1000 * 1000, TO)
    want: dict[tuple[str, str], dict[int, float]] = {}
    for e in events:
        b = _bucket(e.ts_us, HOUR)
        want.setdefault(("B", "events"), {}).setdefault(b, 0)
        want[("B", "events")][b] += 1
        if e.event_type in COST_TYPES:
            series = want.setdefault(("A", e.agent_id), {})
            series[b] = series.get(b, 0.0) + (e.facts.cost_usd or 0.0)
    rates: dict[tuple[str, int], list[bool]] = {}
    sessions: dict[int, set[str]] = {}
    for e in events:
        rates.setdefault((e.event_type, _bucket(e.ts_us, HOUR)), []).append(ref.is_error(e))
        sessions.setdefault(_bucket(e.ts_us, HOUR), set()).add(e.session_id)
    for (etype, b), flags in rates.items():
        want.setdefault(("C", etype), {})[b] = sum(flags) / len(flags)
    want[("D", "sessions")] = {b: float(len(s)) for b, s in sessions.items()}
    assert got == _approx(want)


async def test_percentiles_per_model_and_the_max_data_points_cap(env: tuple[TestClient[Any, Any], Ref]) -> None:
    client, ref = env
    # a 1 minute interval over ~2.3 days with maxDataPoints 40 widens the step to range / 40
    body = grafana_request({"refId": "A", "target": "llm_latency_p95", "payload": {"group_by": "model"}},
                           interval_ms=60_000, max_points=40)
    step = -(-(TO - FROM // 1000 * 1000) // 40)
    frames = [to_data_frame(x) for x in await _post(client, "/grafana/query", body)]
    assert all(len(f["fields"][0]["values"]) <= 41 for f in frames)
    values: dict[tuple[str | None, int], list[float]] = {}
    for e in ref.select(FROM // 1000 * 1000, TO, types=("llm_response",)):
        values.setdefault((e.facts.model, _bucket(e.ts_us, step)), []).append(e.facts.duration_ms or 0.0)
    want: dict[str | None, dict[int, float | None]] = {}
    for (model, b), vs in values.items():
        want.setdefault(model, {})[b] = percentile(vs, 0.95)
    got = {f["name"]: dict(zip(f["fields"][0]["values"], f["fields"][1]["values"], strict=True)) for f in frames}
    assert got == _approx(want)


async def test_tables_and_the_table_format(env: tuple[TestClient[Any, Any], Ref]) -> None:
    client, ref = env
    as_text = '{"format": "table", "group_by": "model"}'      # a payload typed in code mode arrives as text
    body = grafana_request({"refId": "T", "target": "failing_tools", "payload": {}},
                           {"refId": "U", "target": "input_tokens", "payload": as_text})
    failing, tokens = (to_data_frame(x) for x in await _post(client, "/grafana/query", body))
    tools = ref.tools(FROM // 1000 * 1000, TO)["tools"]
    expected = sorted((t for t in tools if t["errorCount"]), key=lambda t: (-t["errorCount"], t["toolName"]))
    assert [f["name"] for f in failing["fields"]][:3] == ["Tool", "Calls", "Errors"]
    assert failing["fields"][0]["values"] == [t["toolName"] for t in expected]
    assert failing["fields"][2]["values"] == [t["errorCount"] for t in expected]
    assert [(f["name"], f["type"]) for f in tokens["fields"]] == [("Time", "time"), ("model", "string"),
                                                                 ("input_tokens", "number")]
    sums: dict[tuple[int, str], int] = {}
    for e in ref.select(FROM // 1000 * 1000, TO, types=COST_TYPES):
        key = (_bucket(e.ts_us, HOUR), e.facts.model or "")
        sums[key] = sums.get(key, 0) + (e.facts.input_tokens or 0)
    rows = zip(*(f["values"] for f in tokens["fields"]), strict=True)
    assert {(t, m): v for t, m, v in rows} == sums


async def test_filters_hidden_targets_and_tenants(env: tuple[TestClient[Any, Any], Ref]) -> None:
    client, ref = env
    only_b = [{"key": "agent", "operator": "=", "value": "agent-b"}, {"key": "model", "operator": "!=", "value": "x"}]
    for field in ("filters", "adhocFilters"):
        body = grafana_request({"refId": "A", "target": "events", "payload": {}})
        body[field] = only_b
        (series,) = await _post(client, "/grafana/query", body)
        assert sum(p[0] for p in series["datapoints"]) == len(ref.select(FROM // 1000 * 1000, TO, agent="agent-b"))
    body = grafana_request({"refId": "A", "target": "events", "payload": {"agent": "agent-c", "event_type": "custom"}},
                           {"refId": "B", "target": "errors", "hide": True}, {"refId": "C"})
    (series,) = await _post(client, "/grafana/query", body)
    assert sum(p[0] for p in series["datapoints"]) == len(
        ref.select(FROM // 1000 * 1000, TO, agent="agent-c", types=("custom",)))
    assert await _post(client, "/grafana/query", {**body, "targets": []}) == []
    mine = await _post(client, "/grafana/query", grafana_request({"refId": "A", "target": "sessions_table"}))
    theirs = await _post(client, "/grafana/query", grafana_request({"refId": "A", "target": "sessions_table"}),
                         tenant="other")
    assert {r[1] for r in mine[0]["rows"]}.isdisjoint({r[1] for r in theirs[0]["rows"]})


@pytest.mark.parametrize(("body", "message"), [
    (grafana_request({"refId": "A", "target": "nope"}), "unknown metric 'nope'"),
    (grafana_request({"refId": "A", "target": "sessions", "payload": {"group_by": "model"}}), "cannot be grouped"),
    (grafana_request({"refId": "A", "target": "events", "payload": "{not json"}), "payload is not JSON"),
    ({**grafana_request(), "targets": "A"}, "targets must be a list"),
    (grafana_request(*({"refId": f"R{i}", "target": "events"} for i in range(101))), "at most 100 targets"),
    ({**grafana_request({"refId": "A", "target": "events"}), "range": {"from": "yesterday", "to": "now"}},
     "invalid range.from"),
])
async def test_bad_queries_are_400_with_a_message(env: tuple[TestClient[Any, Any], Ref], body: Any,
                                                  message: str) -> None:
    client, _ = env
    doc = await _post(client, "/grafana/query", body, status=400)
    assert message in doc["message"] and doc["message"] == doc["error"]


async def test_variables_tag_keys_and_values(env: tuple[TestClient[Any, Any], Ref]) -> None:
    client, ref = env
    rng = grafana_request()["range"]
    agents = sorted({e.agent_id for e in ref.select(FROM // 1000 * 1000, TO)})
    assert await _post(client, "/grafana/variable", {"payload": "agents", "range": rng}) == [
        {"__text": a, "__value": a} for a in agents]
    models = await _post(client, "/grafana/variable", {"payload": {"target": "models"}, "range": rng})
    assert [m["__value"] for m in models] == ["claude-sonnet-4", "gpt-4o", "gpt-4o-mini"]
    tools = await _post(client, "/grafana/variable", {"payload": '{"target": "tools"}', "range": rng})
    assert [t["__value"] for t in tools] == ["read_file", "search", "shell"]
    await _post(client, "/grafana/variable", {"payload": "planets"}, status=400)
    keys = await _post(client, "/grafana/tag-keys", {})
    assert [k["text"] for k in keys] == ["agent", "model", "provider", "event_type", "tool"]
    assert await _post(client, "/grafana/tag-values", {"key": "agent", "range": rng}) == [{"text": a} for a in agents]
    options = await _post(client, "/grafana/metric-payload-options",
                          {"metric": "llm_latency_p95", "payload": {}, "name": "group_by"})
    assert [o["value"] for o in options] == ["none", "agent", "model", "provider"]
    provider_options = await _post(client, "/grafana/metric-payload-options",
                                   {"metric": "cost_usd", "payload": {}, "name": "provider", "range": rng})
    assert provider_options == [{"label": p, "value": p} for p in ("anthropic", "openai")]
