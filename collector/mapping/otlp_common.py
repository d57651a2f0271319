"""Helpers every OTLP mapper shares: deterministic ids, times, JSON-safe values, payload fitting."""

from __future__ import annotations

import base64
import hashlib
import math
from typing import Any, Final

import orjson

from collector.ids import deterministic_ulid
from collector.mapping.build import build_event
from collector.timefmt import format_us
from store.model import NewEvent

__all__ = (
    "MAX_ID_CHARS",
    "PAYLOAD_BUDGET",
    "clean_id",
    "event_id",
    "fit_payload",
    "has_long_string",
    "json_value",
    "make_event",
    "number",
    "severity_from_log",
    "stable_digest",
    "text",
    "to_int",
)

_MAX_SAFE_INT: Final = 2**53
# events.md §1: sessionId and agentId are 1..256 characters.
MAX_ID_CHARS: Final = 256
# Payloads above 10 240 UTF-8 bytes are replaced by the truncation marker (events.md §5). We
# shorten long strings first so that the event keeps its fields; the margin absorbs the small
# differences between orjson's and JavaScript's serializations.
PAYLOAD_BUDGET: Final = 10_000
_MIN_STRING_CAP: Final = 200
_ELLIPSIS: Final = "…[truncated]"


def event_id(tenant: str, ms: int, *parts: str) -> str:
    """otlp.md §4: ULID with the event's millisecond and the first 80 bits of sha256(tenant, parts)."""
    digest = hashlib.sha256("\x1f".join((tenant, *parts)).encode("utf-8", "surrogatepass")).digest()
    return deterministic_ulid(ms, digest)


def stable_digest(value: Any) -> str:
    """A short hex digest of a JSON-able structure (keys sorted), for log/metric identities."""
    raw = orjson.dumps(json_value(value, cap=None), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()[:32]


def make_event(
    *,
    tenant: str,
    time_ns: int,
    id_parts: tuple[str, ...],
    session_id: str,
    agent_id: str,
    event_type: str,
    severity: str,
    payload: dict[str, Any],
    metadata: dict[str, Any],
) -> NewEvent:
    """A ``NewEvent`` at ``time_ns`` with a deterministic id (``dedupe=True``)."""
    ts_us = time_ns // 1000
    return build_event(
        tenant=tenant,
        event_id=event_id(tenant, time_ns // 1_000_000, *id_parts, event_type),
        dedupe=True,
        timestamp=format_us(ts_us),
        ts_us=ts_us,
        session_id=session_id,
        agent_id=agent_id,
        event_type=event_type,
        severity=severity,
        payload=fit_payload(payload),
        metadata=metadata,
    )


def clean_id(value: Any) -> str | None:
    """A usable session/agent id: a non-empty string without control characters, capped at 256."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(json_value(value))
    if not isinstance(value, str):
        return None
    if not value.isprintable():
        value = "".join(ch for ch in value if ch.isprintable())
    value = value.strip()
    return value[:MAX_ID_CHARS] or None


def text(value: Any, cap: int | None = None) -> str | None:
    """A non-empty string value (numbers are not converted), optionally capped."""
    if isinstance(value, str) and value:
        return value if cap is None or len(value) <= cap else value[:cap] + _ELLIPSIS
    return None


def number(value: Any) -> float | int | None:
    """A finite number from an int, float or numeric string; integral floats become ints."""
    kind = type(value)
    if kind is int:
        return value  # type: ignore[no-any-return]
    if value is None or kind is bool:
        return None
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value) if value.is_integer() and abs(value) < _MAX_SAFE_INT else value
    return None


def to_int(value: Any) -> int | None:
    """A non-negative integer count (token counts), else ``None``."""
    n = number(value)
    if n is None or n < 0:
        return None
    return int(n)


def json_value(value: Any, depth: int = 0, cap: int | None = 4096) -> Any:
    """An attribute value as a JSON value the hash rules accept (events.md §4).

    Integers beyond 2**53 and non-finite doubles become strings, bytes become base64 and
    integral doubles become integers (JavaScript prints them the same way).
    """
    if isinstance(value, str):
        return value if cap is None or len(value) <= cap else value[:cap] + _ELLIPSIS
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return int(value) if value.is_integer() and abs(value) < _MAX_SAFE_INT else value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if depth > 32:
        return str(value)[:200]
    if isinstance(value, list | tuple):
        return [json_value(v, depth + 1, cap) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v, depth + 1, cap) for k, v in value.items()}
    return str(value)


def has_long_string(value: Any, cap: int, depth: int = 0) -> bool:
    """Whether ``json_value(value, cap=cap)`` would shorten some string."""
    if isinstance(value, str):
        return len(value) > cap
    if depth > 32:
        return False
    if isinstance(value, list | tuple):
        return any(has_long_string(v, cap, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(has_long_string(v, cap, depth + 1) for v in value.values())
    return False


def fit_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Shorten the longest strings until the payload fits ``PAYLOAD_BUDGET`` bytes.

    Returns the payload itself when it fits. Otherwise every string longer than the cap is cut
    (with a marker) and ``truncated: true`` is added; whatever still does not fit is left to the
    whole-payload truncation of ``build_event``.
    """
    size = len(orjson.dumps(payload))
    if size <= PAYLOAD_BUDGET:
        return payload
    cap = 4000
    fitted = payload
    while cap >= _MIN_STRING_CAP:
        fitted = {k: _cap_strings(v, cap) for k, v in payload.items()}
        fitted["truncated"] = True
        if len(orjson.dumps(fitted)) <= PAYLOAD_BUDGET:
            return fitted
        cap //= 2
    return fitted


def _cap_strings(value: Any, cap: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= cap else value[:cap] + _ELLIPSIS
    if isinstance(value, list):
        return [_cap_strings(v, cap) for v in value]
    if isinstance(value, dict):
        return {k: _cap_strings(v, cap) for k, v in value.items()}
    return value


def severity_from_log(number_: int, text_: str) -> str:
    """otlp-receiver.md §5.6: 17-24 error, 13-16 warn, 9-12 info, 1-8 debug; 0 -> severityText."""
    if number_ >= 17:
        return "error"
    if number_ >= 13:
        return "warn"
    if number_ >= 9:
        return "info"
    if number_ >= 1:
        return "debug"
    lowered = text_.lower()
    if "fatal" in lowered or "crit" in lowered or "err" in lowered:
        return "error"
    if "warn" in lowered:
        return "warn"
    if "debug" in lowered or "trace" in lowered:
        return "debug"
    return "info"
