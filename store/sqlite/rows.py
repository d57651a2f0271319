"""SQLite rows <-> model objects: the decoders shared with PostgreSQL (store.records); SQLite adds none."""

from __future__ import annotations

from store.records import *  # noqa: F403
