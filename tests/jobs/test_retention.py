"""The retention job: per-tenant policy read afresh, exact deletions, anchored chains, audit rows, route and CLI."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.app import create_app
from collector.cli import main
from collector.jobs.retention import RetentionJob
from collector.jobs.scheduler import Scheduler
from collector.metrics import Metrics
from store.interface import Store
from store.model import EventQuery
from store.sqlite.backend import SQLiteStore
from store.timefmt import format_ms
from tests.conftest import test_settings as app_settings
from tests.jobs.conftest import DAY_US, Clock
from tests.store.builders import BASE_US, custom, ev, session_started


def day(d: float, ms: int = 0) -> str:
    """The timestamp ``d`` days (plus ``ms`` milliseconds) after BASE."""
    return format_ms(BASE_US + round(d * DAY_US) + ms * 1000)


async def ids(store: Store, tenant: str = "default") -> list[str]:
    page = await store.query_events(tenant, EventQuery(limit=1000, order="asc"))
    return [e.id for e in page.events]


async def chain(store: Store, session: str, tenant: str = "default") -> tuple[bool, int, bool]:
    v = await store.verify_session(tenant, session)
    assert v is not None
    return v.valid, v.event_count, v.anchored


@pytest.fixture
def now(clock: Clock) -> int:
    """Retention runs at BASE + 100 days: the default 90-day policy cuts at BASE + 10 days."""
    return clock.advance(days=100)


async def test_deletes_exactly_the_expired_events_per_tenant_policy(clocked_store: Store, now: int) -> None:
    store = clocked_store
    await store.insert_events([
        session_started("old", tags=["x"], at=day(1), event_id="old0"), custom("old", at=day(2), event_id="old1"),
        custom("mixed", at=day(3), event_id="m0"),
        custom("mixed", at=day(10), event_id="m1"),           # exactly at the cutoff: deleted (inclusive)
        custom("mixed", at=day(10, ms=1), event_id="m2"),     # one millisecond younger: kept
        custom("mixed", at=day(50), event_id="m3"),
        custom("new", at=day(60), event_id="n0"),
        custom("keep", at=day(1), event_id="k0", tenant="forever"),
        custom("t3s", at=day(3), event_id="t0", tenant="short"),
        custom("t3s", at=day(7), event_id="t1", tenant="short"),
    ])
    await store.put_settings("forever", {"retentionDays": "0"})
    await store.put_settings("short", {"retentionDays": "95"})

    done = {d.tenant: d for d in await RetentionJob(store, default_days=90).run_once(now)}

    assert await ids(store) == ["m2", "m3", "n0"]
    assert await ids(store, "forever") == ["k0"]
    assert await ids(store, "short") == ["t1"]
    assert await store.get_session("default", "old") is None
    assert await store.get_session("default", "mixed") is not None
    assert await chain(store, "mixed") == (True, 2, True)
    assert await chain(store, "new") == (True, 1, False)
    assert await chain(store, "t3s", "short") == (True, 1, True)

    assert done["default"].as_json() | {"durationMs": 0} == {
        "tenantId": "default", "retentionDays": 90, "deletedCount": 4, "sessionsDeleted": 1, "anchoredSessions": 1,
        "cutoff": day(10), "skipped": False, "durationMs": 0,
    }
    assert done["forever"].result is None and done["forever"].as_json()["skipped"] is True
    assert done["short"].cutoff_us == now - 95 * DAY_US

    runs = {r["tenants"][0]["tenantId"]: r for r in await store.list_retention_runs()}
    assert set(runs) == {"default", "short"}           # a tenant that keeps everything has nothing to audit
    assert runs["default"]["startedAt"] == format_ms(now)
    assert runs["default"]["cutoff"] == day(10)
    assert (runs["default"]["deletedCount"], runs["default"]["sessionsDeleted"]) == (4, 1)
    assert runs["default"]["anchoredSessions"] == 1
    assert runs["short"]["cutoff"] == day(5)
    assert runs["short"]["deletedCount"] == 1


async def test_zero_days_keeps_everything(clocked_store: Store, now: int) -> None:
    await clocked_store.insert_events([custom("s", at=day(0)), custom("s", at=day(99))])
    done = await RetentionJob(clocked_store, default_days=0).run_once(now)
    assert [d.result for d in done] == [None]
    assert len(await ids(clocked_store)) == 2
    assert await clocked_store.list_retention_runs() == []


async def test_a_changed_setting_is_honoured_at_the_next_run(clocked_store: Store, now: int) -> None:
    store = clocked_store
    await store.insert_events([custom("s", at=day(5), event_id="a"), custom("s", at=day(40), event_id="b"),
                               custom("s", at=day(80), event_id="c")])
    job = RetentionJob(store, default_days=90)
    await job.run_once(now)
    assert await ids(store) == ["b", "c"]
    await store.put_settings("default", {"retentionDays": "30"})     # what PUT /api/config stores
    assert await job.policy_days("default") == 30
    await job.run_once(now)
    assert await ids(store) == ["c"]
    assert await chain(store, "s") == (True, 1, True)
    await store.put_settings("default", {"retentionDays": "not a number"})   # unusable: the default applies
    assert await job.policy_days("default") == 90


async def test_small_batches_keep_every_chain_verifiable(clocked_store: Store, now: int) -> None:
    store = clocked_store
    events = [custom(f"s{i % 3}", at=day(i / 10), event_id=f"e{i:02d}") for i in range(60)]   # days 0..5.9
    events += [custom(f"s{i}", at=day(20), event_id=f"late{i}") for i in range(3)]
    await store.insert_events(events)
    done = await RetentionJob(store, default_days=97, batch_size=7).run_once(now)   # cutoff day 3
    assert done[0].result is not None
    assert done[0].result.deleted_count == 31                                     # days 0.0 .. 3.0
    assert done[0].result.anchored_sessions == 3
    assert await ids(store) == [f"e{i:02d}" for i in range(31, 60)] + ["late0", "late1", "late2"]
    for s in ("s0", "s1", "s2"):
        valid, _, anchored = await chain(store, s)
        assert valid and anchored


async def test_scheduled_run_uses_the_injected_clock_and_is_counted(clocked_store: Store, clock: Clock) -> None:
    await clocked_store.insert_events([custom("s", at=day(0)), custom("s", at=day(1))])
    metrics = Metrics()
    scheduler = Scheduler(clocked_store, metrics, clock=clock)
    scheduler.add(RetentionJob(clocked_store, default_days=1), "17 3 * * *")
    clock.advance(days=2, minutes=1)      # cutoff = day 1 + 1 minute
    assert await scheduler.run_now("retention") == "ok"
    assert await ids(clocked_store) == []
    runs = await clocked_store.list_retention_runs()
    assert runs[0]["startedAt"] == format_ms(clock())
    assert metrics.registry.get_sample_value(
        "agentlens_job_runs_total", {"job": "retention", "outcome": "ok"}) == 1


async def test_route_runs_the_callers_tenant_now(
    clocked_store: Store, clock: Clock, now: int, tmp_path: Path, aiohttp_client: Any,
) -> None:
    store = clocked_store
    await store.insert_events([custom("s", at=day(1)), custom("s", at=day(2)), custom("s", at=day(50)),
                               custom("other", at=day(1), tenant="someone-else")])
    client = await aiohttp_client(create_app(app_settings(tmp_path), store, clock=clock))
    assert (await client.put("/api/config", json={"retentionDays": 60})).status == 200
    resp = await client.post("/api/retention/run")
    assert resp.status == 200
    body = await resp.json()
    assert {k: body[k] for k in ("deletedCount", "sessionsDeleted", "anchoredSessions", "cutoff")} == {
        "deletedCount": 2, "sessionsDeleted": 0, "anchoredSessions": 1, "cutoff": day(40),
    }
    assert body["retentionDays"] == 60
    assert len(await ids(store)) == 1
    assert len(await ids(store, "someone-else")) == 1      # only the caller's tenant
    assert (await store.list_retention_runs())[0]["deletedCount"] == 2


def test_cli_runs_every_tenant_and_prints_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "cli.db"
    old = "2020-01-01T00:00:00.000Z"
    recent = format_ms(time.time_ns() // 1000 - DAY_US)

    async def setup() -> None:
        store = await SQLiteStore.open(db)
        try:
            await store.insert_events([
                custom("a", at=old), custom("a", at=recent), custom("b", at=old),
                ev("c", at=old, tenant="t2"), ev("d", at=old, tenant="t3"),
            ])
            await store.put_settings("t3", {"retentionDays": "0"})
        finally:
            await store.close()

    asyncio.run(setup())
    monkeypatch.setenv("RETENTION_DAYS", "30")
    assert main(["retention", "run", "--db-path", str(db)]) == 0
    out = capsys.readouterr()
    lines = {d["tenantId"]: d for d in map(orjson.loads, out.out.splitlines())}
    assert set(lines) == {"default", "t2", "t3"}
    assert (lines["default"]["deletedCount"], lines["default"]["sessionsDeleted"]) == (2, 1)
    assert lines["t2"]["deletedCount"] == 1
    assert lines["t3"]["skipped"] is True
    assert "3 event(s) and 2 session(s) deleted over 3 tenant(s)" in out.err

    assert main(["retention", "run", "--db-path", str(db), "--tenant", "default"]) == 0
    again = orjson.loads(capsys.readouterr().out)
    assert (again["tenantId"], again["deletedCount"]) == ("default", 0)
