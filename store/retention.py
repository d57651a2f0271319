"""Retention planning shared by the backends: contiguous runs of deleted seqs and their digests."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from store.model import RetentionResult

__all__ = (
    "AnchorWrite", "Anchored", "DeletedRun", "RetentionBatch", "delete_expired", "fold_digest", "merge_anchor",
    "plan_retention_batch", "retention_totals",
)


@dataclass(frozen=True, slots=True)
class RetentionBatch:
    """One expired event picked for deletion (``rowid`` is the backend's row handle)."""

    rowid: int
    session_id: str
    seq: int
    hash: str
    prev_hash: str | None


@dataclass(frozen=True, slots=True)
class DeletedRun:
    """Contiguous seqs ``from_seq..to_seq`` of one session deleted together."""

    session_id: str
    from_seq: int
    to_seq: int
    first_prev_hash: str | None
    hashes: tuple[str, ...]


def plan_retention_batch(batch: Sequence[RetentionBatch]) -> list[DeletedRun]:
    """Group a batch of expired events into per-session runs of consecutive seqs."""
    by_session: dict[str, list[RetentionBatch]] = {}
    for item in batch:
        by_session.setdefault(item.session_id, []).append(item)
    runs: list[DeletedRun] = []
    for session_id, items in by_session.items():
        items.sort(key=lambda b: b.seq)
        start = 0
        for i in range(1, len(items) + 1):
            if i == len(items) or items[i].seq != items[i - 1].seq + 1:
                part = items[start:i]
                runs.append(DeletedRun(
                    session_id, part[0].seq, part[-1].seq, part[0].prev_hash, tuple(b.hash for b in part),
                ))
                start = i
    return runs


def fold_digest(previous: str | None, hashes: Iterable[str]) -> str:
    """sha256 hex over the previous digest (if any) and the given hashes, newline separated.

    An anchor's digest is folded batch by batch, so it commits to every hash it replaced.
    """
    h = hashlib.sha256()
    if previous is not None:
        h.update(previous.encode())
        h.update(b"\n")
    h.update("\n".join(hashes).encode())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Anchored:
    """A stored anchor row next to a run being deleted."""

    id: int
    from_seq: int
    to_seq: int
    first_prev_hash: str | None
    last_hash: str
    count: int
    digest: str


@dataclass(frozen=True, slots=True)
class AnchorWrite:
    """How one deleted run changes a session's anchors (both backends execute it as told).

    ``update_id`` names the anchor row rewritten with the merged range (``None``: insert a new
    row); ``delete_id`` names an anchor swallowed by the merge.
    """

    update_id: int | None
    delete_id: int | None
    from_seq: int
    to_seq: int
    first_prev_hash: str | None
    last_hash: str
    count: int
    digest: str


def merge_anchor(run: DeletedRun, left: Anchored | None, right: Anchored | None) -> AnchorWrite:
    """Merge a run with the anchor ending right before it and the one starting right after it.

    Adjacent anchors become one, so verification crosses every gap with exactly one anchor.
    """
    digest = fold_digest(left.digest if left else None, run.hashes)
    count = len(run.hashes) + (left.count if left else 0)
    from_seq, first_prev = (left.from_seq, left.first_prev_hash) if left else (run.from_seq, run.first_prev_hash)
    to_seq, last = run.to_seq, run.hashes[-1]
    if right is not None:
        digest = fold_digest(digest, [right.digest])
        count += right.count
        to_seq, last = right.to_seq, right.last_hash
    if left is not None:
        return AnchorWrite(left.id, right.id if right else None, from_seq, to_seq, first_prev, last, count, digest)
    if right is not None:
        return AnchorWrite(right.id, None, from_seq, to_seq, first_prev, last, count, digest)
    return AnchorWrite(None, None, from_seq, to_seq, first_prev, last, count, digest)


async def delete_expired(
    next_batch: Callable[[], Awaitable[tuple[Sequence[RetentionBatch], Sequence[DeletedRun]]]],
    drop_empty: Callable[[list[str]], Awaitable[Sequence[str]]],
    *, cutoff_us: int, session_chunk: int,
) -> RetentionResult:
    """The retention loop of both backends, each step one transaction of the caller's.

    ``next_batch()`` deletes (and anchors) one batch of expired events and returns it with its
    runs, empty when none is left; then ``drop_empty(session_ids)`` deletes the sessions of that
    chunk left without events and returns their ids. A session deleted whole needs no anchor.
    """
    deleted = 0
    touched: set[str] = set()
    anchored: set[str] = set()
    while True:
        batch, runs = await next_batch()
        if not batch:
            break
        deleted += len(batch)
        touched.update(b.session_id for b in batch)
        anchored.update(run.session_id for run in runs)
    sessions_deleted = 0
    ordered = sorted(touched)
    for start in range(0, len(ordered), session_chunk):
        gone = await drop_empty(ordered[start:start + session_chunk])
        sessions_deleted += len(gone)
        anchored.difference_update(gone)
    return RetentionResult(deleted, sessions_deleted, len(anchored), cutoff_us)


def retention_totals(results: Sequence[tuple[str, RetentionResult]]) -> tuple[int, int, int]:
    """(deleted events, deleted sessions, anchored sessions) of a run over all its tenants."""
    return (
        sum(r.deleted_count for _, r in results), sum(r.sessions_deleted for _, r in results),
        sum(r.anchored_sessions for _, r in results),
    )
