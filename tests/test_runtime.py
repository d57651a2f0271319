"""store.runtime: garbage-collector and signal settings of the server's processes."""

from __future__ import annotations

import gc
import multiprocessing
import signal
from typing import Any

from store.runtime import GC_THRESHOLDS, children_ignore_stop_signals, settle_gc


def test_settle_gc_freezes_what_exists_and_collects_rarely() -> None:
    before = gc.get_threshold()
    survivor: list[object] = [object()]
    try:
        settle_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert gc.is_tracked(survivor)
        assert not any(o is survivor for o in gc.get_objects())  # frozen: in no generation any more
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_children_started_in_the_block_inherit_ignored_stop_signals() -> None:
    """A spawned child (a fresh interpreter) starts with SIGINT and SIGTERM ignored; the parent's handlers come back."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    ctx = multiprocessing.get_context("spawn")
    queue: Any = ctx.SimpleQueue()
    with children_ignore_stop_signals():
        child = ctx.Process(target=_report_dispositions, args=(queue,))
        child.start()
    child.join(60)
    assert queue.get() == [signal.SIG_IGN, signal.SIG_IGN]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def _report_dispositions(queue: Any) -> None:
    queue.put([signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)])
