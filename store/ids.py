"""Event ids: monotonic ULIDs minted by the server and deterministic ULIDs for OTLP retries."""

from __future__ import annotations

import os
import threading
import time

__all__ = ("MonotonicUlid", "deterministic_ulid", "encode_ulid", "new_ulid")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)
_RANDOM_BITS = 80
_RANDOM_MAX = (1 << _RANDOM_BITS) - 1
_TIME_MAX = (1 << 48) - 1


def _encode_time(ms: int) -> str:
    """The first 10 characters: two zero bits and the 48-bit millisecond time, in 10-bit pairs."""
    return "".join([_PAIRS[(ms >> shift) & 1023] for shift in (40, 30, 20, 10, 0)])


def _encode_random(rand: int, pairs: tuple[str, ...] = _PAIRS) -> str:
    """The last 16 characters: the 80 random bits, in 10-bit pairs (spelled out: no loop frame)."""
    return (pairs[rand >> 70 & 1023] + pairs[rand >> 60 & 1023] + pairs[rand >> 50 & 1023]
            + pairs[rand >> 40 & 1023] + pairs[rand >> 30 & 1023] + pairs[rand >> 20 & 1023]
            + pairs[rand >> 10 & 1023] + pairs[rand & 1023])


_TIME_HEADS: dict[int, str] = {}


def _time_prefix(ms: int, pairs: tuple[str, ...] = _PAIRS) -> str:
    """``_encode_time`` of a clamped ``ms``.

    The first six characters (the time above its low 20 bits) change every 17 minutes and are
    remembered; the last four are two pair lookups. Spans of one export rarely share a
    millisecond, so remembering whole prefixes missed most of the time.
    """
    ms = min(max(ms, 0), _TIME_MAX)
    head = _TIME_HEADS.get(ms >> 20)
    if head is None:
        if len(_TIME_HEADS) >= 4096:  # bounded
            _TIME_HEADS.clear()
        head = _TIME_HEADS[ms >> 20] = _encode_time(ms)[:6]
    return head + pairs[ms >> 10 & 1023] + pairs[ms & 1023]


def encode_ulid(ms: int, rand: int) -> str:
    """26 Crockford base32 characters for a 48-bit millisecond time and 80 random bits."""
    return _encode_time(min(max(ms, 0), _TIME_MAX)) + _encode_random(rand & _RANDOM_MAX)


class MonotonicUlid:
    """ULIDs that strictly increase within the process, even inside one millisecond.

    Within a millisecond the 80-bit random part is incremented; if the clock goes backwards,
    the last time is kept, so order is never violated.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_rand = 0

    def __call__(self, now_ms: int | None = None) -> str:
        prefix, rand = self._reserve(1, now_ms)
        return prefix + _encode_random(rand)

    def many(self, n: int, now_ms: int | None = None) -> list[str]:
        """``n`` consecutive ids (one batch): the same as ``n`` calls, several times cheaper.

        Consecutive random parts share their first 60 bits except where the low 20 bits wrap,
        so those 12 characters are encoded once per run instead of once per id.
        """
        if n <= 0:
            return []
        prefix, rand = self._reserve(n, now_ms)
        out: list[str] = []
        last = rand + n - 1
        pairs = _PAIRS
        while rand <= last:
            high = rand >> 20
            end = min(last, high << 20 | 0xFFFFF)
            head = prefix + _encode_random(rand)[:12]  # the characters of the high 60 bits
            out += [head + pairs[(r >> 10) & 1023] + pairs[r & 1023] for r in range(rand, end + 1)]
            rand = end + 1
        return out

    def _reserve(self, n: int, now_ms: int | None) -> tuple[str, int]:
        """Claim ``n`` consecutive random values in one millisecond: (time characters, first value)."""
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._lock:
            if ms <= self._last_ms:
                ms = self._last_ms
                rand = self._last_rand + 1
                if rand + n - 1 > _RANDOM_MAX:  # 2^80 ids in one millisecond: borrow the next one
                    ms += 1
                    rand = int.from_bytes(os.urandom(10), "big") >> 1
            else:
                # Keep the top bit clear so increments within the millisecond cannot overflow.
                rand = int.from_bytes(os.urandom(10), "big") >> 1
            self._last_ms, self._last_rand = ms, rand + n - 1
        return _time_prefix(ms), rand


new_ulid = MonotonicUlid()


def deterministic_ulid(ms: int, digest: bytes) -> str:
    """A ULID whose time is ``ms`` and whose 80 random bits are the first 80 bits of ``digest``."""
    return _time_prefix(ms) + _encode_random(int.from_bytes(digest[:10], "big"))


def default_id_factory() -> MonotonicUlid:
    """The process-wide monotonic ULID source."""
    return new_ulid
