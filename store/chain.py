"""Verify a session's hash chain from stored rows, walking ``seq`` order in chunks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from store.canonical import event_hash
from store.model import ChainVerification, StoredEvent

__all__ = ("Anchor", "ChainVerifier", "verify_loaded")


@dataclass(frozen=True, slots=True)
class Anchor:
    """Retention deleted seqs ``from_seq..to_seq``; the next event's prevHash is ``last_deleted_hash``."""

    from_seq: int
    to_seq: int
    first_prev_hash: str | None
    last_deleted_hash: str


class ChainVerifier:
    """Feed events in ascending ``seq`` order (any chunking), then read ``result()``.

    The walk covers the chain up to the head read before the events; events appended after
    that are ignored, so verifying during ingest never reports a false break.

    Checks, in order: no seq is missing unless a retention anchor covers exactly that gap
    (and continues from the hash before it), ``prev_hash`` links to the previous hash, and
    every stored hash equals the hash recomputed from the stored fields. ``head_seq`` and
    ``head_hash`` (the session's recorded chain head) let it notice a deleted tail.
    """

    def __init__(self, anchors: Sequence[Anchor], *, head_seq: int, head_hash: str | None) -> None:
        self._anchors = {a.from_seq: a for a in anchors}
        self._head_seq = head_seq
        self._head_hash = head_hash
        self._expected_seq = 0
        self._prev: str | None = None
        self._count = 0
        self._anchored = False
        self._failed_at: int | None = None
        self._reason: str | None = None

    @property
    def failed(self) -> bool:
        return self._failed_at is not None

    def _fail(self, seq: int, reason: str) -> None:
        self._failed_at, self._reason = seq, reason

    def _bridge(self, up_to_seq: int) -> bool:
        """Cross a gap ``expected..up_to_seq`` with an anchor; False when none fits."""
        anchor = self._anchors.get(self._expected_seq)
        if anchor is None or anchor.to_seq != up_to_seq or anchor.first_prev_hash != self._prev:
            return False
        self._prev = anchor.last_deleted_hash
        self._anchored = True
        self._expected_seq = up_to_seq + 1
        return True

    @property
    def complete(self) -> bool:
        """True once every event up to the recorded head was fed (or the walk failed)."""
        return self._failed_at is not None or self._expected_seq > self._head_seq

    def feed(self, events: Iterable[StoredEvent]) -> None:
        for e in events:
            if self._failed_at is not None:
                return
            if e.seq > self._head_seq:
                # appended after the head was read (ingest goes on while we verify): not ours to judge
                return
            if e.seq != self._expected_seq and not self._bridge(e.seq - 1):
                self._fail(
                    self._expected_seq,
                    f"Events seq {self._expected_seq}..{e.seq - 1} are missing and no retention anchor covers them",
                )
                return
            if e.prev_hash != self._prev:
                if self._prev is None:
                    self._fail(e.seq, "First event must have prevHash = null")
                else:
                    self._fail(e.seq, f"Event {e.seq} prevHash does not match previous event's hash")
                return
            computed = event_hash(
                event_id=e.id, timestamp=e.timestamp, session_id=e.session_id, agent_id=e.agent_id,
                event_type=e.event_type, severity=e.severity, payload_json=e.payload_json,
                metadata_json=e.metadata_json, prev_hash=e.prev_hash,
            )
            if computed != e.hash:
                self._fail(e.seq, f"Event {e.seq} hash mismatch: expected {computed}, got {e.hash}")
                return
            self._prev = e.hash
            self._expected_seq = e.seq + 1
            self._count += 1

    def result(self) -> ChainVerification:
        # the newest events are gone: only a retention anchor may explain that
        if self._failed_at is None and self._expected_seq <= self._head_seq and not self._bridge(self._head_seq):
            self._fail(self._expected_seq, f"Events after seq {self._expected_seq - 1} are missing")
        if self._failed_at is None and self._head_hash is not None and self._prev != self._head_hash:
            self._fail(max(self._expected_seq - 1, 0), "Last event does not match the recorded chain head")
        return ChainVerification(
            valid=self._failed_at is None,
            failed_at_seq=self._failed_at,
            reason=self._reason,
            event_count=self._count,
            anchored=self._anchored,
        )


def verify_loaded(
    events: Sequence[StoredEvent], anchors: Sequence[Anchor], *, head_seq: int, head_hash: str | None,
) -> ChainVerification:
    """Verify a session whose events are all in memory (any order)."""
    verifier = ChainVerifier(anchors, head_seq=head_seq, head_hash=head_hash)
    verifier.feed(sorted(events, key=_seq))
    return verifier.result()


def _seq(e: StoredEvent) -> int:
    return e.seq
