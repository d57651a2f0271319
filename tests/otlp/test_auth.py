"""OTLP with auth required: 401/403 as google.rpc.Status in the request's encoding, tenant from the key."""

from __future__ import annotations

import json
import time

from google.rpc import status_pb2

from collector.keys import mint_key
from store.interface import Store
from tests.otlp.builders import ROOT, span, to_protobuf, traces
from tests.otlp.conftest import OtlpClientFactory

DOC = traces(span(ROOT, "chat gpt-4o", {"gen_ai.operation.name": "chat"}))


async def _key(store: Store, tenant: str, scopes: list[str]) -> str:
    raw, record = mint_key(tenant, "otlp test", scopes, now_s=int(time.time()))
    await store.create_api_key(record)
    return raw


async def test_auth_failures_and_tenant(make_otlp_client: OtlpClientFactory, sqlite_store: Store) -> None:
    client = await make_otlp_client(store=sqlite_store, auth="required")
    # no key: 401, Status in the request's encoding
    resp = await client.post("/v1/traces", data=to_protobuf(DOC), headers={"Content-Type": "application/x-protobuf"})
    assert resp.status == 401
    assert resp.headers["Content-Type"] == "application/x-protobuf"
    status = status_pb2.Status()
    status.ParseFromString(await resp.read())
    assert status.code == 16
    resp = await client.post("/v1/logs", data=b"{}", headers={"Content-Type": "application/json",
                                                              "Authorization": "Bearer als_wrong"})
    assert resp.status == 401
    assert (await resp.json())["code"] == 16
    # a read-only key may not ingest: 403
    reader = await _key(sqlite_store, "acme", ["read"])
    resp = await client.post("/v1/traces", data=json.dumps(DOC), headers={"Content-Type": "application/json",
                                                                           "Authorization": f"Bearer {reader}"})
    assert resp.status == 403
    assert (await resp.json())["code"] == 7
    # a write key: accepted, stored under the key's tenant
    writer = await _key(sqlite_store, "acme", ["write", "read"])
    resp = await client.post("/v1/traces", data=to_protobuf(DOC), headers={
        "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {writer}"})
    assert resp.status == 200
    events = await (await client.get("/api/events", headers={"Authorization": f"Bearer {writer}"})).json()
    assert {e["tenantId"] for e in events["events"]} == {"acme"}
    assert len(events["events"]) == 2
    # the same spans from another tenant are other events (ids are per tenant)
    other = await _key(sqlite_store, "globex", ["write", "read"])
    resp = await client.post("/v1/traces", data=to_protobuf(DOC), headers={
        "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {other}"})
    assert resp.status == 200
    theirs = await (await client.get("/api/events", headers={"Authorization": f"Bearer {other}"})).json()
    assert len(theirs["events"]) == 2
    assert {e["id"] for e in theirs["events"]}.isdisjoint({e["id"] for e in events["events"]})


