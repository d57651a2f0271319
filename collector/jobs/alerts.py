"""The alert evaluator: every rule's value over its window, firing with a quiet period, and resolution."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from store.ids import new_ulid
from store.interface import Store
from store.model import AlertHistoryEntry, AlertRule, AlertWindowStats
from store.timefmt import format_ms, parse_rfc3339

__all__ = (
    "CONDITIONS",
    "AlertEvaluator",
    "AlertOutcome",
    "current_value",
    "fires",
    "fmt_number",
    "resolved_message",
    "trigger_message",
)

LOG = logging.getLogger("collector.jobs.alerts")

CONDITIONS = ("error_rate_exceeds", "cost_exceeds", "latency_exceeds", "event_count_exceeds", "no_events_for")
_US_PER_MINUTE = 60_000_000
_HISTORY_PAGE = 50


class Publisher(Protocol):
    def publish(self, tenant: str, name: str, data: Mapping[str, Any]) -> None: ...


class Webhooks(Protocol):
    def submit(self, url: str, payload: Mapping[str, Any]) -> bool: ...


# --------------------------------------------------------------------------- values and messages


def current_value(condition: str, stats: AlertWindowStats) -> float:
    """storage.md §8: the number a rule compares with its threshold."""
    if condition == "error_rate_exceeds":
        return stats.error_count / stats.event_count if stats.event_count else 0.0
    if condition == "cost_exceeds":
        return stats.total_cost_usd
    if condition == "latency_exceeds":
        return stats.avg_latency_ms
    return float(stats.event_count)   # event_count_exceeds, no_events_for


def fires(condition: str, value: float, threshold: float) -> bool:
    """Strict ``>`` for the four "exceeds" conditions; ``no_events_for`` fires on zero events."""
    if condition == "no_events_for":
        return value == 0
    return value > threshold


def fmt_number(v: float) -> str:
    """upstream ``fmt``: an integral value as JavaScript prints it, anything else ``toFixed(4)``."""
    if float(v).is_integer():
        # JavaScript's String(v): plain digits below 1e21, then exponent form (which repr matches)
        return str(int(v)) if abs(v) < 1e21 else repr(float(v))
    return _to_fixed(v, 4)


def _to_fixed(v: float, digits: int) -> str:
    """JavaScript ``toFixed``: the exact binary value rounded half away from zero (not half-even)."""
    return str(Decimal(v).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def trigger_message(rule: AlertRule, value: float) -> str:
    """The history/stream/webhook message of a firing, worded like upstream §6.2."""
    return (_threshold_message(rule, value, "exceeds")
            or f"No events received in the last {rule.window_minutes}m")


def resolved_message(rule: AlertRule, value: float) -> str:
    """The message of an ``alert_resolved``: the same wording, saying the condition cleared."""
    return (_threshold_message(rule, value, "no longer exceeds")
            or f"Events received again: {fmt_number(value)} in the last {rule.window_minutes}m")


def _threshold_message(rule: AlertRule, value: float, verb: str) -> str | None:
    """``<measure> <value> <verb> threshold <threshold> in the last <w>m``; None for ``no_events_for``."""
    t = rule.threshold
    match rule.condition:
        case "error_rate_exceeds":
            measure, shown, limit = "Error rate", f"{_to_fixed(value * 100, 1)}%", f"{_to_fixed(t * 100, 1)}%"
        case "cost_exceeds":
            measure, shown, limit = "Cost", f"${fmt_number(value)}", f"${fmt_number(t)}"
        case "latency_exceeds":
            measure, shown, limit = "Average latency", f"{fmt_number(value)}ms", f"{fmt_number(t)}ms"
        case "event_count_exceeds":
            measure, shown, limit = "Event count", fmt_number(value), fmt_number(t)
        case _:
            return None
    return f"{measure} {shown} {verb} threshold {limit} in the last {rule.window_minutes}m"


# --------------------------------------------------------------------------- the evaluator


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """One state change of a rule in a run: ``fired`` (a new history entry) or ``resolved``."""

    kind: str
    rule_id: str
    tenant: str
    entry_id: str
    value: float
    message: str


class AlertEvaluator:
    """Evaluates every enabled rule of every tenant at ``now``.

    Quiet period: a rule whose latest history entry was triggered less than one window ago
    does not fire again. Resolution: when a rule's condition no longer holds, every entry of
    it that is still open gets ``resolvedAt = now`` and one ``alert_resolved`` message goes
    out. Firing writes the history entry first (the durable record), then streams ``alert``
    and hands one POST per webhook to the sender, which never makes this run wait.
    """

    name = "alerts"

    def __init__(
        self, store: Store, *, publisher: Publisher | None = None, webhooks: Webhooks | None = None,
        new_id: Callable[[], str] = new_ulid,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._webhooks = webhooks
        self._new_id = new_id

    async def run_once(self, now_us: int) -> list[AlertOutcome]:
        """One evaluation of everything; a failing rule is logged and the others still run."""
        outcomes: list[AlertOutcome] = []
        failures = 0
        for tenant in await self._store.list_tenants():
            rules = [r for r in await self._store.list_alert_rules(tenant) if r.enabled]
            # Rules with the same scope and window share one aggregate query per run.
            cache: dict[tuple[Any, ...], AlertWindowStats] = {}
            for rule in rules:
                try:
                    outcome = await self._evaluate(rule, now_us, cache)
                except Exception:
                    LOG.exception("alert rule %s of tenant %r could not be evaluated", rule.id, tenant)
                    failures += 1
                    continue
                if outcome is not None:
                    outcomes.append(outcome)
        if failures:
            raise RuntimeError(f"{failures} alert rule(s) could not be evaluated")
        return outcomes

    async def _stats(
        self, rule: AlertRule, now_us: int, cache: dict[tuple[Any, ...], AlertWindowStats],
    ) -> AlertWindowStats:
        key = (rule.scope_agent_id, rule.scope_tags or (), rule.window_minutes)
        stats = cache.get(key)
        if stats is None:
            stats = await self._store.get_alert_window_stats(
                rule.tenant_id, now_us - rule.window_minutes * _US_PER_MINUTE, now_us,
                agent_id=rule.scope_agent_id, tags=rule.scope_tags or None,
            )
            cache[key] = stats
        return stats

    async def _evaluate(
        self, rule: AlertRule, now_us: int, cache: dict[tuple[Any, ...], AlertWindowStats],
    ) -> AlertOutcome | None:
        value = current_value(rule.condition, await self._stats(rule, now_us, cache))
        latest_page = await self._store.list_alert_history(rule.tenant_id, rule_id=rule.id, limit=1)
        latest = latest_page.entries[0] if latest_page.entries else None
        if fires(rule.condition, value, rule.threshold):
            window_us = rule.window_minutes * _US_PER_MINUTE
            if latest is not None and now_us - parse_rfc3339(latest.triggered_at) < window_us:
                return None   # quiet for one window after a firing
            return await self._fire(rule, value, now_us)
        if latest is not None and latest.resolved_at is None:
            return await self._resolve(rule, value, now_us)
        return None

    async def _fire(self, rule: AlertRule, value: float, now_us: int) -> AlertOutcome:
        triggered_at = format_ms(now_us)
        message = trigger_message(rule, value)
        entry = AlertHistoryEntry(
            id=self._new_id(), rule_id=rule.id, triggered_at=triggered_at, resolved_at=None, current_value=value,
            threshold=rule.threshold, message=message, tenant_id=rule.tenant_id,
        )
        await self._store.insert_alert_history(rule.tenant_id, entry)
        LOG.info("alert %r (%s) fired for tenant %r: %s", rule.name, rule.id, rule.tenant_id, message)
        if self._publisher is not None:
            self._publisher.publish(rule.tenant_id, "alert", {
                "ruleId": rule.id, "name": rule.name, "currentValue": value, "threshold": rule.threshold,
                "message": message, "triggeredAt": triggered_at,
            })
        if self._webhooks is not None and rule.notify_channels:
            payload = webhook_payload(rule, value, message, triggered_at)
            for url in rule.notify_channels:
                self._webhooks.submit(url, payload)
        return AlertOutcome("fired", rule.id, rule.tenant_id, entry.id, value, message)

    async def _resolve(self, rule: AlertRule, value: float, now_us: int) -> AlertOutcome:
        resolved_at = format_ms(now_us)
        open_entries = await self._open_entries(rule)
        for entry in open_entries:
            await self._store.resolve_alert_history(rule.tenant_id, entry.id, resolved_at)
        newest = open_entries[0]
        message = resolved_message(rule, value)
        LOG.info("alert %r (%s) resolved for tenant %r: %s", rule.name, rule.id, rule.tenant_id, message)
        if self._publisher is not None:
            self._publisher.publish(rule.tenant_id, "alert_resolved", {
                "ruleId": rule.id, "name": rule.name, "currentValue": value, "threshold": rule.threshold,
                "message": message, "triggeredAt": newest.triggered_at, "resolvedAt": resolved_at,
                "historyId": newest.id,
            })
        return AlertOutcome("resolved", rule.id, rule.tenant_id, newest.id, value, message)

    async def _open_entries(self, rule: AlertRule) -> list[AlertHistoryEntry]:
        """The rule's unresolved entries, newest first; older ones are all resolved (each clear resolves all)."""
        found: list[AlertHistoryEntry] = []
        offset = 0
        while True:
            page = await self._store.list_alert_history(
                rule.tenant_id, rule_id=rule.id, limit=_HISTORY_PAGE, offset=offset,
            )
            for entry in page.entries:
                if entry.resolved_at is not None:
                    return found
                found.append(entry)
            if not page.has_more:
                return found
            offset += len(page.entries)


def webhook_payload(rule: AlertRule, value: float, message: str, triggered_at: str) -> dict[str, Any]:
    """upstream §6.2's webhook body (the direct-POST path)."""
    scope: dict[str, Any] = {}
    if rule.scope_agent_id is not None:
        scope["agentId"] = rule.scope_agent_id
    if rule.scope_tags is not None:
        scope["tags"] = list(rule.scope_tags)
    return {
        "alertRuleId": rule.id, "alertName": rule.name, "condition": rule.condition, "currentValue": value,
        "threshold": rule.threshold, "message": message, "triggeredAt": triggered_at,
        "windowMinutes": rule.window_minutes, "scope": scope, "tenantId": rule.tenant_id,
    }
