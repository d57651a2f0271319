"""Verification while the same session grows never reports a false break (one snapshot per walk)."""

from __future__ import annotations

import asyncio

from store.interface import Store
from tests.store.builders import custom


async def test_verify_is_valid_while_appends_to_the_same_session_commit(store: Store) -> None:
    await store.insert_events([custom("busy", {"i": i}) for i in range(1500)])  # more than one chunk

    async def append(round_: int) -> None:
        await store.insert_events([custom("busy", {"i": 10_000 + round_ * 10 + i}) for i in range(10)])

    async def verify() -> bool:
        result = await store.verify_session("default", "busy")
        assert result is not None
        return result.valid

    outcomes = await asyncio.gather(*(coro for r in range(15) for coro in (append(r), verify())))
    assert all(o for o in outcomes if o is not None)
    final = await store.verify_session("default", "busy")
    assert final is not None and final.valid and final.event_count == 1650
