"""Turn an event's fields into a ``NewEvent``: canonical JSON text, truncation and facts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collector.mapping.facts import extract_facts
from store import canonical
from store.model import NewEvent

__all__ = ("build_event",)


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
    payload: Mapping[str, Any],
    metadata: Mapping[str, Any],
) -> NewEvent:
    """Serialize payload and metadata exactly as JavaScript would, truncate, and extract facts.

    ``payload`` and ``metadata`` must be JSON values (as produced by ``canonical.loads`` or
    built by a mapper). Integers beyond 2**53 must already be strings (events.md §4).
    """
    payload_json = canonical.truncate_payload_json(canonical.dumps(dict(payload)))
    metadata_json = canonical.dumps(dict(metadata))
    return NewEvent(
        tenant_id=tenant,
        id=event_id,
        dedupe=dedupe,
        timestamp=timestamp,
        ts_us=ts_us,
        session_id=session_id,
        agent_id=agent_id,
        event_type=event_type,
        severity=severity,
        payload_json=payload_json,
        metadata_json=metadata_json,
        facts=extract_facts(event_type, payload, metadata),
    )
