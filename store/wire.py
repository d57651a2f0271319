"""Events and spans as columns: the cheap way to pickle many of them across a process boundary."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

from store.model import EventFacts, NewEvent, from_fields
from store.spans import NewSpan

__all__ = ("Wire", "event_wire", "events_from_wire", "join_wires", "span_wire", "spans_from_wire", "wire_length")

# One tuple per field (for events, the 13 facts fields after the 11 event fields): pickling tuples
# of plain values and rebuilding the named tuples with tuple.__new__ in C loops costs about a
# tenth of pickling named tuples one by one.
Wire = tuple[tuple[Any, ...], ...]
_EVENT_FIELDS = len(NewEvent._fields) - 1
_new_event = from_fields(NewEvent)
_new_facts = from_fields(EventFacts)
_new_span = from_fields(NewSpan)


def event_wire(events: Sequence[NewEvent]) -> Wire:
    """``events`` as columns (``events_from_wire`` turns them back)."""
    if not events:
        return ()
    columns = tuple(zip(*events, strict=True))
    return (*columns[:_EVENT_FIELDS], *zip(*columns[_EVENT_FIELDS], strict=True))


def events_from_wire(wire: Wire) -> list[NewEvent]:
    if not wire:
        return []
    facts = map(_new_facts, zip(*wire[_EVENT_FIELDS:], strict=True))
    return list(map(_new_event, zip(*wire[:_EVENT_FIELDS], facts, strict=True)))


def span_wire(spans: Sequence[NewSpan]) -> Wire:
    """``spans`` as columns (``spans_from_wire`` turns them back)."""
    return tuple(zip(*spans, strict=True))


def spans_from_wire(wire: Wire) -> list[NewSpan]:
    return list(map(_new_span, zip(*wire, strict=True)))


def wire_length(wire: Wire) -> int:
    return len(wire[0]) if wire else 0


def join_wires(wires: Sequence[Wire]) -> Wire:
    """One wire holding the rows of ``wires`` in order."""
    present = [w for w in wires if w]
    return tuple(tuple(chain.from_iterable(column)) for column in zip(*present, strict=True))
