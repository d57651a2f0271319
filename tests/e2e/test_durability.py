"""An acknowledged event is never lost: SIGKILL mid-stream, overload with a tiny queue, clean SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest

from collector.appkeys import pipeline_key
from collector.ingest.pipeline import MAX_COMMITS_IN_FLIGHT
from tests.support import ServerProcess, custom_event, wait_until

pytestmark = pytest.mark.slow

SESSIONS = 6
BATCH = 50


def _batch(sender: int, n: int) -> list[dict[str, Any]]:
    """Events with client ids: sender/batch/index make every id unique and retries idempotent."""
    return [
        custom_event(f"kill-s{(sender + i) % SESSIONS}", n * BATCH + i, id=f"k{sender}.{n}.{i}")
        for i in range(BATCH)
    ]


async def _send_until(
    url: str, stop_after: int, acked: dict[str, str], sent: list[list[dict[str, Any]]],
) -> list[asyncio.Task[None]]:
    """Four senders post batches; returns (with them still sending) once ``stop_after`` batches were acknowledged."""
    done = asyncio.Event()
    count = 0

    async def sender(idx: int) -> None:
        nonlocal count
        async with aiohttp.ClientSession() as http:
            n = 0
            while True:
                batch = _batch(idx, n)
                n += 1
                sent.append(batch)
                try:
                    async with http.post(f"{url}/api/events", json={"events": batch}) as resp:
                        if resp.status != 201:
                            continue
                        body = await resp.json()
                except aiohttp.ClientError:
                    return  # the server is gone
                for out in body["events"]:
                    acked[out["id"]] = out["hash"]
                count += 1
                if count >= stop_after:
                    done.set()

    tasks = [asyncio.create_task(sender(i)) for i in range(4)]
    await done.wait()
    return tasks  # still sending: the caller stops the server with requests in flight


async def _stop_mid_stream(
    db: Path, stop_after: int, how: Literal["kill", "terminate", "interrupt"],
) -> tuple[dict[str, str], list[list[dict[str, Any]]]]:
    """Run a server on ``db``, stop it with requests in flight once ``stop_after`` batches were acknowledged.

    Returns the acknowledged events (id -> hash) and every batch sent.
    """
    server = ServerProcess(db, own_group=how == "interrupt").start()
    acked: dict[str, str] = {}
    sent: list[list[dict[str, Any]]] = []
    try:
        senders = await _send_until(server.url, stop_after, acked, sent)
        if how == "kill":
            server.kill()  # SIGKILL: no chance to flush
        elif how == "interrupt":
            # Ctrl-C: SIGINT reaches the server and its writer and mapper processes at once
            assert await asyncio.to_thread(server.signal_group, signal.SIGINT) == 0
            assert "Traceback" not in "".join(server.output), "".join(server.output)
        else:
            # SIGTERM; the senders keep reading answers during the drain
            assert await asyncio.to_thread(server.terminate) == 0  # a clean exit after draining the queue
        for t in senders:
            t.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
    finally:
        server.kill()
    return acked, sent


async def test_sigkill_mid_stream_loses_no_acknowledged_event(tmp_path: Path) -> None:
    db = tmp_path / "kill.db"
    acked, sent = await _stop_mid_stream(db, 120, "kill")
    assert len(acked) >= 120 * BATCH

    restarted = ServerProcess(db).start()
    try:
        async with aiohttp.ClientSession() as http:
            stored: dict[str, str] = {}
            for s in range(SESSIONS):
                async with http.get(f"{restarted.url}/api/sessions/kill-s{s}/timeline") as resp:
                    assert resp.status == 200
                    timeline = await resp.json()
                assert timeline["chainValid"] is True
                for e in timeline["events"]:
                    assert e["id"] not in stored, "an event was stored twice"
                    stored[e["id"]] = e["hash"]
                async with http.get(f"{restarted.url}/api/sessions/kill-s{s}/verify") as resp:
                    verify = await resp.json()
                assert verify["valid"] is True, verify
            missing = [i for i in acked if i not in stored]
            assert not missing, f"{len(missing)} acknowledged events lost"
            assert all(stored[i] == h for i, h in acked.items())

            # Retrying every batch (acknowledged or not) is safe: duplicates are recognised.
            for batch in sent:
                async with http.post(f"{restarted.url}/api/events", json={"events": batch}) as resp:
                    assert resp.status == 201
            for s in range(SESSIONS):
                async with http.get(f"{restarted.url}/api/sessions/kill-s{s}/verify") as resp:
                    assert (await resp.json())["valid"] is True
            async with http.get(f"{restarted.url}/api/stats") as resp:
                stats = await resp.json()
            assert stats["totalEvents"] == sum(len(b) for b in sent)
    finally:
        restarted.terminate()


async def test_overload_answers_503_and_loses_nothing_acknowledged(make_client: Any, make_store: Any) -> None:
    """A second connection holds SQLite's write lock, the tiny queue fills, excess requests get 503."""
    st = await make_store("sqlite")
    client = await make_client(st, queue_max_events=300, commit_max_events=100)
    pipeline = client.app[pipeline_key]
    blocker = sqlite3.connect(str(st.path), isolation_level=None, timeout=30)
    blocker.execute("BEGIN IMMEDIATE")  # the writer now waits (busy_timeout) for this lock
    pending: list[asyncio.Task[Any]] = []
    try:
        for n in range(20):
            events = [custom_event(f"ov-{n % 3}", i, id=f"ov.{n}.{i}") for i in range(100)]
            task = asyncio.create_task(client.post("/api/events", json={"events": events}))
            pending.append(task)
            expected = 100 * len(pending)
            await wait_until(
                lambda t=task, n=expected: t.done() or pipeline.pending_events >= n, what="request queued"
            )
            if task.done():
                break
        resp = pending[-1].result()
        assert resp.status == 503, "a full queue must answer 503 at once"
        assert resp.headers["Retry-After"].isdigit()
        assert (await resp.json())["status"] == 503
        # MAX_COMMITS_IN_FLIGHT groups in the blocked writer, three queued (300 events), the next refused
        assert len(pending) == MAX_COMMITS_IN_FLIGHT + 4
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    results = await asyncio.gather(*pending)
    acked: list[str] = []
    for resp in results[:-1]:
        assert resp.status == 201
        acked.extend(o["id"] for o in (await resp.json())["events"])
    for event_id in acked:
        assert (await client.get(f"/api/events/{event_id}")).status == 200
    stats = await (await client.get("/api/stats")).json()
    assert stats["totalEvents"] == len(acked) == 100 * (MAX_COMMITS_IN_FLIGHT + 3)


@pytest.mark.parametrize("how", ["terminate", "interrupt"])
async def test_sigterm_or_ctrl_c_drains_and_commits_what_was_accepted(
    tmp_path: Path, how: Literal["terminate", "interrupt"],
) -> None:
    db = tmp_path / "term.db"
    acked, _ = await _stop_mid_stream(db, 40, how)
    restarted = ServerProcess(db).start()
    try:
        async with aiohttp.ClientSession() as http:
            for event_id, digest in acked.items():
                async with http.get(f"{restarted.url}/api/events/{event_id}") as resp:
                    assert resp.status == 200
                    assert (await resp.json())["hash"] == digest
    finally:
        restarted.terminate()
