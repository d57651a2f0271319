"""Commit fan-out across processes: NOTIFY payloads written by ingest, and the LISTEN side."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

import asyncpg
import orjson

from store.interface import CommitCallback
from store.postgres import queries as q
from store.postgres.connections import connect, is_connection_error

__all__ = ("CHANNEL", "CommitListener", "decode_payload", "notify_payloads")

LOG = logging.getLogger("store.postgres.notify")

CHANNEL = "agentlens_commits"
# PostgreSQL refuses payloads of 8000 bytes or more; stay below with room for the envelope.
PAYLOAD_LIMIT = 7900
# An idle LISTEN connection notices a dead server only when it talks: probe it this often (s).
PROBE_INTERVAL = 10.0
PROBE_TIMEOUT = 5.0
# Reconnect backoff (s): first wait, and the cap it doubles up to.
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 5.0


def notify_payloads(origin: str, ids_by_tenant: Mapping[str, Sequence[str]]) -> list[str]:
    """JSON payloads ``{"o": origin, "t": tenant, "ids": [...]}``, each under ``PAYLOAD_LIMIT`` bytes."""
    payloads: list[str] = []
    for tenant, ids in ids_by_tenant.items():
        base = len(orjson.dumps({"o": origin, "t": tenant, "ids": []}))
        chunk: list[str] = []
        size = base
        for event_id in ids:
            extra = len(orjson.dumps(event_id)) + 1
            if base + extra > PAYLOAD_LIMIT:
                LOG.warning("event id too long to announce across processes: %.40s...", event_id)
                continue
            if size + extra > PAYLOAD_LIMIT:
                payloads.append(orjson.dumps({"o": origin, "t": tenant, "ids": chunk}).decode())
                chunk, size = [], base
            chunk.append(event_id)
            size += extra
        if chunk:
            payloads.append(orjson.dumps({"o": origin, "t": tenant, "ids": chunk}).decode())
    return payloads


def decode_payload(payload: str) -> tuple[str, str, list[str]] | None:
    """(origin, tenant, ids) or ``None`` for a payload that is not ours."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    origin, tenant, ids = value.get("o"), value.get("t"), value.get("ids")
    if not isinstance(origin, str) or not isinstance(tenant, str) or not isinstance(ids, list):
        return None
    return origin, tenant, [i for i in ids if isinstance(i, str)]


def _setter(event: asyncio.Event) -> Callable[[object], None]:
    return lambda _conn: event.set()


class CommitListener:
    """One LISTEN connection per store, reconnected whenever it dies; callbacks run in order.

    Notifications sent while the connection is down are lost (NOTIFY is not a queue): the live
    stream is best effort across processes, the stored events are not.
    """

    def __init__(self, url: str, origin: str) -> None:
        self._url = url
        self._origin = origin
        self._callbacks: list[CommitCallback] = []
        self._queue: asyncio.Queue[tuple[str, list[str]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()

    @property
    def active(self) -> bool:
        return bool(self._tasks)

    async def add(self, callback: CommitCallback) -> None:
        """Register a callback; the first one starts the connection and waits until it listens."""
        self._callbacks.append(callback)
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._supervise(), name="pg-listen"),
                asyncio.create_task(self._dispatch(), name="pg-listen-dispatch"),
            ]
        # Return once LISTEN is in place, so a commit right after this call is seen (or after
        # a short bound when the server is down: the supervisor keeps trying in the background).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), 10.0)

    async def remove(self, callback: CommitCallback) -> None:
        with contextlib.suppress(ValueError):
            self._callbacks.remove(callback)
        if not self._callbacks:
            await self.stop()

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._listening.clear()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        decoded = decode_payload(payload) if isinstance(payload, str) else None
        if decoded is None or decoded[0] == self._origin:
            return  # not ours, or our own commit (this process already knows about it)
        self._queue.put_nowait((decoded[1], decoded[2]))

    async def _dispatch(self) -> None:
        while True:
            tenant, ids = await self._queue.get()
            for callback in list(self._callbacks):
                try:
                    await callback(tenant, ids)
                except Exception:  # a subscriber must never stop the fan-out
                    LOG.exception("commit callback failed")

    async def _supervise(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await connect(self._url, role=f"listen:{self._origin}")
                lost = asyncio.Event()
                conn.add_termination_listener(_setter(lost))
                await conn.add_listener(CHANNEL, self._on_notify)
                self._listening.set()
                delay = BACKOFF_FIRST
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), PROBE_INTERVAL)
                    if not lost.is_set():
                        await conn.fetchval(q.SELECT_ONE, timeout=PROBE_TIMEOUT)
                LOG.warning("LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_connection_error(exc) and not isinstance(exc, asyncpg.PostgresError):
                    LOG.exception("LISTEN connection failed")
                else:
                    LOG.warning("LISTEN connection failed: %s", exc)
            finally:
                self._listening.clear()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(delay)  # backoff before reconnecting (not a synchronization)
            delay = min(delay * 2, BACKOFF_MAX)
