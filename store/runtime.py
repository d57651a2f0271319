"""Garbage-collector settings for the server's long-running processes (main, SQLite writer, OTLP mapper)."""

from __future__ import annotations

import gc
from typing import Final

__all__ = ("GC_THRESHOLDS", "settle_gc")

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
