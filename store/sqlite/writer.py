"""The SQLite writer: one connection that runs write transactions, on a thread or in its own process.

Every write is a function of ``store.sqlite.writes`` run inside ``BEGIN IMMEDIATE`` (one hop
per transaction). On a thread it shares the GIL with the event loop: fine for tests and light
loads. In a child process (``ProcessWriter``, what ``serve`` uses) planning the chain, hashing
and SQLite's own work run beside the event loop on another core instead of taking turns with
it for the GIL; measured in docs/decisions.md ("SQLite writer process").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import socket
import sqlite3
import struct
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from store.errors import StoreClosed, StoreError, Unavailable
from store.runtime import children_ignore_stop_signals, ignore_stop_signals, settle_gc
from store.sqlite import writes
from store.sqlite.checkpoint import Checkpointer
from store.sqlite.connections import open_writer, run_transaction
from store.wire import join_wires, wire_length

__all__ = ("ProcessWriter", "ThreadWriter", "Writer")

LOG = logging.getLogger("store.sqlite")

_T = TypeVar("_T")
_HEADER = struct.Struct("!I")


class Writer(Protocol):
    async def run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``fn(connection)`` in one committed transaction; writes run one at a time, in order."""

    async def close(self) -> None:
        """Finish queued writes, then close the connection. Idempotent."""


class ThreadWriter:
    """The writer connection confined to one thread of this process."""

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor, checkpointer: Checkpointer) -> None:
        self._conn = conn
        self._executor = executor
        self._checkpointer = checkpointer
        self._closed = False

    @classmethod
    async def start(cls, path: Path, *, migrate: bool) -> ThreadWriter:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, open_writer, path, migrate)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(conn, executor, Checkpointer(path))

    async def run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._closed:
            raise StoreClosed("store is closed")
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._executor, run_transaction, self._conn, fn)
        except RuntimeError as exc:  # the executor was shut down under us
            raise StoreClosed("store is closed") from exc
        self._checkpointer.poke()
        return result

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._checkpointer.close)
        await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        self._executor.shutdown(wait=True)


class ProcessWriter:
    """The writer connection in a child process, fed over a socket pair.

    Requests are ``(name of a writes function, keyword arguments)``, pickled and length-prefixed;
    the child runs them in order and answers each with ``(True, result)`` or
    ``(False, exception)``. Inserts already queued behind the one it takes join its transaction
    (up to ``MERGE_MAX_EVENTS``). Several requests may be on the wire at once (the next transaction is
    queued while one commits). When this process dies the child reads end-of-file, finishes the
    transaction in hand and exits.
    """

    def __init__(
        self, process: multiprocessing.process.BaseProcess, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
    ) -> None:
        self._process = process
        self._reader = reader
        self._writer = writer
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._answers: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def start(cls, path: Path, *, migrate: bool) -> ProcessWriter:
        parent_sock, child_sock = socket.socketpair()
        ctx = multiprocessing.get_context("spawn")
        process = ctx.Process(
            target=_child_main, args=(str(path), migrate, child_sock), name="agentlens-sqlite-writer", daemon=True,
        )
        with children_ignore_stop_signals():
            process.start()
        child_sock.close()
        reader, writer = await asyncio.open_connection(sock=parent_sock)
        self = cls(process, reader, writer)
        try:
            ok, value = await self._receive()  # the child answers once the connection is open and migrated
            if not ok:
                raise value
        except BaseException:
            await self._stop(kill=True)
            raise
        self._answers = asyncio.create_task(self._read_answers(), name="sqlite-writer-answers")
        return self

    async def run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        if not isinstance(fn, partial) or getattr(writes, fn.func.__name__, None) is not fn.func or fn.args:
            raise TypeError("a ProcessWriter runs only partial(writes.<function>, **keywords)")
        if self._closed or self._answers is None or self._answers.done():
            raise StoreClosed("store is closed")
        payload = pickle.dumps((fn.func.__name__, fn.keywords), protocol=pickle.HIGHEST_PROTOCOL)
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        self._writer.write(_HEADER.pack(len(payload)) + payload)  # one write call: frames never interleave
        try:
            await self._writer.drain()
        except OSError as exc:
            raise Unavailable(f"the SQLite writer process is gone: {exc}") from exc
        return await future

    async def _receive(self) -> tuple[bool, Any]:
        (size,) = _HEADER.unpack(await self._reader.readexactly(_HEADER.size))
        answer: tuple[bool, Any] = pickle.loads(await self._reader.readexactly(size))  # noqa: S301 - our child's
        return answer

    async def _read_answers(self) -> None:
        """Resolve the waiting requests in order; when the child is gone, fail whatever still waits."""
        try:
            while True:
                ok, value = await self._receive()
                future = self._waiting.popleft()
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except (OSError, asyncio.IncompleteReadError, IndexError) as exc:
            error: StoreError = StoreClosed("store is closed") if self._closed else Unavailable(
                f"the SQLite writer process is gone: {exc!r}")
            if not self._closed:
                LOG.error("the SQLite writer process stopped answering: %r", exc)
            while self._waiting:
                future = self._waiting.popleft()
                if not future.done():
                    future.set_exception(error)

    async def close(self) -> None:
        if self._closed:
            return
        # let queued transactions finish: their answers arrive before end-of-file is seen
        while self._waiting:
            await asyncio.wait([self._waiting[-1]])
        self._closed = True
        await self._stop(kill=False)
        if self._answers is not None:
            await self._answers

    async def _stop(self, *, kill: bool) -> None:
        self._writer.close()  # end-of-file: the child finishes and exits
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
        if kill:
            self._process.kill()
        await asyncio.to_thread(self._process.join, 30)
        if self._process.is_alive():  # pragma: no cover - a wedged child
            LOG.error("the SQLite writer process did not exit; killing it")
            self._process.kill()


