"""Background WAL checkpoints: copy committed pages into the database file off the writer's path."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Final

__all__ = ("CHECKPOINT_INTERVAL_SECONDS", "WRITER_AUTOCHECKPOINT_PAGES", "Checkpointer")

LOG = logging.getLogger("store.sqlite")

# Least time between two background checkpoints while commits keep coming. Each checkpoint
# syncs the WAL and the database file once; in between, pages rewritten by many commits (the hot
# index leaves) are copied once instead of once per commit.
CHECKPOINT_INTERVAL_SECONDS: Final = 0.25
# The writer's own automatic checkpoint, as a backstop only: it runs when the WAL reaches this
# many pages (128 MiB with 8 KiB pages) because the background checkpoints never caught up
# completely between two commits, and it bounds the WAL's size. Normally the WAL restarts from
# its beginning long before that, at the first commit after a background checkpoint caught up.
WRITER_AUTOCHECKPOINT_PAGES: Final = 16384


class Checkpointer:
    """``PRAGMA wal_checkpoint(PASSIVE)`` on its own thread and connection, after commits.

    With SQLite's default the committing connection checkpoints whenever the WAL passes 1,000
    pages, inside ``COMMIT``: the commit waits for copying and for two fsyncs. At our write rate
    that is several times a second, and ingest throughput on a real disk was a third lower than
    on tmpfs. A passive checkpoint takes no lock the writer needs, and SQLite releases the GIL
    while it runs, so here the writer keeps committing meanwhile. ``poke()`` after each commit.
    """

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """A transaction committed: there may be pages to copy."""
        self._wake.set()

    def close(self) -> None:
        """Stop the thread (after a checkpoint in progress) and close its connection."""
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stopping.is_set():
                return
            self._wake.clear()
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # e.g. a disk error: the writer's backstop still runs
                LOG.warning("background WAL checkpoint failed: %s", exc)
            if self._stopping.wait(CHECKPOINT_INTERVAL_SECONDS):
                return
