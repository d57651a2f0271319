"""Fixtures of the store contract suite: a store with a controllable clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from store.interface import Store
from tests.store.builders import BASE_US


class Clock:
    """A settable clock in unix microseconds (starts at 2026-11-27T10:00:00Z)."""

    def __init__(self, now_us: int = BASE_US) -> None:
        self.now_us = now_us

    def __call__(self) -> int:
        return self.now_us

    def advance_minutes(self, minutes: float) -> None:
        self.now_us += round(minutes * 60_000_000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def clocked_store(backend: str, make_store: Callable[..., Any], clock: Clock) -> Store:
    """A fresh store whose "now" is ``clock`` and whose sessions go idle after 30 minutes."""
    result: Store = await make_store(backend, clock_us=clock, session_idle_minutes=30)
    return result
