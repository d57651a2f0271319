"""The SQLite writer in its own process: the same results, errors carried back, a clean exit."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from store.errors import Conflict, NotFound, StoreClosed
from store.model import AlertRulePatch, ApiKey, EventQuery
from store.sqlite.backend import SQLiteStore
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
