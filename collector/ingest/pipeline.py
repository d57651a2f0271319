"""The ingest pipeline: a bounded queue drained by one writer that group-commits (storage.md §4)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

from collector.metrics import Metrics
from store.errors import RetryableStoreError
from store.interface import Store
from store.model import InsertResult, NewEvent
from store.spans import NewSpan

__all__ = ("CommitListener", "IngestPipeline", "Overloaded", "ShuttingDown")

LOG = logging.getLogger("collector.ingest")

# Seconds a client is told to wait before retrying an overloaded or unavailable server.
RETRY_AFTER_SECONDS = 1
# Groups handed to the store at once, and events in them (see IngestPipeline._run). The SQLite
# writer process joins the small inserts queued behind the one it takes into one transaction,
# so many small groups waiting there grow its commits (native batches of 100); requests of a
# thousand events or more (512-span OTLP exports) do better three at a time. On PostgreSQL they
# are concurrent transactions (measured neutral against three). docs/decisions.md has numbers.
MAX_COMMITS_IN_FLIGHT = 8
MAX_EVENTS_IN_FLIGHT = 3000

CommitListener = Callable[[Sequence[NewEvent], InsertResult], Awaitable[None] | None]


class Overloaded(Exception):
    """The queue (or the in-flight budget) is full: answer 503/429 with ``Retry-After``."""

    def __init__(self, message: str = "Ingest queue is full, retry later", retry_after: int = RETRY_AFTER_SECONDS):
        super().__init__(message)
        self.retry_after = retry_after


class ShuttingDown(Overloaded):
    """The pipeline no longer accepts work because the process is stopping."""

    def __init__(self) -> None:
        super().__init__("Server is shutting down, retry later")


@dataclass(slots=True)
class _Batch:
    events: Sequence[NewEvent]
    size: int
    future: asyncio.Future[InsertResult]
    source: str
    spans: Sequence[NewSpan] = ()   # OTLP spans stored in the same transaction as the events


def _event_bytes(events: Sequence[NewEvent], spans: Sequence[NewSpan] = ()) -> int:
    return (sum(len(e.payload_json) + len(e.metadata_json) + 200 for e in events)
            + sum(len(s.body_json) + 200 for s in spans))


class IngestPipeline:
    """Receivers ``submit`` batches; one writer task commits whatever is waiting in one transaction.

    ``submit`` resolves only after the commit (or raises): an acknowledged event is durable. The
    queue is bounded in events and bytes; beyond that ``submit`` raises ``Overloaded`` at once.
    """

    def __init__(
        self, store: Store, metrics: Metrics, *, max_events: int, max_bytes: int, commit_max_events: int,
        inflight_max_bytes: int,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._commit_max = commit_max_events
        self._inflight_max = inflight_max_bytes
        self._inflight = 0
        self._queue: deque[_Batch] = deque()
        self._queued_events = 0
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._accepting = False
        self._listeners: list[CommitListener] = []
        self._committing = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_COMMITS_IN_FLIGHT)
        self._committed = asyncio.Event()   # set whenever a group finishes (frees events in flight)
        self._idle = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    def add_listener(self, listener: CommitListener) -> None:
        """Called after every commit with the committed events and their outcomes."""
        self._listeners.append(listener)

    async def start(self) -> None:
        self._accepting = True
        self._writer = asyncio.create_task(self._run(), name="ingest-writer")

    async def stop(self, drain_seconds: float = 30.0) -> None:
        """Stop accepting, commit everything already accepted, then end the writer."""
        self._accepting = False
        writer, self._writer = self._writer, None
        if writer is None:
            return
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._drained()), drain_seconds)
        except TimeoutError:
            LOG.error("shutdown: %d queued events were not committed in %.0fs", self._queued_events, drain_seconds)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        for batch in self._queue:
            if not batch.future.done():
                batch.future.set_exception(ShuttingDown())
        self._queue.clear()

    async def _drained(self) -> None:
        while self._queue or self._in_flight:
            self._idle.clear()
            await self._idle.wait()

    # ------------------------------------------------------------------ admission

    @property
    def queued_events(self) -> int:
        return self._queued_events

    @property
    def pending_events(self) -> int:
        """Events accepted but not yet committed (queued or in the transaction being written)."""
        return self._queued_events + self._committing

    def check_capacity(self) -> None:
        """Raise ``Overloaded`` before a request body is read if the queue is already full."""
        if not self._accepting:
            raise ShuttingDown()
        if self._queued_events >= self._max_events or self._queued_bytes >= self._max_bytes:
            raise Overloaded()

    @contextlib.contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold ``nbytes`` of the in-flight budget while a request is read and parsed."""
        if self._inflight and self._inflight + nbytes > self._inflight_max:
            raise Overloaded("Too many bytes in flight, retry later")
        self._inflight += nbytes
        try:
            yield
        finally:
            self._inflight -= nbytes

    async def submit(
        self, events: Sequence[NewEvent], *, source: str = "native", spans: Sequence[NewSpan] = (),
    ) -> InsertResult:
        """Queue the events (and spans) and wait until they are committed; returns their outcomes."""
        if not self._accepting:
            raise ShuttingDown()
        if not events and not spans:
            return InsertResult((), 0, 0, ())
        size = _event_bytes(events, spans)
        if self._queue and (
            self._queued_events + len(events) > self._max_events or self._queued_bytes + size > self._max_bytes
        ):
            raise Overloaded()
        future: asyncio.Future[InsertResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Batch(events, size, future, source, spans))
        self._queued_events += len(events)
        self._queued_bytes += size
        self._set_gauges()
        self._wake.set()
        # The writer owns the future: if this request is cancelled the batch is still committed.
        return await asyncio.shield(future)

    def _set_gauges(self) -> None:
        self._metrics.queue_events.set(self._queued_events)
        self._metrics.queue_bytes.set(self._queued_bytes)

    # ------------------------------------------------------------------ the writer

    def _take_group(self) -> list[_Batch]:
        group: list[_Batch] = []
        count = 0
        while self._queue and (not group or count + len(self._queue[0].events) <= self._commit_max):
            batch = self._queue.popleft()
            group.append(batch)
            count += len(batch.events)
            self._queued_events -= len(batch.events)
            self._queued_bytes -= batch.size
        self._set_gauges()
        return group

    async def _run(self) -> None:
        """Take groups as soon as batches wait and a commit slot is free.

        Up to ``MAX_COMMITS_IN_FLIGHT`` groups are handed to the store at once, and no new one
        while ``MAX_EVENTS_IN_FLIGHT`` events are in them: while one commits, the next is
        already on its way, so neither the event loop nor the writer waits for the other. The
        store commits them in submission order (one SQLite writer; row locks on PostgreSQL keep
        each session's chain linear).
        """
        while True:
            if not self._queue:
                if not self._in_flight:
                    self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._slots.acquire()
            while self._committing >= MAX_EVENTS_IN_FLIGHT:
                self._committed.clear()
                await self._committed.wait()
            group = self._take_group()
            if not group:
                self._slots.release()
                continue
            size = sum(len(b.events) for b in group)
            self._committing += size
            task = asyncio.create_task(self._commit_group(group, size), name="ingest-commit")
            self._in_flight.add(task)

    async def _commit_group(self, group: list[_Batch], size: int) -> None:
        try:
            await self._commit(group)
        finally:
            self._committing -= size
            self._in_flight.discard(asyncio.current_task())  # type: ignore[arg-type,unused-ignore]
            self._slots.release()
            self._committed.set()
            if not self._queue and not self._in_flight:
                self._idle.set()

    async def _commit(self, group: list[_Batch]) -> None:
        events = [e for b in group for e in b.events]
        spans = [s for b in group for s in b.spans]
        start = time.perf_counter()
        try:
            result = await (self._store.insert_events(events, spans) if spans else self._store.insert_events(events))
        except RetryableStoreError as exc:
            LOG.warning("store unavailable, %d events refused: %s", len(events), exc)
            for b in group:
                b.future.set_exception(exc)
            return
        except Exception as exc:
            if len(group) > 1:
                # One bad batch must not fail the others: commit them one by one.
                for b in group:
                    await self._commit([b])
                return
            LOG.exception("insert failed for a batch of %d events", len(events))
            group[0].future.set_exception(exc)
            return
        elapsed = time.perf_counter() - start
        self._metrics.commit_seconds.observe(elapsed)
        self._metrics.commit_events.observe(len(events))
        offset = 0
        for b in group:
            n = len(b.events)
            outcomes = result.outcomes[offset:offset + n]
            offset += n
            dup = sum(1 for o in outcomes if o.duplicate)
            self._metrics.events_ingested.labels(b.source).inc(n - dup)
            if dup:
                self._metrics.events_duplicate.labels(b.source).inc(dup)
            touched = tuple(dict.fromkeys((e.tenant_id, e.session_id) for e in b.events))
            if not b.future.done():
                b.future.set_result(InsertResult(outcomes, n - dup, dup, touched))
        for listener in self._listeners:
            try:
                maybe = listener(events, result)
                if maybe is not None:
                    await maybe
            except Exception:  # a listener (live stream) must never break ingest
                LOG.exception("commit listener failed")
