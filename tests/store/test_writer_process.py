"""The SQLite writer in its own process: the same results, errors carried back, a clean exit."""

from __future__ import annotations

import pickle
import socket
import sqlite3
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from store.errors import Conflict, NotFound, StoreClosed, StoreError
from store.model import AlertRulePatch, ApiKey, EventQuery, NewEvent
from store.sqlite.backend import SQLiteStore
from store.sqlite.connections import open_writer
from store.sqlite.writer import MERGE_MAX_EVENTS, _Frames, _run_requests, _with_queued_inserts
from store.wire import event_wire
from tests.store.builders import custom, session_started
from tests.support import wait_until


async def test_inserts_dedupes_and_chains_through_the_writer_process(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "p.db", writer_process=True)
    try:
        first = await store.insert_events([session_started("s1", "Bot"), custom("s1", event_id="c1")])
        again = await store.insert_events([custom("s1", event_id="c1"), custom("s1")])
        assert (first.inserted, again.inserted, again.duplicates) == (2, 1, 1)
        assert again.outcomes[0].hash == first.outcomes[1].hash
        verification = await store.verify_session("default", "s1")
        assert verification is not None and verification.valid and verification.event_count == 3
        session = await store.get_session("default", "s1")
        assert session is not None and session.agent_name == "Bot" and session.event_count == 3
        result = await store.apply_retention("default", 2**62)
        assert result.deleted_count == 3 and result.sessions_deleted == 1
        assert await store.count_events("default", EventQuery()) == 0
    finally:
        await store.close()


async def test_store_errors_come_back_from_the_writer_process(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "p.db", writer_process=True)
    try:
        with pytest.raises(NotFound):
            await store.update_alert_rule("default", "missing", AlertRulePatch(name="x"))
        key = ApiKey(id="k1", key_hash="h" * 64, name="n", scopes=("*",), tenant_id="default", created_at=1)
        await store.create_api_key(key)
        with pytest.raises(Conflict):
            await store.create_api_key(key)
        await store.revoke_api_key("default", "k1", 2)
        with pytest.raises(Conflict):
            await store.revoke_api_key("default", "k1", 3)
    finally:
        await store.close()


async def test_close_ends_the_child_and_later_writes_are_refused(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "p.db", writer_process=True)
    process = store._c._writer._process  # type: ignore[attr-defined]
    await store.insert_events([custom("s1")])
    await store.close()
    assert not process.is_alive() and process.exitcode == 0
    with pytest.raises(StoreClosed):
        await store.insert_events([custom("s1")])
    reopened = await SQLiteStore.open(tmp_path / "p.db")  # the data is there for the next process
    try:
        assert await reopened.count_events("default", EventQuery()) == 1
    finally:
        await reopened.close()


@pytest.mark.parametrize("writer_process", [True, False], ids=["process", "thread"])
async def test_committed_pages_reach_the_database_file_in_the_background(tmp_path: Path, writer_process: bool) -> None:
    """The writer checkpoints only at 16k WAL pages; the background checkpointer copies far sooner."""
    path = tmp_path / "c.db"
    store = await SQLiteStore.open(path, writer_process=writer_process)
    try:
        before = path.stat().st_size
        blob = "x" * 2000
        for batch in range(10):  # ~4 MB of events: far below the writer's own checkpoint threshold
            await store.insert_events([custom(f"s{batch}", {"blob": blob, "i": i}) for i in range(200)])
        await wait_until(lambda: path.stat().st_size >= before + 3_000_000, what="the WAL copied into the database")
    finally:
        await store.close()
    assert not [t for t in threading.enumerate() if t.name == "sqlite-checkpoint"]
    reopened = await SQLiteStore.open(path)
    try:
        assert await reopened.count_events("default", EventQuery()) == 2000
    finally:
        await reopened.close()


def _insert(*events: NewEvent) -> tuple[str, dict[str, Any]]:
    return "insert_events", {"wire": event_wire(events), "span_rows": ()}


