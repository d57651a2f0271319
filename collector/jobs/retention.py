"""The retention job: per tenant, delete events older than the policy in batches and write an audit row."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from store.interface import Store
from store.model import RetentionResult
from store.timefmt import format_ms

__all__ = ("RETENTION_DAYS_KEY", "RetentionJob", "TenantRetention", "parse_retention_days")

LOG = logging.getLogger("collector.jobs.retention")

# The per-tenant setting (config_kv key) written by PUT /api/config.
RETENTION_DAYS_KEY = "retentionDays"
MAX_RETENTION_DAYS = 3650
_US_PER_DAY = 86_400_000_000


def parse_retention_days(raw: str | None) -> int | None:
    """A stored ``retentionDays`` value, or ``None`` when absent or unusable (then the default applies)."""
    if raw is None:
        return None
    try:
        days = int(raw.strip())
    except ValueError:
        return None
    return days if 0 <= days <= MAX_RETENTION_DAYS else None


@dataclass(frozen=True, slots=True)
class TenantRetention:
    """What one tenant's run did; ``result`` is ``None`` when the policy keeps everything (0 days)."""

    tenant: str
    days: int
    cutoff_us: int | None
    result: RetentionResult | None
    duration_ms: float

    def as_json(self) -> dict[str, object]:
        r = self.result
        return {
            "tenantId": self.tenant,
            "retentionDays": self.days,
            "deletedCount": r.deleted_count if r else 0,
            "sessionsDeleted": r.sessions_deleted if r else 0,
            "anchoredSessions": r.anchored_sessions if r else 0,
            "cutoff": format_ms(self.cutoff_us) if self.cutoff_us is not None else None,
            "skipped": r is None,
            "durationMs": round(self.duration_ms, 3),
        }


class RetentionJob:
    """Reads each tenant's policy afresh at every run: the stored ``retentionDays`` or the default.

    Deletion goes through ``store.apply_retention`` in transactions of ``batch_size`` events, so
    the ingest writer gets the write lock between batches. Runs in one process never overlap
    (scheduled and ``POST /api/retention/run`` share a lock). Each tenant that had a cutoff gets
    its own audit row, because tenants can have different cutoffs.
    """

    name = "retention"

    def __init__(self, store: Store, *, default_days: int, batch_size: int = 1000) -> None:
        self._store = store
        self._default_days = default_days
        self._batch_size = batch_size
        self._lock = asyncio.Lock()

    async def policy_days(self, tenant: str) -> int:
        """The tenant's retention in days (0 keeps everything)."""
        stored = parse_retention_days((await self._store.get_settings(tenant)).get(RETENTION_DAYS_KEY))
        return self._default_days if stored is None else stored

    async def run_once(self, now_us: int) -> list[TenantRetention]:
        """Apply every tenant's policy as of ``now_us``; a failing tenant does not stop the others."""
        done: list[TenantRetention] = []
        failed: list[str] = []
        for tenant in await self._store.list_tenants():
            try:
                done.append(await self.run_tenant(tenant, now_us))
            except Exception:
                LOG.exception("retention failed for tenant %r", tenant)
                failed.append(tenant)
        if failed:
            raise RuntimeError(f"retention failed for {len(failed)} tenant(s): {', '.join(failed[:5])}")
        return done

    async def run_tenant(self, tenant: str, now_us: int) -> TenantRetention:
        """Apply one tenant's policy as of ``now_us`` and record the audit row."""
        async with self._lock:
            days = await self.policy_days(tenant)
            if days <= 0:
                return TenantRetention(tenant, days, None, None, 0.0)
            cutoff_us = now_us - days * _US_PER_DAY
            start = time.perf_counter()
            result = await self._store.apply_retention(tenant, cutoff_us, batch_size=self._batch_size)
            duration_ms = (time.perf_counter() - start) * 1000
            await self._store.record_retention_run(
                started_at=format_ms(now_us), cutoff=format_ms(cutoff_us), results=[(tenant, result)],
                duration_ms=duration_ms,
            )
        if result.deleted_count or result.sessions_deleted:
            LOG.info(
                "retention %r: %d events and %d sessions older than %s deleted in %.0f ms (%d chains anchored)",
                tenant, result.deleted_count, result.sessions_deleted, format_ms(cutoff_us), duration_ms,
                result.anchored_sessions,
            )
        return TenantRetention(tenant, days, cutoff_us, result, duration_ms)
