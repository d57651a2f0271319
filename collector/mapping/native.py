"""POST /api/events body -> list[NewEvent]: validation, defaults, ordering, ids, reserved keys."""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from typing import Any, Final

from collector.ids import new_ulid
from collector.mapping.build import build_event
from collector.mapping.errors import InvalidJson, ValidationFailed
from collector.mapping.validate import (
    PAYLOAD_SCHEMAS,
    Errors,
    expected,
    fields_ok,
    quote,
    report_fields,
    type_name,
)
from collector.timefmt import format_ms, parse_rfc3339
from store import canonical
from store.model import CLIENT_EVENT_TYPES, SERVER_ONLY_EVENT_TYPES, SEVERITIES, NewEvent

__all__ = ("MAX_BATCH_EVENTS", "MAX_NESTING_DEPTH", "RESERVED_METADATA_KEYS", "parse_ingest_body")

MAX_BATCH_EVENTS: Final = 1000
MAX_NESTING_DEPTH: Final = 64
"""Payload/metadata levels allowed; the payload object itself is level 1 (``{"a": {}}`` is 2)."""
MAX_KEY_CHARS: Final = 256
"""Longest ``sessionId`` / ``agentId``, in Unicode code points."""
RESERVED_METADATA_KEYS: Final = ("verifiedAgentId", "verifiedAgentMethod", "verifiedOnBehalfOf")

_CLIENT_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_CLIENT_TYPES: Final = frozenset(CLIENT_EVENT_TYPES)
_SERVER_ONLY_TYPES: Final = frozenset(SERVER_ONLY_EVENT_TYPES)
_SEVERITY_SET: Final = frozenset(SEVERITIES)
_SEVERITY_LIST: Final = " | ".join(f"'{s}'" for s in SEVERITIES)
_TYPE_LIST: Final = " | ".join(f"'{t}'" for t in CLIENT_EVENT_TYPES)
_MISSING: Final = object()
_BY_INSTANT: Final = itemgetter(1)

# One accepted event, before ordering:
# (session_id, ts_us, timestamp, agent_id, event_type, severity, payload, metadata, client_id)
_Accepted = tuple[str, int, str, str, str, str, dict[str, Any], dict[str, Any], str | None]


def parse_ingest_body(
    body: bytes,
    *,
    tenant: str,
    now_us: Callable[[], int],
    mint_ids: Callable[[int], list[str]] = new_ulid.many,
) -> list[NewEvent]:
    """Validate a native ingest body and turn it into events in processing order.

    Processing order (the order of the 201 response and of chain appends): sessions in order
    of first appearance; within a session, stable-sorted by instant (ties keep request order).
    Server ids are minted in that order (``mint_ids(n)``: n increasing ids), so they increase
    along every chain.

    Raises ``InvalidJson`` when the body is not JSON and ``ValidationFailed`` with every
    problem found (paths like ``events.3.payload.toolName``) when it does not fit the schema.
    ``now_us`` is read at most once: every event without a timestamp gets the same server time.
    """
    try:
        document = canonical.loads(body)
    except canonical.JsonError as exc:
        raise InvalidJson(str(exc)) from None
    events = _events_array(document)

    errs: Errors = []
    accepted: list[_Accepted] = []
    server_time: tuple[str, int] | None = None
    for index, raw in enumerate(events):
        if not isinstance(raw, dict):
            errs.append((f"events.{index}", expected("object", raw)))
            continue
        timestamp = raw.get("timestamp", _MISSING)
        if timestamp is _MISSING:
            if server_time is None:
                now = now_us()
                server_time = (format_ms(now), now - now % 1000)
            item = _check_event(raw, index, errs, server_time)
        else:
            item = _check_event(raw, index, errs, None)
        if item is not None:
            accepted.append(item)
    if errs:
        raise ValidationFailed(errs)

    groups: dict[str, list[_Accepted]] = {}
    for item in accepted:
        group = groups.get(item[0])
        if group is None:
            groups[item[0]] = [item]
        else:
            group.append(item)

    out: list[NewEvent] = []
    append = out.append
    minted = iter(mint_ids(sum(1 for item in accepted if item[8] is None)))
    for group in groups.values():
        if len(group) > 1:
            group.sort(key=_BY_INSTANT)  # list.sort is stable
        for session_id, ts_us, stamp, agent_id, event_type, severity, payload, metadata, cid in group:
            append(build_event(
                tenant=tenant,
                event_id=next(minted) if cid is None else cid,
                dedupe=cid is not None,
                timestamp=stamp,
                ts_us=ts_us,
                session_id=session_id,
                agent_id=agent_id,
                event_type=event_type,
                severity=severity,
                payload=payload,
                metadata=metadata,
            ))
    return out


def _events_array(document: Any) -> list[Any]:
    if not isinstance(document, dict):
        problem = f"Expected an object with an events array, received {type_name(document)}"
        raise ValidationFailed([("events", problem)])
    events = document.get("events", _MISSING)
    if events is _MISSING:
        raise ValidationFailed([("events", "Required")])
    if not isinstance(events, list):
        raise ValidationFailed([("events", expected("array", events))])
    if not events:
        raise ValidationFailed([("events", "Array must contain at least 1 element(s)")])
    if len(events) > MAX_BATCH_EVENTS:
        raise ValidationFailed([("events", f"Array must contain at most {MAX_BATCH_EVENTS} element(s)")])
    return events


