"""Session timeline reads both backends derive the same way from their own queries (chunks, chain checks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

from store.chain import Anchor, ChainVerifier, verify_loaded
from store.model import ChainVerification, StoredEvent, VerifiedTimeline
from store.plan import SessionState

__all__ = ("CHAIN_CHUNK", "TimelineReads", "verified_timeline")

# Events read per statement when a chain is too long to verify from one read.
CHAIN_CHUNK = 1000


class _Timelines(Protocol):
    async def get_session_timeline(
        self, tenant: str, session_id: str, *, limit: int | None = None, after: str | None = None,
    ) -> list[StoredEvent]: ...

    async def get_verified_timeline(
        self, tenant: str, session_id: str, *, max_events: int,
    ) -> VerifiedTimeline | None: ...


class TimelineReads:
    """``iter_session_timeline`` and ``verify_session`` on top of a backend's two timeline reads."""

    async def iter_session_timeline(
        self: _Timelines, tenant: str, session_id: str, *, chunk_size: int = 1000,
    ) -> AsyncIterator[list[StoredEvent]]:
        after: str | None = None
        while True:
            chunk = await self.get_session_timeline(tenant, session_id, limit=chunk_size, after=after)
            if not chunk:
                return
            yield chunk
            if len(chunk) < chunk_size:
                return
            after = chunk[-1].id

    async def verify_session(self: _Timelines, tenant: str, session_id: str) -> ChainVerification | None:
        found = await self.get_verified_timeline(tenant, session_id, max_events=0)
        return found.verification if found else None


async def verified_timeline(
    head: SessionState, anchors: Sequence[Anchor], *, max_events: int,
    read_all: Callable[[], Awaitable[list[StoredEvent]]],
    read_chunk: Callable[[int, int], Awaitable[list[StoredEvent]]],
) -> VerifiedTimeline:
    """Verify a session's chain inside the caller's snapshot.

    ``read_all()`` returns the session's events in time order; ``read_chunk(after_seq, limit)`` the
    next events in ``seq`` order. A chain shorter than ``max_events`` is read once and returned
    with its verification; a longer one is streamed in chunks of ``CHAIN_CHUNK``.
    """
    if head.chain_seq < max_events:  # at most max_events rows exist: read them once
        events = await read_all()
        return VerifiedTimeline(events, verify_loaded(
            events, anchors, head_seq=head.chain_seq, head_hash=head.chain_head,
        ))
    verifier = ChainVerifier(anchors, head_seq=head.chain_seq, head_hash=head.chain_head)
    last_seq = -1
    while not verifier.complete:
        chunk = await read_chunk(last_seq, CHAIN_CHUNK)
        if not chunk:
            break
        verifier.feed(chunk)
        last_seq = chunk[-1].seq
    return VerifiedTimeline(None, verifier.result())
