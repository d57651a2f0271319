"""Two collector processes on one PostgreSQL database: a rule fires once, and only the leader evaluates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support import ServerProcess, drop_databases, pg_database_url

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
async def database_url(pg_selected: None, pg_dsn: str) -> AsyncIterator[str]:
    created: list[str] = []
    url = await pg_database_url(pg_dsn, created)
    yield url
    await drop_databases(pg_dsn, created)


async def job_runs(http: aiohttp.ClientSession, server: ServerProcess) -> dict[str, float]:
    """``agentlens_job_runs_total`` of the alerts job by outcome, from the server's /metrics."""
    text = await (await http.get(f"{server.url}/metrics")).text()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith('agentlens_job_runs_total{job="alerts"'):
            outcome = line.split('outcome="')[1].split('"')[0]
            out[outcome] = float(line.rsplit(" ", 1)[1])
    return out


async def test_one_alert_fires_once_across_two_processes(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "AGENTLENS_ALERT_CRON": "* * * * * *"}    # every second
    servers = [ServerProcess(tmp_path / f"unused{i}.db", env=env) for i in range(2)]
    for s in servers:
        await asyncio.to_thread(s.start)
    try:
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{servers[0].url}/api/alerts/rules", json={
                "name": "silence", "condition": "no_events_for", "threshold": 0, "windowMinutes": 60})
            assert resp.status == 201
            # No signal crosses the process boundary: poll until each process has evaluated at
            # least three times since the rule exists (one as leader, one not).
            deadline = time.monotonic() + 60
            while True:
                runs = [await job_runs(http, s) for s in servers]
                leaders = [r.get("ok", 0) for r in runs]
                followers = [r.get("not_leader", 0) for r in runs]
                if sorted(leaders)[0] == 0 and max(leaders) >= 3 and max(followers) >= 3:
                    break
                assert time.monotonic() < deadline, f"alert jobs did not run as expected: {runs}"
                await asyncio.sleep(0.2)
            history = await (await http.get(f"{servers[1].url}/api/alerts/history")).json()
            assert history["total"] == 1
            assert history["entries"][0]["message"] == "No events received in the last 60m"
    finally:
        for s in servers:
            await asyncio.to_thread(s.terminate)