def _wal_frames_written(conn: sqlite3.Connection, run: Callable[[], object]) -> int:
    """Pages ``run`` wrote to an emptied write-ahead log (one frame per page and commit)."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    run()
    return int(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])


def test_queued_inserts_share_one_transaction_and_each_gets_its_own_answer(tmp_path: Path) -> None:
    requests = [
        _insert(session_started("s1", "Bot"), custom("s1", event_id="c1")),
        _insert(custom("s2"), custom("s2"), custom("s2")),
        _insert(custom("s1", event_id="c1"), custom("s1")),   # c1 was sent by the first request
    ]
    one_by_one = open_writer(tmp_path / "serial.db", True)
    try:
        serial_frames = _wal_frames_written(one_by_one, lambda: [_run_requests(one_by_one, [r]) for r in requests])
    finally:
        one_by_one.close()
    conn = open_writer(tmp_path / "m.db", True)
    try:
        answers: list[tuple[bool, Any]] = []
        merged_frames = _wal_frames_written(conn, lambda: answers.extend(_run_requests(conn, requests)))
        assert 0 < merged_frames < serial_frames  # one commit wrote each page once
        assert [ok for ok, _ in answers] == [True, True, True]
        first, second, third = (value for _, value in answers)
        assert (first.inserted, second.inserted, third.inserted, third.duplicates) == (2, 3, 1, 1)
        assert [o.duplicate for o in third.outcomes] == [True, False]
        assert third.outcomes[0].hash == first.outcomes[1].hash
        assert (first.sessions_touched, second.sessions_touched) == ((("default", "s1"),), (("default", "s2"),))
        seqs = conn.execute("SELECT session_id, seq FROM events ORDER BY session_id, seq").fetchall()
        assert seqs == [("s1", 0), ("s1", 1), ("s1", 2), ("s2", 0), ("s2", 1), ("s2", 2)]
    finally:
        conn.close()


def test_a_failing_request_among_queued_inserts_fails_alone(tmp_path: Path) -> None:
    conn = open_writer(tmp_path / "m.db", True)
    try:
        broken = ("insert_events", {"wire": (("default",), ("x",)), "span_rows": ()})
        answers = _run_requests(conn, [_insert(custom("s1")), broken, _insert(custom("s2"))])
        assert [ok for ok, _ in answers] == [True, False, True]
        assert isinstance(answers[1][1], StoreError)
        assert conn.execute("SELECT session_id FROM events ORDER BY session_id").fetchall() == [("s1",), ("s2",)]
    finally:
        conn.close()


def test_frames_arrive_whole_blocking_or_not() -> None:
    parent, child = socket.socketpair()
    frames = _Frames(child)
    try:
        payloads = [pickle.dumps(("insert_events", {"n": i})) for i in range(3)]
        wire = b"".join(struct.pack("!I", len(p)) + p for p in payloads)
        parent.sendall(wire[:7])  # a header and a piece of the first frame
        assert frames.next(block=False) is None
        parent.sendall(wire[7:])
        assert [frames.next(block=True), frames.next(block=False)] == [
            ("insert_events", {"n": 0}), ("insert_events", {"n": 1})]
        third = frames.next(block=False)
        frames.push_back(third)  # a request that may not join the transaction waits for the next one
        assert frames.next(block=False) == third == ("insert_events", {"n": 2})
        assert frames.next(block=False) is None
        parent.close()  # end-of-file: no more requests
        assert frames.next(block=True) is None
    finally:
        child.close()


def test_an_insert_takes_the_inserts_queued_behind_it_up_to_the_merge_limit() -> None:
    parent, child = socket.socketpair()
    frames = _Frames(child)

    def insert(n: int) -> tuple[str, dict[str, Any]]:
        return "insert_events", {"wire": (("default",) * n,), "span_rows": ()}

    queued = [insert(400), insert(500), insert(200), ("put_settings", {}), insert(1)]
    try:
        parent.sendall(b"".join(struct.pack("!I", len(p)) + p for p in map(pickle.dumps, queued)))
        first = frames.next(block=True)
        assert first is not None
        assert MERGE_MAX_EVENTS == 1000
        assert _with_queued_inserts(frames, first) == queued[:2]   # 400 + 500; 200 more would pass 1,000
        again = frames.next(block=True)
        assert again is not None
        assert _with_queued_inserts(frames, again) == [queued[2]]   # a settings write never joins
        other = frames.next(block=True)
        assert other is not None
        assert _with_queued_inserts(frames, other) == [queued[3]]  # nor takes the insert behind it
        assert frames.next(block=False) == queued[4]
    finally:
        parent.close()
        child.close()
