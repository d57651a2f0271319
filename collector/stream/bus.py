"""The live-stream bus: commits and alerts fanned out to SSE subscribers, each with a bounded buffer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from collector.api.serialize import event_json, session_json
from collector.metrics import Metrics
from store.interface import Store
from store.model import InsertResult, NewEvent, StoredEvent

__all__ = ("StreamBus", "StreamFilter", "Subscriber", "TooManyClients", "sse_frame")

LOG = logging.getLogger("collector.stream")

# Commits waiting for the fan-out worker; beyond this the bus is lagging (see ``_lagging``).
FANOUT_BACKLOG = 1024


def sse_frame(name: str, data: Any) -> bytes:
    """``event: <name>\\ndata: <json>\\n\\n`` (orjson output never contains a newline)."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class TooManyClients(Exception):
    """The stream already has its maximum number of subscribers."""


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """What one client asked for; empty fields match everything (upstream §5.12)."""

    session_id: str | None = None
    agent_id: str | None = None
    event_types: frozenset[str] = frozenset()

    def wants_event(self, e: StoredEvent) -> bool:
        return (
            (self.session_id is None or e.session_id == self.session_id)
            and (self.agent_id is None or e.agent_id == self.agent_id)
            and (not self.event_types or e.event_type in self.event_types)
        )

    def wants_session(self, session_id: str, agent_id: str) -> bool:
        return (self.session_id is None or session_id == self.session_id) and (
            self.agent_id is None or agent_id == self.agent_id
        )


class Subscriber:
    """One client's queue of encoded frames, bounded in bytes; overflowing closes it."""

    def __init__(self, tenant: str, wanted: StreamFilter, max_bytes: int) -> None:
        self.tenant = tenant
        self.filter = wanted
        self._max_bytes = max_bytes
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self.close_reason: str | None = None

    @property
    def closed(self) -> bool:
        return self.close_reason is not None

    def offer(self, frame: bytes) -> bool:
        """Queue a frame; False (and the subscriber is closed) when it does not fit."""
        if self.closed:
            return False
        if self._frames and self._bytes + len(frame) > self._max_bytes:
            self.close("slow_client")
            return False
        self._frames.append(frame)
        self._bytes += len(frame)
        self._wake.set()
        return True

    def close(self, reason: str) -> None:
        if self.close_reason is None:
            self.close_reason = reason
            self._frames.clear()
            self._bytes = 0
        self._wake.set()

    async def take(self, wait_seconds: float) -> list[bytes] | None:
        """Every queued frame (``[]`` after ``wait_seconds`` without one); ``None`` once closed."""
        if not self._frames and not self.closed:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait_seconds)
        if self.closed:
            return None
        frames = list(self._frames)
        self._frames.clear()
        self._bytes = 0
        return frames


@dataclass(frozen=True, slots=True)
class _Work:
    tenant: str
    event_ids: tuple[str, ...]
    sessions: tuple[str, ...] | None   # None: derive from the fetched events (remote commits)


