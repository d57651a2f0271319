"""The scheduler: aiocron ticks run jobs with the injected clock, failures are counted, nothing outlives stop()."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from collector.app import create_app
from collector.appkeys import jobs_key, stream_key
from collector.config import load_settings
from collector.jobs.scheduler import Scheduler
from collector.metrics import Metrics
from store.interface import Store
from store.model import AlertRuleInput
from tests.conftest import test_settings as app_settings
from tests.jobs.conftest import Clock


class RecordingJob:
    """A job that records the ``now`` it was given; it raises while ``failures`` is positive."""

    def __init__(self, name: str, failures: int = 0) -> None:
        self.name = name
        self.failures = failures
        self.seen: list[int] = []
        self.ran = asyncio.Event()

    async def run_once(self, now_us: int) -> None:
        self.seen.append(now_us)
        self.ran.set()
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("boom")


def runs(metrics: Metrics, job: str, outcome: str) -> float:
    return metrics.registry.get_sample_value("agentlens_job_runs_total", {"job": job, "outcome": outcome}) or 0.0


def other_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_aiocron_ticks_run_the_job_with_the_injected_clock(sqlite_store: Store, clock: Clock) -> None:
    metrics = Metrics()
    scheduler = Scheduler(sqlite_store, metrics, clock=clock)
    job = RecordingJob("every-second")
    scheduler.add(job, "* * * * * *")            # 6 fields: every second, so the test waits at most ~1 s
    before = set(other_tasks())
    await scheduler.start()
    try:
        await asyncio.wait_for(job.ran.wait(), 10)
    finally:
        await scheduler.stop()
    assert job.seen[0] == clock()
    assert runs(metrics, "every-second", "ok") >= 1
    assert set(other_tasks()) <= before          # the runner task is gone


async def test_a_failing_run_is_logged_counted_and_the_next_run_still_happens(
    sqlite_store: Store, clock: Clock, caplog: Any,
) -> None:
    metrics = Metrics()
    scheduler = Scheduler(sqlite_store, metrics, clock=clock)
    job = RecordingJob("flaky", failures=1)
    scheduler.add(job, "0 0 1 1 *")              # never during the test: triggered by hand
    await scheduler.start()
    try:
        scheduler.trigger("flaky")
        await asyncio.wait_for(job.ran.wait(), 10)
        job.ran.clear()
        clock.advance(minutes=1)
        scheduler.trigger("flaky")
        await asyncio.wait_for(job.ran.wait(), 10)
    finally:
        await scheduler.stop()
    assert (runs(metrics, "flaky", "error"), runs(metrics, "flaky", "ok")) == (1, 1)
    assert job.seen == [clock() - 60_000_000, clock()]
    assert "job flaky failed" in caplog.text


async def test_run_now_reports_the_outcome(sqlite_store: Store, clock: Clock) -> None:
    metrics = Metrics()
    scheduler = Scheduler(sqlite_store, metrics, clock=clock)
    scheduler.add(RecordingJob("bad", failures=5), "* * * * *")
    assert await scheduler.run_now("bad") == "error"
    assert scheduler.run_count("bad") == 1


async def test_app_shutdown_leaves_no_task_behind(sqlite_store: Store, tmp_path: Path) -> None:
    """Scheduler, stream worker, an open stream client and an in-flight webhook all end with the app."""
    hang = asyncio.Event()

    async def slow_hook(request: web.Request) -> web.Response:
        hang.set()
        await asyncio.Event().wait()            # never answers
        return web.Response()

    hook_app = web.Application()
    hook_app.router.add_post("/hook", slow_hook)
    before = set(other_tasks())
    async with TestServer(hook_app, host="127.0.0.1") as hook_server, aiohttp.ClientSession() as http:
        settings = app_settings(tmp_path, allow_private_webhooks=True, alert_cron="0 0 1 1 *")
        app = create_app(settings, sqlite_store)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            await sqlite_store.create_alert_rule("default", AlertRuleInput(
                name="silence", condition="no_events_for", threshold=0, window_minutes=1,
                notify_channels=(f"http://127.0.0.1:{hook_server.port}/hook",),
            ))
            stream = await http.get(server.make_url("/api/stream"))
            assert (await stream.content.readline()) == b"event: heartbeat\n"
            reader = asyncio.create_task(stream.content.read())
            assert await app[jobs_key].scheduler.run_now("alerts") == "ok"
            await asyncio.wait_for(hang.wait(), 10)            # the webhook is in flight
            assert app[jobs_key].webhooks.pending == 1
            assert app[stream_key].client_count == 1
        finally:
            await server.close()
        # the stream client was told why it is being disconnected, and the stream ended
        rest = await asyncio.wait_for(reader, 10)
        assert b"event: alert\n" in rest                     # the firing was streamed first
        assert b"event: disconnect\n" in rest and b'"reason":"shutdown"' in rest
        stream.release()
    leftovers = [t for t in other_tasks() if t not in before]
    assert leftovers == []


def test_cron_expressions_are_validated_with_the_settings() -> None:
    _, problems = load_settings({"AGENTLENS_RETENTION_CRON": "61 * * * *", "AGENTLENS_ALERT_CRON": "every minute"})
    assert [p.split(":")[0] for p in problems] == ["AGENTLENS_RETENTION_CRON", "AGENTLENS_ALERT_CRON"]
    _, problems = load_settings({"AGENTLENS_RETENTION_CRON": "*/5 * * * * *", "AGENTLENS_ALERT_CRON": "0 3 * * mon"})
    assert problems == []
