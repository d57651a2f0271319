"""Turn an event's fields into a ``NewEvent``: canonical JSON text, truncation and facts."""

from __future__ import annotations

from typing import Any, Final

from collector.mapping.facts import extract_facts
from store import canonical
from store.model import NewEvent, from_fields

__all__ = ("build_event",)

_new_event: Final = from_fields(NewEvent)


def build_event(
    *,
    tenant: str,
    event_id: str,
    dedupe: bool,
    timestamp: str,
    ts_us: int,
    session_id: str,
    agent_id: str,
    event_type: str,
    severity: str,
    payload: dict[str, Any],
    metadata: dict[str, Any],
) -> NewEvent:
    """Serialize payload and metadata exactly as JavaScript would, truncate, and extract facts.

    ``payload`` and ``metadata`` must be JSON values (as produced by ``canonical.loads`` or
    built by a mapper). Integers beyond 2**53 must already be strings (events.md §4).
    """
    return _new_event((
        tenant,
        event_id,
        dedupe,
        timestamp,
        ts_us,
        session_id,
        agent_id,
        event_type,
        severity,
        canonical.truncate_payload_json(canonical.dumps(payload)),
        canonical.dumps(metadata) if metadata else "{}",
        extract_facts(event_type, payload, metadata),
    ))
