"""Test helpers that are not fixtures: PostgreSQL databases, server processes, event builders."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO.parent / "shared" / "vectors"

_PG_CANDIDATES = (
    "postgresql://root@/test?host=/var/run/postgresql",
    "postgresql://root@127.0.0.1:5432/test",
)


def pg_admin_dsn() -> tuple[str | None, str]:
    """The first PostgreSQL DSN that accepts a connection, or (None, why not)."""
    import asyncio

    import asyncpg

    candidates = [os.environ["AGENTLENS_TEST_PG_DSN"]] if os.environ.get("AGENTLENS_TEST_PG_DSN") else _PG_CANDIDATES
    errors: list[str] = []

    async def probe(dsn: str) -> bool:
        try:
            conn = await asyncpg.connect(dsn, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            errors.append(f"{dsn}: {exc}")
            return False
        await conn.close()
        return True

    # The probe gets its own thread and event loop: this is called from async fixtures too.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        for dsn in candidates:
            if pool.submit(asyncio.run, probe(dsn)).result():
                return dsn, ""
    return None, "; ".join(errors)


def _with_database(dsn: str, name: str) -> str:
    head, _, tail = dsn.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


async def pg_database_url(admin_dsn: str, created: list[str], *, migrated: bool = False) -> str:
    """Create a fresh database and return its URL; its name is appended to ``created``.

    ``migrated=True`` gives a database that already holds every migration and no rows: one an
    earlier test handed back with ``release_databases``, else a copy of a migrated template (made
    once per test process). Creating and dropping a database costs ~0.5 s here, emptying one ~10 ms.
    """
    import asyncpg

    free = _FREE.get(admin_dsn)
    if migrated and free:
        name = free.pop()
        created.append(name)
        return _with_database(admin_dsn, name)
    name = f"alc_test_{uuid.uuid4().hex[:12]}"
    template = await _migrated_template(admin_dsn) if migrated else None
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()
    created.append(name)
    return _with_database(admin_dsn, name)


_TEMPLATES: dict[str, str] = {}
_FREE: dict[str, list[str]] = {}


async def _migrated_template(admin_dsn: str) -> str:
    """This process's migrated template database (dropped by ``drop_templates``)."""
    name = _TEMPLATES.get(admin_dsn)
    if name is None:
        from store.factory import open_store

        made: list[str] = []
        url = await pg_database_url(admin_dsn, made)
        store = await open_store(url)  # applies every migration
        await store.close()
        name = _TEMPLATES[admin_dsn] = made[0]
    return name


async def release_databases(admin_dsn: str, names: list[str]) -> None:
    """Empty migrated databases (every table but the migration record) for reuse; drop any that resist.

    The stores on them must be closed: a connection still holding a lock makes the reset time out,
    and that database is dropped instead.
    """
    import asyncpg

    for name in names:
        try:
            conn = await asyncpg.connect(_with_database(admin_dsn, name), timeout=5)
            try:
                await conn.execute("SET lock_timeout = '2s'")
                tables = await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'")
                sequences = await conn.fetch("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
                async with conn.transaction():  # DELETE: ~10 ms for a test's rows; TRUNCATE took ~150 ms
                    for (table,) in tables:
                        await conn.execute(f'DELETE FROM "{table}"')
                    for (sequence,) in sequences:
                        await conn.execute(f'ALTER SEQUENCE "{sequence}" RESTART')
            finally:
                await conn.close()
        except (asyncpg.PostgresError, OSError, TimeoutError):
            await drop_databases(admin_dsn, [name])
            continue
        _FREE.setdefault(admin_dsn, []).append(name)


async def drop_templates() -> None:
    """Drop the reusable databases and the template of this test process."""
    for dsn in list(_FREE):
        await drop_databases(dsn, _FREE.pop(dsn))
    for dsn in list(_TEMPLATES):
        await drop_databases(dsn, [_TEMPLATES.pop(dsn)])


async def drop_databases(admin_dsn: str, names: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_READY = re.compile(r"agentlens-collector ready on http://[^:]+:(\d+)")


class ServerProcess:
    """``python -m collector serve`` in a subprocess; ``start()`` returns once it prints its ready line."""

    def __init__(self, db_path: Path, *, env: Mapping[str, str] | None = None, port: int = 0,
                 own_group: bool = False) -> None:
        self.db_path = db_path
        self.own_group = own_group  # a process group of its own, which ``signal_group`` can signal
        self.env = {**os.environ, "AGENTLENS_AUTH": "disabled", "AGENTLENS_LOG_LEVEL": "warning", **(env or {})}
        self.requested_port = port
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "collector", "serve", "--host", "127.0.0.1", "--port", str(self.requested_port),
             "--db-path", str(self.db_path)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=self.env, cwd=REPO,
            start_new_session=self.own_group,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.kill()
                raise RuntimeError("server did not become ready:\n" + "".join(self.output)) from None
            m = _READY.search(line)
            if m:
                self.port = int(m[1])
                return self
            if line == "":
                raise RuntimeError("server exited before it was ready:\n" + "".join(self.output))

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put("")

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def signal_group(self, sig: int, timeout: float = 60.0) -> int:
        """``sig`` to the server and its children at once, as Ctrl-C in a terminal does; the exit code."""
        assert self.proc is not None and self.own_group
        os.killpg(self.proc.pid, sig)
        return self.proc.wait(timeout)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


async def wait_until(condition: Any, timeout: float = 30.0, what: str = "condition") -> None:
    """Yield to the event loop until ``condition()`` is true (no fixed sleeps); fail after ``timeout``."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def wait_until_async(check: Any, timeout: float = 30.0, what: str = "condition") -> None:
    """``wait_until`` for an async predicate (``await check()``)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def custom_event(session: str, i: int, **extra: Any) -> dict[str, Any]:
    """A small valid native event."""
    event: dict[str, Any] = {
        "sessionId": session, "agentId": "agent-1", "eventType": "custom",
        "payload": {"type": "test", "data": {"i": i}},
    }
    event.update(extra)
    return event
