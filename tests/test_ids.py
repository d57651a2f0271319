"""ULIDs: the encoding, strict monotonicity within a millisecond, deterministic ids."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from store.ids import MonotonicUlid, deterministic_ulid, encode_ulid

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _reference(ms: int, rand: int) -> str:
    value = (ms << 80) | rand
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


@given(st.integers(0, (1 << 48) - 1), st.integers(0, (1 << 80) - 1))
def test_encoding_matches_the_ulid_spec(ms: int, rand: int) -> None:
    assert encode_ulid(ms, rand) == _reference(ms, rand)


def test_monotonic_within_one_millisecond_and_when_the_clock_goes_back() -> None:
    mint = MonotonicUlid()
    ids = [mint(1_000) for _ in range(1000)] + [mint(999) for _ in range(10)] + [mint(1_001)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(i.startswith(encode_ulid(1_000, 0)[:10]) for i in ids[:1010])


def test_many_equals_single_calls_and_carries_across_the_low_bits() -> None:
    mint = MonotonicUlid()
    first = mint(2_000)
    batch = mint.many(300, 2_000)
    after = mint(2_000)
    ids = [first, *batch, after]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 302
    # decode the random part of each id: consecutive values
    values = [int("".join(f"{_CROCKFORD.index(c):05b}" for c in i[10:]), 2) for i in ids]
    assert values == list(range(values[0], values[0] + 302))
    assert all(i == encode_ulid(2_000, v) for i, v in zip(ids, values, strict=True))
    # a run that crosses a 2^20 boundary of the random part re-encodes the shared characters
    mint._last_ms, mint._last_rand = 3_000, (5 << 20) - 3
    crossing = mint.many(6, 3_000)
    assert crossing == [encode_ulid(3_000, (5 << 20) - 2 + k) for k in range(6)]
    assert mint.many(0) == []


def test_deterministic_ulid_uses_time_and_digest() -> None:
    digest = hashlib.sha256(b"tenant|trace|span|llm_call").digest()
    a = deterministic_ulid(1_795_773_600_000, digest)
    assert a == deterministic_ulid(1_795_773_600_000, digest)
    assert a[:10] == encode_ulid(1_795_773_600_000, 0)[:10]
    assert a != deterministic_ulid(1_795_773_600_000, hashlib.sha256(b"other").digest())
