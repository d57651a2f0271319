"""Fixtures of the jobs tests: a settable clock and a store that reads it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from store.interface import Store
from tests.store.builders import BASE_US

DAY_US = 86_400_000_000
MINUTE_US = 60_000_000


class Clock:
    """A settable clock in unix microseconds (starts at 2026-11-27T10:00:00Z)."""

    def __init__(self, now_us: int = BASE_US) -> None:
        self.now_us = now_us

    def __call__(self) -> int:
        return self.now_us

    def advance(self, *, days: float = 0, minutes: float = 0, us: int = 0) -> int:
        self.now_us += round(days * DAY_US + minutes * MINUTE_US) + us
        return self.now_us


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def clocked_store(backend: str, make_store: Callable[..., Any], clock: Clock) -> Store:
    """A fresh store of each selected backend whose "now" is ``clock``."""
    result: Store = await make_store(backend, clock_us=clock)
    return result


@pytest.fixture
def pg_selected(request: pytest.FixtureRequest) -> None:
    """Skip unless ``--db`` selects PostgreSQL (and, through ``pg_dsn``, unless it is reachable)."""
    if request.config.getoption("--db") == "sqlite":
        pytest.skip("PostgreSQL not selected (--db sqlite)")
    request.getfixturevalue("pg_dsn")
