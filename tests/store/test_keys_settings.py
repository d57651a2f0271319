"""API keys, settings, list_tenants, lifecycle (ping/close) and the replica hooks."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from store.errors import Conflict, NotFound, StoreClosed, StoreError
from store.interface import Store
from store.model import AlertRuleInput, ApiKey, EventQuery
from tests.store.builders import custom

NOW = 1_795_773_600  # 2026-11-27T10:00:00Z in unix seconds


def key(i: int, tenant: str = "default", **kw: Any) -> ApiKey:
    digest = hashlib.sha256(f"als_{i:064x}".encode()).hexdigest()
    fields: dict[str, Any] = {"id": f"k{i}", "key_hash": digest, "name": f"key {i}", "scopes": ("read", "write"),
                              "tenant_id": tenant, "created_at": NOW + i}
    fields.update(kw)
    return ApiKey(**fields)


async def test_create_find_list(store: Store) -> None:
    k1, k2, k3 = key(1), key(2, scopes=("*",), expires_at=NOW + 10**6), key(3, tenant="other")
    for k in (k2, k1, k3):
        await store.create_api_key(k)
    assert await store.find_api_key(k1.key_hash) == k1
    assert await store.find_api_key(k2.key_hash) == k2
    assert await store.find_api_key("0" * 64) is None
    assert await store.list_api_keys("default") == [k1, k2]  # oldest first
    assert await store.list_api_keys("other") == [k3]
    assert await store.list_api_keys(None) == [k1, k2, k3]
    assert await store.list_api_keys("nobody") == []


async def test_create_conflicts_on_id_or_hash(store: Store) -> None:
    await store.create_api_key(key(1))
    with pytest.raises(Conflict):
        await store.create_api_key(key(2, id="k1"))
    with pytest.raises(Conflict):
        await store.create_api_key(key(1, id="another"))
    assert [k.id for k in await store.list_api_keys(None)] == ["k1"]


async def test_revoke(store: Store) -> None:
    await store.create_api_key(key(1))
    revoked = await store.revoke_api_key("default", "k1", NOW + 100)
    assert revoked == key(1, revoked_at=NOW + 100)
    found = await store.find_api_key(key(1).key_hash)  # still found: the caller checks revokedAt
    assert found is not None and found.revoked_at == NOW + 100
    with pytest.raises(Conflict):
        await store.revoke_api_key("default", "k1", NOW + 200)
    assert (await store.find_api_key(key(1).key_hash)).revoked_at == NOW + 100  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await store.revoke_api_key("default", "missing", NOW)


async def test_revoke_is_tenant_scoped_unless_tenant_is_none(store: Store) -> None:
    await store.create_api_key(key(1, tenant="a"))
    with pytest.raises(NotFound):
        await store.revoke_api_key("b", "k1", NOW)
    assert (await store.find_api_key(key(1).key_hash)).revoked_at is None  # type: ignore[union-attr]
    revoked = await store.revoke_api_key(None, "k1", NOW)  # the operator's CLI: any tenant
    assert revoked.revoked_at == NOW and revoked.tenant_id == "a"


async def test_touch_records_last_use(store: Store) -> None:
    await store.create_api_key(key(1))
    await store.touch_api_key("k1", NOW + 5)
    found = await store.find_api_key(key(1).key_hash)
    assert found is not None and found.last_used_at == NOW + 5
    await store.touch_api_key("missing", NOW)  # best effort: no error


async def test_count_counts_usable_keys_of_every_tenant(store: Store) -> None:
    import time

    now = int(time.time())
    assert await store.count_api_keys() == 0
    await store.create_api_key(key(1))
    await store.create_api_key(key(2, tenant="other", expires_at=now + 3600))
    await store.create_api_key(key(3, expires_at=now - 1))        # expired
    await store.create_api_key(key(4, tenant="other"))
    assert await store.count_api_keys() == 3
    await store.revoke_api_key(None, "k4", now)
    assert await store.count_api_keys() == 2


# ---------------------------------------------------------------------- settings


async def test_settings_get_and_put(store: Store) -> None:
    assert await store.get_settings("default") == {}
    await store.put_settings("default", {"retentionDays": "30", "other": "x"})
    assert await store.get_settings("default") == {"retentionDays": "30", "other": "x"}
    await store.put_settings("default", {"retentionDays": "7"})
    assert await store.get_settings("default") == {"retentionDays": "7", "other": "x"}
    await store.put_settings("default", {})
    assert await store.get_settings("default") == {"retentionDays": "7", "other": "x"}


async def test_settings_are_per_tenant(store: Store) -> None:
    await store.put_settings("a", {"retentionDays": "1"})
    await store.put_settings("b", {"retentionDays": "2"})
    assert await store.get_settings("a") == {"retentionDays": "1"}
    assert await store.get_settings("b") == {"retentionDays": "2"}
    assert await store.get_settings("c") == {}


# ---------------------------------------------------------------------- tenants, lifecycle


async def test_list_tenants(store: Store) -> None:
    assert await store.list_tenants() == []
    await store.insert_events([custom("s", tenant="events-t")])
    await store.create_alert_rule("rules-t", AlertRuleInput(name="r", condition="cost_exceeds", threshold=1,
                                                            window_minutes=1))
    await store.create_api_key(key(1, tenant="keys-t"))
    await store.put_settings("settings-t", {"retentionDays": "3"})
    await store.insert_events([custom("s2", tenant="events-t")])
    assert await store.list_tenants() == ["events-t", "keys-t", "rules-t", "settings-t"]


async def test_ping_and_close(store: Store) -> None:
    latency = await store.ping()
    assert isinstance(latency, float) and latency >= 0
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreClosed):
        await store.ping()
    with pytest.raises(StoreClosed):
        await store.count_events("default", EventQuery())
    with pytest.raises(StoreError):
        await store.insert_events([custom("s")])


# ---------------------------------------------------------------------- many replicas


async def test_is_leader_is_always_true_on_sqlite(backend: str, store: Store) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite behaviour")
    assert await store.is_leader("retention") is True
    assert await store.is_leader("retention") is True
    assert await store.is_leader("alerts") is True


async def test_listen_commits_never_calls_back_on_sqlite(backend: str, store: Store) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite behaviour")
    calls: list[tuple[str, Sequence[str]]] = []

    async def callback(tenant: str, ids: Sequence[str]) -> None:
        calls.append((tenant, ids))

    stop = await store.listen_commits(callback)
    await store.insert_events([custom("s")])
    await store.ping()
    assert calls == []
    await stop()


async def test_listen_commits_fans_out_across_stores(backend: str, make_store: Callable[..., Any]) -> None:
    if backend != "postgresql":
        pytest.skip("one process per SQLite file: nothing to fan out")
    listener: Store = await make_store(backend, shared_db=True)
    writer: Store = await make_store(backend, shared_db=True)
    got: asyncio.Queue[tuple[str, list[str]]] = asyncio.Queue()

    async def callback(tenant: str, ids: Sequence[str]) -> None:
        await got.put((tenant, list(ids)))

    stop = await listener.listen_commits(callback)
    try:
        events = [custom("s", tenant="t1", event_id="x1"), custom("s", tenant="t1", event_id="x2", at=1)]
        await writer.insert_events(events)
        seen: list[str] = []
        while len(seen) < 2:
            tenant, ids = await asyncio.wait_for(got.get(), timeout=10)
            assert tenant == "t1"
            seen += ids
        assert sorted(seen) == ["x1", "x2"]
    finally:
        await stop()


async def test_leadership_is_held_by_one_store(backend: str, make_store: Callable[..., Any]) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite is always the leader")
    first: Store = await make_store(backend, shared_db=True)
    second: Store = await make_store(backend, shared_db=True)
    assert await first.is_leader("jobs") is True
    assert await first.is_leader("jobs") is True
    assert await second.is_leader("jobs") is False
    assert await second.is_leader("other-job") is True