class StreamBus:
    """Fans out commits (this process's and, on PostgreSQL, other processes') and alert messages.

    The pipeline listener only enqueues ids, so ingest never waits for the stream. One worker
    fetches each commit's events once (``get_events_by_ids``) and each touched session once,
    encodes each message once and offers the same bytes to every matching subscriber of the
    tenant. A subscriber whose buffer would exceed its byte budget is closed (the client is
    told why and can reconnect); if the worker itself falls ``FANOUT_BACKLOG`` commits behind,
    the tenant's subscribers are closed the same way instead of silently missing events.
    """

    def __init__(
        self, store: Store, metrics: Metrics, *, client_buffer_bytes: int, max_clients: int,
        backlog: int = FANOUT_BACKLOG,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._buffer_bytes = client_buffer_bytes
        self._max_clients = max_clients
        self._subs: dict[str, set[Subscriber]] = {}
        self._count = 0
        self._changed = asyncio.Event()
        self._queue: asyncio.Queue[_Work] = asyncio.Queue(backlog)
        self._worker: asyncio.Task[None] | None = None
        self._unlisten: Callable[[], Awaitable[None]] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="stream-fanout")
        self._unlisten = await self._store.listen_commits(self.on_remote_commit)

    def close_all(self, reason: str = "shutdown") -> None:
        """Close every subscriber (their handlers finish promptly)."""
        for subs in list(self._subs.values()):
            for sub in list(subs):
                self._drop(sub, reason)

    async def stop(self) -> None:
        """Stop listening, close every subscriber, end the worker. Idempotent."""
        unlisten, self._unlisten = self._unlisten, None
        if unlisten is not None:
            try:
                await unlisten()
            except Exception:
                LOG.exception("stopping the commit listener failed")
        self.close_all()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    # ------------------------------------------------------------------ subscribers

    @property
    def client_count(self) -> int:
        return self._count

    async def wait_client_count(self, n: int) -> None:
        """Wait until exactly ``n`` subscribers are registered (tests and shutdown)."""
        while self._count != n:
            self._changed.clear()
            await self._changed.wait()

    def subscribe(self, tenant: str, wanted: StreamFilter) -> Subscriber:
        if self._count >= self._max_clients:
            raise TooManyClients()
        sub = Subscriber(tenant, wanted, self._buffer_bytes)
        self._subs.setdefault(tenant, set()).add(sub)
        self._set_count(self._count + 1)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._subs.get(sub.tenant)
        if subs is not None and sub in subs:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.tenant]
            self._set_count(self._count - 1)

    def _set_count(self, n: int) -> None:
        self._count = n
        self._metrics.stream_clients.set(n)
        self._changed.set()

    def _drop(self, sub: Subscriber, reason: str) -> None:
        if reason != "shutdown":
            LOG.warning("stream client of tenant %r dropped: %s", sub.tenant, reason)
            self._metrics.stream_clients_dropped.labels(reason).inc()
        sub.close(reason)
        self.unsubscribe(sub)

    def _offer(self, sub: Subscriber, frame: bytes) -> None:
        if not sub.offer(frame):
            self._drop(sub, sub.close_reason or "slow_client")

    # ------------------------------------------------------------------ sources

    def on_commit(self, events: Sequence[NewEvent], result: InsertResult) -> None:
        """Pipeline listener: queue the inserted ids of tenants someone is watching. Never blocks."""
        if not self._subs or self._worker is None:
            return
        by_tenant: dict[str, tuple[list[str], dict[str, None]]] = {}
        for ev, outcome in zip(events, result.outcomes, strict=False):
            if outcome.duplicate or ev.tenant_id not in self._subs:
                continue
            ids, sessions = by_tenant.setdefault(ev.tenant_id, ([], {}))
            ids.append(ev.id)
            sessions[ev.session_id] = None
        for tenant, (ids, sessions) in by_tenant.items():
            self._enqueue(_Work(tenant, tuple(ids), tuple(sessions)))

    async def on_remote_commit(self, tenant: str, event_ids: Sequence[str]) -> None:
        """``store.listen_commits`` callback: events another process committed."""
        if tenant in self._subs and self._worker is not None and event_ids:
            self._enqueue(_Work(tenant, tuple(event_ids), None))

    def publish(self, tenant: str, name: str, data: Mapping[str, Any]) -> None:
        """Send a message (``alert``, ``alert_resolved``) to every subscriber of the tenant, unfiltered."""
        subs = self._subs.get(tenant)
        if not subs:
            return
        frame = sse_frame(name, data)
        for sub in list(subs):
            self._offer(sub, frame)

    def _enqueue(self, work: _Work) -> None:
        try:
            self._queue.put_nowait(work)
        except asyncio.QueueFull:
            self._lagging(work.tenant, "lagging")

    def _lagging(self, tenant: str, reason: str) -> None:
        for sub in list(self._subs.get(tenant, ())):
            self._drop(sub, reason)

    # ------------------------------------------------------------------ the worker

    async def _run(self) -> None:
        while True:
            work = await self._queue.get()
            if work.tenant not in self._subs:
                continue
            try:
                await self._fan_out(work)
            except Exception:
                LOG.exception("stream fan-out failed for tenant %r", work.tenant)
                self._lagging(work.tenant, "error")

    async def _fan_out(self, work: _Work) -> None:
        tenant = work.tenant
        events = await self._store.get_events_by_ids(tenant, work.event_ids)
        order = {eid: i for i, eid in enumerate(work.event_ids)}
        events.sort(key=lambda e: order.get(e.id, len(order)))   # commit order, not time order
        for event in events:
            wanting = [s for s in self._subs.get(tenant, ()) if s.filter.wants_event(event)]
            if wanting:
                frame = sse_frame("event", event_json(event))
                for sub in wanting:
                    self._offer(sub, frame)
        session_ids = work.sessions if work.sessions is not None else tuple(dict.fromkeys(e.session_id for e in events))
        for sid in session_ids:
            if not any(s.filter.session_id in (None, sid) for s in self._subs.get(tenant, ())):
                continue
            session = await self._store.get_session(tenant, sid)
            if session is None:
                continue
            wanting = [s for s in self._subs.get(tenant, ()) if s.filter.wants_session(sid, session.agent_id)]
            if wanting:
                frame = sse_frame("session_update", session_json(session))
                for sub in wanting:
                    self._offer(sub, frame)
