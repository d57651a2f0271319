"""Process settings for the server's long-running processes (main, SQLite writer, OTLP mapper): GC, signals."""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

__all__ = ("GC_THRESHOLDS", "children_ignore_stop_signals", "ignore_stop_signals", "settle_gc")

# CPython runs a generation-0 collection every 700 net allocations of container objects and a
# full one every 100 of those (when enough has survived). Ingest allocates a tuple or dict per
# field of every event, nearly all freed by reference counting at once, yet the counters still
# trigger collections that walk every surviving object: with the memo, the writer's and the
# loop's state, that was about 8 % of the server's CPU under OTLP load (gc.callbacks timing), and
# full collections in the main process took ~35 ms each. Cyclic garbage is rare here; it still
# gets collected, fifty thousand net allocations later.
GC_THRESHOLDS: Final = (50_000, 20, 100)


def settle_gc() -> None:
    """Call once a process has started: what exists now (modules, tables loaded at start) leaves
    the collector's view for good (``gc.freeze``), and later collections run rarely."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


def ignore_stop_signals() -> None:
    """For a child of the server: ignore SIGINT and SIGTERM.

    Ctrl-C in a terminal, and a service manager stopping the whole group, signal every process
    of it at once; the server then drains its queue through its children and stops them itself.
    Killed by the signal instead, the SQLite writer died mid-drain (a KeyboardInterrupt traceback
    and lost queued writes). A child whose server is gone still ends: at end-of-file on its socket
    (the writer) or when the parent's sentinel closes (the OTLP mapper).
    """
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


@contextmanager
def children_ignore_stop_signals() -> Iterator[None]:
    """Processes started inside this block ignore SIGINT and SIGTERM from their first instruction.

    A spawned child spends its first half second importing, before any code of ours runs; an
    ignored signal stays ignored across exec, and Python leaves an ignored SIGINT alone. The
    parent ignores them only while it starts the child (``signal.signal`` works on the main
    thread only; elsewhere the child's own ``ignore_stop_signals`` has to do).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = [(sig, signal.signal(sig, signal.SIG_IGN)) for sig in _STOP_SIGNALS]
    try:
        yield
    finally:
        for sig, handler in previous:
            signal.signal(sig, handler)
