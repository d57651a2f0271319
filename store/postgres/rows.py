"""PostgreSQL records <-> model objects: the decoders shared with SQLite (store.records) plus record views."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import asyncpg

from store.plan import EventRow
from store.records import *  # noqa: F403  (every decoder of store.records is part of this module)

__all__ = ("columns", "event_columns", "seq")


def seq(r: asyncpg.Record) -> Sequence[Any]:
    """A record where a ``Sequence`` is expected (store.rowcodec helpers); no copy."""
    return cast(Sequence[Any], r)


def columns(records: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows turned into one list per column: the arrays of an ``INSERT ... SELECT * FROM unnest(...)``."""
    return [list(col) for col in zip(*records, strict=True)]


def event_columns(event_rows: Sequence[EventRow]) -> list[list[Any]]:
    """The planned event rows turned into one list per column (the unnest insert's arrays)."""
    return columns(event_rows)
