"""RFC 3339 timestamps: strict parsing to unix microseconds and the server's own formatting."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

__all__ = (
    "format_ms",
    "format_us",
    "now_iso_ms",
    "now_us",
    "parse_query_time",
    "parse_rfc3339",
    "parse_rfc3339_or",
)

# YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); 'T'/'Z' may be lower case (RFC 3339 §5.6).
# ASCII digits only ([0-9], not \d, which also matches other scripts' digits).
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))\Z"
)
_UNIX_MS = re.compile(r"-?[0-9]{1,15}\Z")
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_US_PER_S = 1_000_000


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


# "YYYY-MM-DDTHH:MM" of UTC timestamps already validated -> unix seconds at that minute.
# Ingest parses thousands of timestamps that share their minute; this skips the regex and the
# calendar for them. Bounded: cleared when full.
_MINUTES: dict[str, int] = {}
_MINUTES_MAX = 4096
_ASCII_DIGITS = frozenset("0123456789")


def parse_rfc3339(text: str) -> int:
    """Unix microseconds of an RFC 3339 timestamp; ``ValueError`` for anything else.

    Fractions beyond microseconds are truncated (the verbatim text keeps them).
    """
    if len(text) >= 20 and text[16] == ":" and text[-1] in "Zz":
        base = _MINUTES.get(text[:16])
        if base is not None:
            sec = text[17:19]
            rest = text[19:-1]
            if _ASCII_DIGITS.issuperset(sec) and sec < "60":
                if not rest:
                    return (base + int(sec)) * _US_PER_S
                frac = rest[1:]
                if rest[0] == "." and 0 < len(frac) <= 9 and _ASCII_DIGITS.issuperset(frac):
                    return (base + int(sec)) * _US_PER_S + int((frac + "00000")[:6])
    us = _parse_full(text)
    if text[-1] in "Zz" and text[16:17] == ":":
        if len(_MINUTES) >= _MINUTES_MAX:
            _MINUTES.clear()
        _MINUTES[text[:16]] = (us // _US_PER_S) - int(text[17:19])
    return us


def _parse_full(text: str) -> int:
    m = _RFC3339.match(text)
    if m is None:
        raise ValueError("expected an RFC 3339 timestamp such as 2026-11-27T10:00:00.000Z")
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    hour, minute, second = int(m[4]), int(m[5]), int(m[6])
    if not 1 <= month <= 12:
        raise ValueError("month out of range")
    leap = month == 2 and (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))
    if not 1 <= day <= _DAYS_IN_MONTH[month - 1] + leap:
        raise ValueError("day out of range")
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("time of day out of range")
    frac = m[7]
    micros = int((frac + "00000")[:6]) if frac else 0
    offset_s = 0
    if m[9]:
        oh, om = int(m[10]), int(m[11])
        if oh > 23 or om > 59:
            raise ValueError("UTC offset out of range")
        offset_s = (oh * 3600 + om * 60) * (1 if m[9] == "+" else -1)
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s
    return seconds * _US_PER_S + micros


def parse_rfc3339_or(text: str, fallback_us: int) -> int:
    """``parse_rfc3339(text)``, or ``fallback_us`` when the text is not RFC 3339."""
    try:
        return parse_rfc3339(text)
    except ValueError:
        return fallback_us


def parse_query_time(text: str) -> int:
    """A query-parameter time: RFC 3339 / ISO 8601 (date-only allowed) or unix milliseconds."""
    stripped = text.strip()
    if _UNIX_MS.match(stripped):
        return int(stripped) * 1000
    try:
        return parse_rfc3339(stripped)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(stripped.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"invalid time {text[:64]!r}: use ISO 8601 or unix milliseconds") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * _US_PER_S + delta.microseconds


def _split(us: int) -> tuple[str, int]:
    seconds, micros = divmod(us, _US_PER_S)
    days, rem = divmod(seconds, 86400)
    # civil_from_days (inverse of _days_from_civil)
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    mo = mp + (3 if mp < 10 else -9)
    y = yoe + era * 400 + (mo <= 2)
    hh, rem = divmod(rem, 3600)
    mm, ss = divmod(rem, 60)
    return f"{y:04d}-{mo:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}", micros


# unix second -> "YYYY-MM-DDTHH:MM:SS": events of one batch share their seconds; bounded.
_SECONDS: dict[int, str] = {}


def _head(us: int) -> tuple[str, int]:
    seconds, micros = divmod(us, _US_PER_S)
    head = _SECONDS.get(seconds)
    if head is None:
        if len(_SECONDS) >= _MINUTES_MAX:
            _SECONDS.clear()
        head = _SECONDS[seconds] = _split(seconds * _US_PER_S)[0]
    return head, micros


def format_ms(us: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` (JavaScript ``toISOString``), truncating to milliseconds."""
    head, micros = _head(us)
    return f"{head}.{micros // 1000:03d}Z"


def format_us(us: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``: microsecond precision, used for OTLP-derived events."""
    head, micros = _head(us)
    return f"{head}.{micros:06d}Z"


def now_us() -> int:
    """The wall clock in unix microseconds."""
    return time.time_ns() // 1000


def now_iso_ms() -> str:
    """The wall clock formatted like JavaScript's ``new Date().toISOString()``."""
    return format_ms(now_us())
