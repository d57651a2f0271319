"""otel-config/grafana: the provisioned data sources point at our routes, and every dashboard query works."""

from __future__ import annotations

import json
from typing import Any

import yaml
from aiohttp.test_utils import TestClient

from collector.grafana.catalog import METRICS
from collector.tempo.traceql import parse_traceql
from store.interface import Store
from tests.analytics.reference import dataset
from tests.conftest import AppClientFactory
from tests.support import REPO
from tests.tempo.support import dataset as traces_dataset

GRAFANA = REPO / "otel-config" / "grafana"


def _dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((GRAFANA / "dashboards" / "agentlens-overview.json").read_text())
    return doc


def _targets(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(panel["title"], t) for panel in dashboard["panels"] for t in panel.get("targets", [])]


def test_data_sources_are_provisioned_against_our_routes() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "agentlens.yaml").read_text())
    by_uid = {d["uid"]: d for d in doc["datasources"]}
    tempo, json_ds, infinity = by_uid["agentlens-tempo"], by_uid["agentlens-json"], by_uid["agentlens-infinity"]
    assert tempo["type"] == "tempo" and tempo["url"] == "${AGENTLENS_URL}/tempo"
    assert tempo["jsonData"]["streamingEnabled"] == {"search": False, "metrics": False}
    assert json_ds["type"] == "simpod-json-datasource" and json_ds["url"] == "${AGENTLENS_URL}/grafana"
    assert infinity["type"] == "yesoreyeram-infinity-datasource" and infinity["url"] == "${AGENTLENS_URL}"
    for ds in (tempo, json_ds, infinity):
        assert ds["access"] == "proxy"
        assert ds["jsonData"]["httpHeaderName1"] == "Authorization"
        assert ds["secureJsonData"]["httpHeaderValue1"] == "Bearer ${AGENTLENS_API_KEY}"
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "agentlens.yaml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/agentlens"


def test_the_dashboard_covers_what_operators_look_at() -> None:
    dashboard = _dashboard()
    uids = {p["datasource"]["uid"] for p in dashboard["panels"] if "datasource" in p}
    assert uids <= {"agentlens-json", "agentlens-tempo"}
    used = {(t["target"], json.loads(t["payload"]).get("group_by")) for _, t in _targets(dashboard) if "target" in t}
    assert {t for t, _ in used} <= set(METRICS)
    for wanted in (("sessions", "agent"), ("error_rate", None), ("cost_usd", "model"), ("cost_usd", "agent"),
                   ("input_tokens", None), ("output_tokens", None), ("llm_latency_p95", "model"),
                   ("tool_latency", "tool"), ("failing_tools", None)):
        assert wanted in used, wanted
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


async def test_every_dashboard_query_answers(store: Store, make_client: AppClientFactory) -> None:
    client: TestClient[Any, Any] = await make_client(store)
    await store.insert_events(dataset())
    for doc in traces_dataset():
        assert (await client.post("/v1/traces", json=doc)).status == 200
    dashboard = _dashboard()
    rng = {"from": "2026-11-23T00:00:00.000Z", "to": "2026-11-27T00:00:00.000Z", "raw": {"from": "now-24h"}}
    answered = 0
    for title, target in _targets(dashboard):
        if target["datasource"]["uid"] == "agentlens-tempo":
            parse_traceql(target["query"])
            resp = await client.get("/tempo/api/search", params={"q": target["query"], "limit": "20"})
            assert resp.status == 200, (title, await resp.text())
            assert (await resp.json())["traces"], title
            continue
        payload = target["payload"].replace("$agent", "*")          # the variable's "All" value
        body = {"range": rng, "intervalMs": 3_600_000, "maxDataPoints": 800, "targets": [{**target,
                                                                                         "payload": payload}]}
        resp = await client.post("/grafana/query", json=body)
        assert resp.status == 200, (title, await resp.text())
        frames = await resp.json()
        assert frames and any(f.get("datapoints") or f.get("rows") for f in frames), title
        answered += 1
    assert answered >= 15
    variable = dashboard["templating"]["list"][0]
    resp = await client.post("/grafana/variable", json={"payload": variable["query"]["payload"], "range": rng})
    assert resp.status == 200 and len(await resp.json()) == 3
