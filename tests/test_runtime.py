"""store.runtime: the garbage-collector settings every server process applies once started."""

from __future__ import annotations

import gc

from store.runtime import GC_THRESHOLDS, settle_gc


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
