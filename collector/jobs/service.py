"""The jobs of one application: scheduler, retention, alerts and webhooks, started and stopped together."""

from __future__ import annotations

from collections.abc import Callable

from collector.config import Settings
from collector.jobs.alerts import AlertEvaluator, Publisher
from collector.jobs.retention import RetentionJob
from collector.jobs.scheduler import Scheduler
from collector.jobs.webhooks import WebhookSender
from collector.metrics import Metrics
from store.interface import Store

__all__ = ("Jobs",)


class Jobs:
    """Built from the settings; ``start()`` arms the cron ticks, ``stop()`` leaves no task behind."""

    def __init__(
        self, settings: Settings, store: Store, metrics: Metrics, *, clock: Callable[[], int],
        publisher: Publisher | None,
    ) -> None:
        self.webhooks = WebhookSender(
            metrics, allow_private=settings.allow_private_webhooks, timeout=settings.webhook_timeout_seconds,
        )
        self.retention = RetentionJob(
            store, default_days=settings.retention_days, batch_size=settings.retention_batch_size,
        )
        self.alerts = AlertEvaluator(store, publisher=publisher, webhooks=self.webhooks)
        self.scheduler = Scheduler(store, metrics, clock=clock)
        self.scheduler.add(self.retention, settings.retention_cron)
        self.scheduler.add(self.alerts, settings.alert_cron)

    async def start(self) -> None:
        await self.scheduler.start()

    async def stop(self) -> None:
        """Stop the ticks and any run in progress first, then cancel webhook deliveries still pending."""
        await self.scheduler.stop()
        await self.webhooks.close()
