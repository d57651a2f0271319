"""The job scheduler: aiocron ticks wake one runner task per job; runs are guarded, counted and leader-only."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import aiocron  # type: ignore[import-untyped]

from collector.metrics import Metrics
from store.interface import Store

__all__ = ("LEADER_LOCK", "Job", "Scheduler")

LOG = logging.getLogger("collector.jobs")

# The leadership every scheduled job runs under (one advisory lock on PostgreSQL).
LEADER_LOCK = "jobs"


class Job(Protocol):
    """A scheduled job: ``run_once(now_us)`` does one complete run and raises on failure."""

    @property
    def name(self) -> str: ...

    async def run_once(self, now_us: int) -> object: ...


@dataclass(slots=True)
class _Entry:
    job: Job
    spec: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    cron: aiocron.Cron | None = None
    runner: asyncio.Task[None] | None = None
    runs: int = 0


class Scheduler:
    """Runs each job on its cron expression (UTC), never two runs of one job at once.

    A cron tick only sets the job's wake-up event; the job's own runner task does the work, so
    a tick that arrives during a run is coalesced into one more run, and ``stop()`` has exactly
    one task per job to cancel. Each run first asks the store whether this process is the
    leader (PostgreSQL: an advisory lock), then calls ``run_once(clock())``; an exception is
    logged and counted (``agentlens_job_runs{outcome="error"}``) and the scheduler carries on.
    """

    def __init__(self, store: Store, metrics: Metrics, *, clock: Callable[[], int]) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._started = False

    def add(self, job: Job, spec: str) -> None:
        """Register a job under its cron expression (5 fields, or 6 with seconds)."""
        if self._started:
            raise RuntimeError("add jobs before start()")
        self._entries[job.name] = _Entry(job, spec)

    @property
    def jobs(self) -> dict[str, Job]:
        return {name: e.job for name, e in self._entries.items()}

    def run_count(self, name: str) -> int:
        """How many guarded runs of the job finished (any outcome, leader or not)."""
        return self._entries[name].runs

    async def start(self) -> None:
        self._started = True
        for entry in self._entries.values():
            entry.runner = asyncio.create_task(self._runner(entry), name=f"job-{entry.job.name}")
            entry.cron = aiocron.Cron(entry.spec, func=entry.wake.set, start=False, tz=dt.UTC)
            entry.cron.start()

    async def stop(self) -> None:
        """Stop the ticks and end every runner (cancelling a run in progress). Idempotent."""
        runners: list[asyncio.Task[None]] = []
        for entry in self._entries.values():
            if entry.cron is not None:
                entry.cron.stop()
                entry.cron = None
            if entry.runner is not None:
                entry.runner.cancel()
                runners.append(entry.runner)
                entry.runner = None
        for task in runners:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def trigger(self, name: str) -> None:
        """Wake the job's runner now, as a cron tick would."""
        self._entries[name].wake.set()

    async def run_now(self, name: str) -> str:
        """One guarded run of the job in the caller's task; returns the outcome label."""
        return await self._guarded(self._entries[name])

    async def _runner(self, entry: _Entry) -> None:
        while True:
            await entry.wake.wait()
            entry.wake.clear()
            await self._guarded(entry)

    async def _guarded(self, entry: _Entry) -> str:
        name = entry.job.name
        outcome = "error"
        try:
            if not await self._store.is_leader(LEADER_LOCK):
                outcome = "not_leader"
                LOG.debug("job %s skipped: another process is the leader", name)
            else:
                await entry.job.run_once(self._clock())
                outcome = "ok"
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception:
            LOG.exception("job %s failed", name)
        finally:
            entry.runs += 1
            self._metrics.job_runs.labels(name, outcome).inc()
        return outcome