def _plain_key(value: Any) -> bool:
    """The fast yes for a sessionId/agentId: a short ASCII string without NUL (else ask _key_problem)."""
    return type(value) is str and 0 < len(value) <= MAX_KEY_CHARS and value.isascii() and "\x00" not in value


def _key_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a sessionId/agentId (a key stored as PostgreSQL text), or None."""
    if value is _MISSING:
        return "Required"
    if type(value) is not str:
        return expected("string", value)
    if not value:
        return "String must contain at least 1 character(s)"
    if len(value) > MAX_KEY_CHARS:
        return f"String must contain at most {MAX_KEY_CHARS} character(s)"
    return _storable_problem(value)


def _storable_problem(value: str) -> str | None:
    """NUL and lone surrogates cannot be stored as PostgreSQL text nor encoded as UTF-8."""
    if "\x00" in value:
        return "String must not contain NUL (U+0000) characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "String must not contain unpaired surrogates (invalid UTF-16)"
    return None


def _deeper_than(container: Any, limit: int) -> bool:
    """``canonical.nesting_depth_exceeds`` for parsed JSON (plain dicts and lists), 3x faster.

    ``container`` is level 1; true when some object or array sits at a level above ``limit``.
    Recursion is bounded by ``limit``. Runs for every payload, hence the duplicate.
    """
    if limit < 1:
        return True
    for child in container.values() if type(container) is dict else container:
        kind = type(child)
        if (kind is dict or kind is list) and _deeper_than(child, limit - 1):
            return True
    return False


def _check_event(
    raw: dict[str, Any], index: int, errs: Errors, server_time: tuple[str, int] | None,
) -> _Accepted | None:
    """Check one event object; append its problems to ``errs``; the accepted tuple when it has none."""
    before = len(errs)
    get = raw.get

    session_id = get("sessionId", _MISSING)
    if not _plain_key(session_id):
        problem = _key_problem(session_id)
        if problem is not None:
            errs.append((f"events.{index}.sessionId", problem))

    agent_id = get("agentId", _MISSING)
    if not _plain_key(agent_id):
        problem = _key_problem(agent_id)
        if problem is not None:
            errs.append((f"events.{index}.agentId", problem))

    event_type = get("eventType", _MISSING)
    known_type = type(event_type) is str and event_type in _CLIENT_TYPES
    if not known_type:
        errs.append((f"events.{index}.eventType", _event_type_problem(event_type)))

    severity = get("severity", "info")
    if type(severity) is not str or severity not in _SEVERITY_SET:
        errs.append((f"events.{index}.severity", _enum_problem(severity, _SEVERITY_LIST)))

    payload = get("payload", _MISSING)
    if payload is _MISSING:
        errs.append((f"events.{index}.payload", "Required"))
    elif not isinstance(payload, dict):
        errs.append((f"events.{index}.payload", expected("object", payload)))
    else:
        if _deeper_than(payload, MAX_NESTING_DEPTH):
            errs.append((f"events.{index}.payload", _DEPTH_PROBLEM))
        if known_type:
            fields = PAYLOAD_SCHEMAS[event_type]
            if not fields_ok(payload, fields):
                report_fields(payload, f"events.{index}.payload", fields, errs)

    metadata: Any = get("metadata", _MISSING)
    if metadata is _MISSING:
        metadata = {}
    elif not isinstance(metadata, dict):
        errs.append((f"events.{index}.metadata", expected("object", metadata)))
    elif metadata:
        if _deeper_than(metadata, MAX_NESTING_DEPTH):
            errs.append((f"events.{index}.metadata", _DEPTH_PROBLEM))
        for key in RESERVED_METADATA_KEYS:
            if key in metadata:
                del metadata[key]

    timestamp: Any
    if server_time is not None:
        timestamp, ts_us = server_time
    else:
        timestamp = get("timestamp")
        ts_us = 0
        problem = None
        if type(timestamp) is not str:
            problem = expected("string", timestamp)
        elif not timestamp.isascii():
            problem = "Invalid datetime: expected RFC 3339 such as 2026-11-27T10:00:00.000Z"
        else:
            try:
                ts_us = parse_rfc3339(timestamp)
            except ValueError as exc:
                problem = f"Invalid datetime: {exc}"
        if problem is not None:
            errs.append((f"events.{index}.timestamp", problem))

    client_id = get("id")
    if client_id is not None or "id" in raw:
        if type(client_id) is not str:
            errs.append((f"events.{index}.id", expected("string", client_id)))
        elif _CLIENT_ID.fullmatch(client_id) is None:
            errs.append((f"events.{index}.id", _CLIENT_ID_PROBLEM))

    if len(errs) != before:
        return None
    return (session_id, ts_us, timestamp, agent_id, event_type, severity, payload, metadata, client_id)


_DEPTH_PROBLEM: Final = f"Nesting deeper than {MAX_NESTING_DEPTH} levels"
_CLIENT_ID_PROBLEM: Final = "Must be 1 to 128 characters from A-Z a-z 0-9 . _ : -"


def _enum_problem(value: Any, listing: str) -> str:
    if type(value) is str:
        return f"Invalid enum value. Expected {listing}, received {quote(value)}"
    return expected(listing, value)


def _event_type_problem(value: Any) -> str:
    if value is _MISSING:
        return "Required"
    if type(value) is str and value in _SERVER_ONLY_TYPES:
        return f"{quote(value)} is a server-only event type and cannot be ingested"
    return _enum_problem(value, _TYPE_LIST)