def _child_main(path: str, migrate: bool, sock: socket.socket) -> None:
    """The writer process: open (and migrate), then run requests until end-of-file."""
    ignore_stop_signals()  # the server drains and then closes our socket: we end at its end-of-file
    stream = sock.makefile("wb")
    try:
        conn = open_writer(Path(path), migrate)
    except BaseException as exc:  # report why we cannot start (bad path, failed migration, ...)
        _answer(stream, False, exc if isinstance(exc, StoreError) else Unavailable(f"cannot open {path}: {exc}"))
        return
    _answer(stream, True, os.getpid())
    checkpointer = Checkpointer(Path(path))
    settle_gc()
    frames = _Frames(sock)
    try:
        while (first := frames.next(block=True)) is not None:
            for ok, value in _run_requests(conn, _with_queued_inserts(frames, first)):
                _answer(stream, ok, value)
            checkpointer.poke()
    finally:
        checkpointer.close()
        conn.close()


# Most events in inserts merged into one transaction by the writer process: past this size a
# commit costs little per event, and a bigger one only makes the requests in it wait longer.
MERGE_MAX_EVENTS = 1000


def _insert_size(request: tuple[str, dict[str, Any]]) -> int | None:
    """Events in an insert request; None for any other request."""
    return wire_length(request[1]["wire"]) if request[0] == "insert_events" else None


def _with_queued_inserts(frames: _Frames, first: tuple[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """``first``, and if it is an insert, the inserts already waiting behind it.

    They join its transaction: one commit writes each touched index page once for all of them
    (the commit is most of the cost), up to ``MERGE_MAX_EVENTS`` events.
    """
    requests = [first]
    events = _insert_size(first)
    while events is not None and events < MERGE_MAX_EVENTS and (queued := frames.next(block=False)) is not None:
        size = _insert_size(queued)
        if size is None or events + size > MERGE_MAX_EVENTS:
            frames.push_back(queued)
            break
        requests.append(queued)
        events += size
    return requests


def _run_requests(conn: sqlite3.Connection, requests: list[tuple[str, dict[str, Any]]]) -> list[tuple[bool, Any]]:
    """Run the requests (several only if all are inserts) and return one answer per request.

    Merged inserts commit together; if that transaction fails, each runs alone so that only
    the request at fault fails.
    """
    if len(requests) > 1:
        wires = [kw["wire"] for _, kw in requests]
        try:
            merged = partial(writes.insert_events, wire=join_wires(wires),
                             span_rows=join_wires([kw["span_rows"] for _, kw in requests]))
            result = run_transaction(conn, merged)
        except Exception as exc:  # one of them is at fault: each runs alone below
            LOG.debug("a merged insert failed (%s); running its %d requests one by one", exc, len(requests))
        else:
            return [(True, part) for part in writes.split_insert_result(result, wires)]
    answers: list[tuple[bool, Any]] = []
    for name, kwargs in requests:
        try:
            answers.append((True, run_transaction(conn, partial(getattr(writes, name), **kwargs))))
        except Exception as exc:
            answers.append((False, _failure(exc)))
    return answers


def _failure(exc: Exception) -> StoreError:
    return exc if isinstance(exc, StoreError) else Unavailable(f"{type(exc).__name__}: {exc}")


class _Frames:
    """Length-prefixed pickled requests read from the parent's socket, blocking or not."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()
        # recv(n) allocates n bytes for every call and then shrinks them; for 1 MiB that is an
        # mmap, page faults and a munmap per frame. recv_into reuses one buffer.
        self._chunk = memoryview(bytearray(_RECEIVE_BYTES))
        self._eof = False
        self._pushed: list[tuple[str, dict[str, Any]]] = []

    def push_back(self, request: tuple[str, dict[str, Any]]) -> None:
        self._pushed.append(request)

    def next(self, *, block: bool) -> tuple[str, dict[str, Any]] | None:
        """The next request; None at end-of-file or, when not blocking, if none has fully arrived."""
        if self._pushed:
            return self._pushed.pop()
        while True:
            if len(self._buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(self._buffer)
                end = _HEADER.size + size
                if len(self._buffer) >= end:
                    with memoryview(self._buffer) as view:
                        request: tuple[str, dict[str, Any]] = pickle.loads(  # noqa: S301 - our own parent's
                            view[_HEADER.size:end])
                    del self._buffer[:end]
                    return request
            if self._eof or not self._receive(block):
                return None

    def _receive(self, block: bool) -> bool:
        """Read what the socket holds (waiting for something if ``block``); False if nothing came."""
        if block:
            flags = 0
        elif _DONTWAIT is None:  # no non-blocking receive on this platform: nothing is merged
            return False
        else:
            flags = _DONTWAIT
        try:
            received = self._sock.recv_into(self._chunk, _RECEIVE_BYTES, flags)
        except BlockingIOError:
            return False
        except OSError:
            received = 0
        if not received:
            self._eof = True  # the parent is gone or closed us: what is buffered is incomplete
            return False
        self._buffer += self._chunk[:received]
        return True


_RECEIVE_BYTES = 1 << 20
_DONTWAIT: int | None = getattr(socket, "MSG_DONTWAIT", None)  # Linux and macOS have it


def _answer(stream: Any, ok: bool, value: Any) -> None:
    try:
        data = pickle.dumps((ok, value), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        data = pickle.dumps((False, Unavailable(f"writer answer could not be sent: {exc}")))
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()
