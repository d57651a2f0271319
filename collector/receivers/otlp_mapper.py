"""Decode and map OTLP bodies off the event loop: on one mapper thread, or in a mapper process that owns the memo."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from typing import Final, Protocol

from collector.mapping.otlp_memo import OtlpMemo, SeriesUpdate
from collector.mapping.otlp_prices import PriceTable, load_price_table
from collector.mapping.otlp_request import map_request
from collector.mapping.otlp_wire import Encoding, Signal
from collector.tempo.codec import new_spans
from store.model import NewEvent
from store.runtime import children_ignore_stop_signals, ignore_stop_signals, settle_gc
from store.spans import NewSpan
from store.wire import Wire, event_wire, events_from_wire, span_wire, spans_from_wire

__all__ = ("OFFLOAD_BYTES", "Mapped", "Mapper", "MapperUnavailable", "ProcessMapper", "ThreadMapper", "map_body")

LOG = logging.getLogger("collector.otlp")

# A thread mapper maps bodies at least this large on its thread so that the event loop keeps
# serving other requests meanwhile; smaller ones map inline (docs/otlp.md "Decoding off the event loop").
OFFLOAD_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class Mapped:
    """What the receiver needs of one mapped request."""

    events: list[NewEvent]
    spans: list[NewSpan]
    rejected: int
    error_message: str
    series_updates: list[SeriesUpdate]   # for ``Mapper.commit_series`` once the events are committed


class MapperUnavailable(Exception):
    """The mapper process died while mapping (a retryable 503); a new one is already starting."""


def map_body(signal_: Signal, encoding: Encoding, body: bytes, *, tenant: str, memo: OtlpMemo,
             prices: PriceTable, now_ns: int) -> Mapped:
    """Decode and map one body, spans included (raises ``DecodeError`` for a body that is not OTLP)."""
    result = map_request(signal_, encoding, body, tenant=tenant, memo=memo, prices=prices, now_ns=now_ns)
    spans = new_spans(result.spans, result.owners, tenant)
    return Mapped(result.events, spans, result.rejected, result.error_message, result.series_updates)


class Mapper(Protocol):
    async def map(self, signal_: Signal, encoding: Encoding, body: bytes, *, tenant: str, now_ns: int) -> Mapped: ...

    def commit_series(self, updates: list[SeriesUpdate]) -> None: ...

    def close(self) -> None: ...


class ThreadMapper:
    """The memo lives in this process; large bodies map on one thread, in arrival order.

    One thread, first come first served: a request waits for the ones before it instead of sharing
    the GIL with all of them, so each reaches the writer as soon as it can.
    """

    def __init__(self, prices: PriceTable) -> None:
        self.memo = OtlpMemo()
        self.prices = prices
        self.thread: ThreadPoolExecutor | None = None

    async def map(self, signal_: Signal, encoding: Encoding, body: bytes, *, tenant: str, now_ns: int) -> Mapped:
        call = partial(map_body, signal_, encoding, body, tenant=tenant, memo=self.memo, prices=self.prices,
                       now_ns=now_ns)
        if len(body) < OFFLOAD_BYTES:
            return call()
        if self.thread is None:
            self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otlp-mapper")
        return await asyncio.get_running_loop().run_in_executor(self.thread, call)

    def commit_series(self, updates: list[SeriesUpdate]) -> None:
        self.memo.commit_series(updates)

    def close(self) -> None:
        if self.thread is not None:
            self.thread.shutdown(wait=True)
            self.thread = None


class ProcessMapper:
    """One child process holds the memo and the price table and maps every body, in arrival order.

    Mapping is most of a request's CPU; in a child it runs on the second core instead of taking
    the GIL from the event loop (docs/otlp.md "Mapper process"). The results come back as columns
    (``store.wire``). Every body goes to the child, small ones too, so that the one memo sees
    every span. If the child dies, the requests it held answer 503 and a new child starts with an
    empty memo (the memo is a cache: a parent span exported before the restart is not found).
    """

    def __init__(self, prices_file: str) -> None:
        self._prices_file = prices_file
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_child_init, initargs=(self._prices_file,))
        with children_ignore_stop_signals():
            pool.submit(int)  # starts the child now (on this thread) rather than on the first request
        return pool

    async def map(self, signal_: Signal, encoding: Encoding, body: bytes, *, tenant: str, now_ns: int) -> Mapped:
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            events, spans, rejected, message, updates = await loop.run_in_executor(
                pool, _child_map, signal_, encoding, body, tenant, now_ns)
        except BrokenProcessPool as exc:
            self._replace(pool)
            raise MapperUnavailable("the OTLP mapper process stopped; retry") from exc
        return Mapped(events_from_wire(events), spans_from_wire(spans), rejected, message, updates)

    async def child_pid(self) -> int:
        """The process id of the child now mapping (asked of the child itself)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, os.getpid)

    def commit_series(self, updates: list[SeriesUpdate]) -> None:
        if updates:
            try:
                self._pool.submit(_child_commit_series, updates)
            except (BrokenProcessPool, RuntimeError):  # the child is gone: its memo is gone too
                self._replace(self._pool)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if broken is self._pool:
            LOG.error("the OTLP mapper process stopped; starting a new one (its memo starts empty)")
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# ------------------------------------------------------------------ in the mapper process

# The child's memo and prices, set by the initializer (the child never uses a ThreadMapper's thread).
_CHILD: dict[str, ThreadMapper] = {}


def _child_init(prices_file: str) -> None:
    ignore_stop_signals()  # the server stops us (Ctrl-C reaches the whole group)
    parent = multiprocessing.parent_process()
    if parent is not None:  # a server killed outright cannot stop us: leave when it is gone
        threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    _CHILD["mapper"] = ThreadMapper(load_price_table(prices_file or None))
    settle_gc()


def _exit_with(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()  # returns when the parent's end of the sentinel pipe closes, i.e. when it exits
    os._exit(0)  # nothing to keep: the memo is a cache


def _child_map(signal_: Signal, encoding: Encoding, body: bytes, tenant: str,
               now_ns: int) -> tuple[Wire, Wire, int, str, list[SeriesUpdate]]:
    child = _CHILD["mapper"]
    m = map_body(signal_, encoding, body, tenant=tenant, memo=child.memo, prices=child.prices, now_ns=now_ns)
    return event_wire(m.events), span_wire(m.spans), m.rejected, m.error_message, m.series_updates


def _child_commit_series(updates: list[SeriesUpdate]) -> None:
    _CHILD["mapper"].commit_series(updates)
