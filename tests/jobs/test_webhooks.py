"""Alert webhooks against a real aiohttp receiver on loopback: delivery, retries, down, slow, SSRF refusal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from collector.jobs.alerts import AlertEvaluator
from collector.jobs.webhooks import WebhookSender, check_webhook_url, is_public_address
from collector.metrics import Metrics
from store.interface import Store
from store.model import AlertRuleInput
from tests.jobs.conftest import Clock
from tests.support import free_port


class Receiver:
    """A webhook endpoint: answers each request with the next status of ``script`` (then 200), or
    holds it until ``release`` is set when the status is ``None``."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self.script: list[int | None] = []
        self.release = asyncio.Event()
        self.arrived = asyncio.Condition()

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        self.headers.append(dict(request.headers))
        async with self.arrived:
            self.arrived.notify_all()
        status = self.script.pop(0) if self.script else 200
        if status is None:
            await self.release.wait()
            status = 200
        return web.Response(status=status)

    async def wait_requests(self, n: int) -> None:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.bodies) >= n), 10)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield rec, f"http://127.0.0.1:{server.port}/hook"
    rec.release.set()
    await server.close()


def outcome_counts(metrics: Metrics) -> dict[str, float]:
    out = {}
    for name in ("delivered", "rejected", "failed", "refused", "dropped"):
        value = metrics.registry.get_sample_value("agentlens_webhook_deliveries_total", {"outcome": name})
        if value:
            out[name] = value
    return out


async def fire(store: Store, clock: Clock, sender: WebhookSender, *urls: str) -> AlertEvaluator:
    """A ``no_events_for`` rule with these webhooks, evaluated once (it fires: there are no events)."""
    await store.create_alert_rule("default", AlertRuleInput(
        name="silence", condition="no_events_for", threshold=0, window_minutes=5, scope_agent_id="a1",
        notify_channels=urls,
    ))
    evaluator = AlertEvaluator(store, webhooks=sender)
    assert [o.kind for o in await evaluator.run_once(clock.advance(minutes=10))] == ["fired"]
    return evaluator


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def sender(metrics: Metrics) -> AsyncIterator[WebhookSender]:
    s = WebhookSender(metrics, allow_private=True, timeout=0.5, attempts=3, backoff=0.01)
    yield s
    await s.close()


async def test_delivers_the_alert_as_json(
    sqlite_store: Store, clock: Clock, sender: WebhookSender, metrics: Metrics, receiver: tuple[Receiver, str],
) -> None:
    rec, url = receiver
    await fire(sqlite_store, clock, sender, url)
    await sender.wait_idle()
    [body] = rec.bodies
    [entry] = (await sqlite_store.list_alert_history("default")).entries
    assert body == {
        "alertRuleId": entry.rule_id, "alertName": "silence", "condition": "no_events_for", "currentValue": 0.0,
        "threshold": 0.0, "message": "No events received in the last 5m", "triggeredAt": entry.triggered_at,
        "windowMinutes": 5, "scope": {"agentId": "a1"}, "tenantId": "default",
    }
    assert rec.headers[0]["Content-Type"] == "application/json"
    assert outcome_counts(metrics) == {"delivered": 1}


async def test_retries_server_errors_with_backoff_then_delivers(
    sqlite_store: Store, clock: Clock, sender: WebhookSender, metrics: Metrics, receiver: tuple[Receiver, str],
) -> None:
    rec, url = receiver
    rec.script = [503, 500]
    await fire(sqlite_store, clock, sender, url)
    await sender.wait_idle()
    assert len(rec.bodies) == 3 and rec.bodies[0] == rec.bodies[2]
    assert outcome_counts(metrics) == {"delivered": 1}


async def test_a_client_error_is_final(
    sqlite_store: Store, clock: Clock, sender: WebhookSender, metrics: Metrics, receiver: tuple[Receiver, str],
) -> None:
    rec, url = receiver
    rec.script = [404]
    await fire(sqlite_store, clock, sender, url)
    await sender.wait_idle()
    assert len(rec.bodies) == 1
    assert outcome_counts(metrics) == {"rejected": 1}


async def test_a_receiver_that_is_down_exhausts_the_attempts(
    sqlite_store: Store, clock: Clock, sender: WebhookSender, metrics: Metrics, receiver: tuple[Receiver, str],
) -> None:
    rec, url = receiver
    await fire(sqlite_store, clock, sender, f"http://127.0.0.1:{free_port()}/hook", url)
    await sender.wait_idle()
    assert outcome_counts(metrics) == {"failed": 1, "delivered": 1}     # the other webhook still got it
    assert len(rec.bodies) == 1


async def test_a_slow_receiver_times_out_without_blocking_evaluation(
    sqlite_store: Store, clock: Clock, metrics: Metrics, receiver: tuple[Receiver, str],
) -> None:
    rec, url = receiver
    rec.script = [None, None]                   # both attempts hang until released
    sender = WebhookSender(metrics, allow_private=True, timeout=0.2, attempts=2, backoff=0.01)
    try:
        await fire(sqlite_store, clock, sender, url)
        # run_once has returned and the firing is recorded while the delivery is still in flight
        assert (await sqlite_store.list_alert_history("default")).total == 1
        assert sender.pending == 1
        await rec.wait_requests(2)              # the first attempt timed out, the retry arrived
        await sender.wait_idle()
        assert outcome_counts(metrics) == {"failed": 1}
    finally:
        await sender.close()


async def test_close_cancels_pending_deliveries(
    sqlite_store: Store, clock: Clock, metrics: Metrics, receiver: tuple[Receiver, str],
) -> None:
    rec, url = receiver
    rec.script = [None]
    sender = WebhookSender(metrics, allow_private=True, timeout=30, attempts=1)
    await fire(sqlite_store, clock, sender, url)
    await rec.wait_requests(1)
    await sender.close()
    assert sender.pending == 0
    assert [t for t in asyncio.all_tasks() if t.get_name() == "webhook"] == []
    assert sender.submit(url, {"late": True}) is False
    assert outcome_counts(metrics) == {"dropped": 1}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
async def test_private_and_loopback_addresses_are_refused_unless_allowed(
    sqlite_store: Store, clock: Clock, metrics: Metrics, receiver: tuple[Receiver, str], host: str,
) -> None:
    rec, url = receiver
    port = url.split(":")[-1].split("/")[0]
    sender = WebhookSender(metrics, allow_private=False, timeout=2, attempts=3, backoff=0.01)
    try:
        await fire(sqlite_store, clock, sender, f"http://{host}:{port}/hook")
        await sender.wait_idle()
    finally:
        await sender.close()
    assert rec.bodies == []
    assert outcome_counts(metrics) == {"refused": 1}


def test_address_classification() -> None:
    private = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
               "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1", "not-an-ip"]
    public = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
    assert [a for a in private if is_public_address(a)] == []
    assert [a for a in public if not is_public_address(a)] == []
    for bad in ("ftp://example.com/x", "file:///etc/passwd", "http://", "http://example.com:99999/"):
        with pytest.raises(OSError):
            check_webhook_url(bad, allow_private=True)
    with pytest.raises(OSError):
        check_webhook_url("http://169.254.169.254/latest", allow_private=False)
    check_webhook_url("https://hooks.example.com/x", allow_private=False)   # names are judged when resolved
