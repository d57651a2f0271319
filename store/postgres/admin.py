"""PostgresStore's administrative half: alert rules and history, API keys, settings, retention."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg

from store import records, rowcodec
from store.errors import Conflict, InvalidInput, NotFound
from store.model import (
    AlertHistoryEntry,
    AlertHistoryPage,
    AlertRule,
    AlertRuleInput,
    AlertRulePatch,
    ApiKey,
    RetentionResult,
)
from store.postgres import queries as q
from store.postgres import rows
from store.postgres.analytics import after_retention
from store.postgres.connections import PgConnections
from store.postgres.maintenance import apply_retention
from store.retention import retention_totals
from store.timefmt import format_ms, parse_rfc3339_or

__all__ = ("AdminMixin",)


def _affected(status: str) -> int:
    """Rows affected, from a command status such as ``UPDATE 1``."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class AdminMixin:
    """Methods that need only the connections, the clock and the id factory."""

    _c: PgConnections
    _clock_us: Callable[[], int]
    _new_id: Callable[[], str]

    def _now_iso(self) -> str:
        """The store clock as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (one reading, never mixed)."""
        return format_ms(self._clock_us())

    # ------------------------------------------------------------------ alert rules and history

    async def create_alert_rule(self, tenant: str, rule: AlertRuleInput) -> AlertRule:
        now = self._now_iso()
        stored = records.new_alert_rule(tenant, rule, rule_id=self._new_id(), now=now)
        row = rows.alert_rule_row(stored)
        await self._c.transaction(lambda conn: conn.execute(q.INSERT_ALERT_RULE, *row))
        return stored

    async def update_alert_rule(self, tenant: str, rule_id: str, patch: AlertRulePatch) -> AlertRule:
        async def work(conn: asyncpg.Connection) -> AlertRule:
            found = await conn.fetchrow(q.SELECT_ALERT_RULE_FOR_UPDATE, tenant, rule_id)
            if found is None:
                raise NotFound("Alert rule not found")
            updated = rowcodec.patch_alert_rule(rows.alert_rule(found), patch, self._now_iso())
            r = rows.alert_rule_row(updated)
            await conn.execute(q.UPDATE_ALERT_RULE, *r[1:8], updated.updated_at, tenant, rule_id)
            return updated

        return await self._c.transaction(work)

    async def delete_alert_rule(self, tenant: str, rule_id: str) -> None:
        status = await self._c.transaction(lambda conn: conn.execute(q.DELETE_ALERT_RULE, tenant, rule_id))
        if _affected(status) == 0:
            raise NotFound("Alert rule not found")

    async def list_alert_rules(self, tenant: str) -> list[AlertRule]:
        return [rows.alert_rule(r) for r in await self._c.fetch(q.SELECT_ALERT_RULES, tenant)]

    async def get_alert_rule(self, tenant: str, rule_id: str) -> AlertRule | None:
        row = await self._c.fetchrow(q.SELECT_ALERT_RULE, tenant, rule_id)
        return rows.alert_rule(row) if row else None

    async def insert_alert_history(self, tenant: str, entry: AlertHistoryEntry) -> None:
        args = (
            entry.id, entry.rule_id, entry.triggered_at, parse_rfc3339_or(entry.triggered_at, self._clock_us()),
            entry.resolved_at, float(entry.current_value), float(entry.threshold), entry.message, tenant,
        )
        await self._c.transaction(lambda conn: conn.execute(q.INSERT_ALERT_HISTORY, *args))

    async def resolve_alert_history(self, tenant: str, entry_id: str, resolved_at: str) -> None:
        status = await self._c.transaction(
            lambda conn: conn.execute(q.RESOLVE_ALERT_HISTORY, resolved_at, tenant, entry_id)
        )
        if _affected(status) == 0:
            raise NotFound("Alert history entry not found")

    async def list_alert_history(
        self, tenant: str, *, rule_id: str | None = None, limit: int = 50, offset: int = 0,
    ) -> AlertHistoryPage:
        page_sql, count_sql = q.alert_history_page(rule_id is not None)
        args: tuple[Any, ...] = (tenant, rule_id) if rule_id is not None else (tenant,)

        async def work(conn: asyncpg.Connection) -> AlertHistoryPage:
            entries = tuple(rows.alert_history_entry(r) for r in await conn.fetch(page_sql, *args, limit, offset))
            total = int(await conn.fetchval(count_sql, *args))
            return AlertHistoryPage(entries, total, offset + len(entries) < total)

        return await self._c.snapshot(work)

    # ------------------------------------------------------------------ api keys and settings

    async def create_api_key(self, key: ApiKey) -> None:
        row = rows.api_key_row(key)
        try:
            await self._c.transaction(lambda conn: conn.execute(q.INSERT_API_KEY, *row))
        except InvalidInput as exc:
            if isinstance(exc.__cause__, asyncpg.UniqueViolationError):
                raise Conflict("API key already exists") from exc
            raise

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        row = await self._c.fetchrow(q.SELECT_API_KEY_BY_HASH, key_hash)
        return rows.api_key(row) if row else None

    async def list_api_keys(self, tenant: str | None) -> list[ApiKey]:
        if tenant is None:
            found = await self._c.fetch(q.SELECT_API_KEYS_ALL)
        else:
            found = await self._c.fetch(q.SELECT_API_KEYS_TENANT, tenant)
        return [rows.api_key(r) for r in found]

    async def revoke_api_key(self, tenant: str | None, key_id: str, when: int) -> ApiKey:
        async def work(conn: asyncpg.Connection) -> ApiKey:
            row = await conn.fetchrow(q.SELECT_API_KEY_FOR_UPDATE, key_id)
            if row is None or (tenant is not None and row[4] != tenant):
                raise NotFound("API key not found")
            key = rows.api_key(row)
            if key.revoked_at is not None:
                raise Conflict("API key already revoked")
            await conn.execute(q.REVOKE_API_KEY, when, key_id)
            return rowcodec.with_revoked(key, when)

        return await self._c.transaction(work)

    async def touch_api_key(self, key_id: str, when: int) -> None:
        await self._c.transaction(lambda conn: conn.execute(q.TOUCH_API_KEY, when, key_id))

    async def count_api_keys(self) -> int:
        return int(await self._c.fetchval(q.COUNT_USABLE_API_KEYS, int(time.time())))

    async def get_settings(self, tenant: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in await self._c.fetch(q.SELECT_SETTINGS, tenant)}

    async def put_settings(self, tenant: str, values: Mapping[str, str]) -> None:
        args = [(tenant, k, v) for k, v in sorted(values.items())]
        if args:
            await self._c.transaction(lambda conn: conn.executemany(q.UPSERT_SETTING, args))

    # ------------------------------------------------------------------ maintenance

    async def list_tenants(self) -> list[str]:
        return sorted({str(r[0]) for r in await self._c.fetch(q.SELECT_TENANTS)})

    async def apply_retention(self, tenant: str, cutoff_us: int, *, batch_size: int = 5000) -> RetentionResult:
        result = await apply_retention(self._c, tenant, cutoff_us, batch_size=batch_size, now_iso=self._now_iso())
        await after_retention(self._c, tenant, cutoff_us, batch_size)  # rollups and spans follow the events
        return result

    async def record_retention_run(
        self, *, started_at: str, cutoff: str, results: Sequence[tuple[str, RetentionResult]], duration_ms: float,
    ) -> None:
        args = (
            started_at, cutoff, *retention_totals(results), float(duration_ms), rowcodec.retention_details(results),
        )
        await self._c.transaction(lambda conn: conn.execute(q.INSERT_RETENTION_RUN, *args))

    async def list_retention_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return [rowcodec.retention_run(rows.seq(r)) for r in await self._c.fetch(q.SELECT_RETENTION_RUNS, limit)]
