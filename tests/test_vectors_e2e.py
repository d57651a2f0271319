"""The reference vectors end to end: posted through POST /api/events they store exactly their hashes."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from store.interface import Store
from tests.support import VECTORS

Client = TestClient[Any, Any]


def _genesis_vectors() -> list[dict[str, Any]]:
    lines = (VECTORS / "hash_v2.jsonl").read_text(encoding="utf-8").split("\n")
    vectors = [json.loads(line) for line in lines if line.strip()]
    return [v for v in vectors if json.loads(v["wire"])["prevHash"] is None]


GENESIS = _genesis_vectors()
CHAIN: list[dict[str, Any]] = json.loads((VECTORS / "chain.json").read_text(encoding="utf-8"))


def test_there_are_genesis_vectors() -> None:
    assert len(GENESIS) >= 10


async def post_raw(client: Client, wires: list[str]) -> dict[str, Any]:
    """Post the wire texts untouched (duplicate keys, big integers and key order must survive)."""
    body = '{"events":[' + ",".join(wires) + "]}"
    resp = await client.post("/api/events", data=body.encode("utf-8", "surrogatepass"),
                             headers={"Content-Type": "application/json"})
    result: dict[str, Any] = await resp.json()
    assert resp.status == 201, result
    return result


@pytest.mark.parametrize("vector", GENESIS, ids=[v["name"] for v in GENESIS])
async def test_genesis_vector_stores_its_hash(client: Client, store: Store, vector: dict[str, Any]) -> None:
    wire = json.loads(vector["wire"])
    result = await post_raw(client, [vector["wire"]])
    assert result["events"] == [{"id": wire["id"], "hash": vector["hash"]}]
    stored = await store.get_event("default", wire["id"])
    assert stored is not None
    assert (stored.hash, stored.prev_hash, stored.seq) == (vector["hash"], None, 0)
    assert (stored.timestamp, stored.session_id, stored.agent_id) == (wire["timestamp"], wire["sessionId"],
                                                                      wire["agentId"])
    # the stored text is exactly what was hashed, so the chain re-verifies from the database alone
    tail = f',"payload":{stored.payload_json},"metadata":{stored.metadata_json},"prevHash":null}}'
    assert vector["canonical"].endswith(tail)
    resp = await client.get(f"/api/sessions/{wire['sessionId']}/verify")
    assert (await resp.json())["valid"] is True
    resp = await client.get(f"/api/events/{wire['id']}")
    assert (await resp.json())["hash"] == vector["hash"]


async def test_all_genesis_vectors_in_one_request(client: Client) -> None:
    result = await post_raw(client, [v["wire"] for v in GENESIS])
    assert [e["hash"] for e in result["events"]] == [v["hash"] for v in GENESIS]


def chain_wire(e: dict[str, Any]) -> dict[str, Any]:
    return {k: e[k] for k in ("id", "timestamp", "sessionId", "agentId", "eventType", "severity", "payload",
                              "metadata")}


async def check_chain(client: Client, result_events: list[dict[str, Any]]) -> None:
    assert [(e["id"], e["hash"]) for e in result_events] == [(c["id"], c["hash"]) for c in CHAIN]
    timeline = await (await client.get(f"/api/sessions/{CHAIN[0]['sessionId']}/timeline")).json()
    assert [(e["id"], e["prevHash"], e["hash"]) for e in timeline["events"]] == [
        (c["id"], c["prevHash"], c["hash"]) for c in CHAIN]
    assert timeline["chainValid"] is True


async def test_chain_in_one_request(client: Client) -> None:
    resp = await client.post("/api/events", json={"events": [chain_wire(e) for e in CHAIN]})
    assert resp.status == 201
    await check_chain(client, (await resp.json())["events"])


async def test_chain_shuffled_in_one_request_is_sorted_by_time(client: Client) -> None:
    shuffled = [chain_wire(e) for e in CHAIN]
    random.Random(3).shuffle(shuffled)
    resp = await client.post("/api/events", json={"events": shuffled})
    assert resp.status == 201
    await check_chain(client, (await resp.json())["events"])


async def test_chain_one_request_per_event(client: Client) -> None:
    events: list[dict[str, Any]] = []
    for e in CHAIN:
        resp = await client.post("/api/events", json={"events": [chain_wire(e)]})
        assert resp.status == 201
        events += (await resp.json())["events"]
    await check_chain(client, events)
