"""Webhook delivery for alerts: bounded background tasks, per-attempt timeout, retries with backoff, SSRF guard."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from collector import __version__
from collector.metrics import Metrics

__all__ = ("AddressRefused", "GuardedResolver", "WebhookSender", "check_webhook_url", "is_public_address")

LOG = logging.getLogger("collector.jobs.webhooks")

# HTTP statuses worth another attempt; any other non-2xx answer is final.
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class AddressRefused(OSError):
    """The webhook URL is not allowed: bad scheme, or it points at a non-public address."""


def is_public_address(text: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Refuse what is never deliverable: non-http(s) URLs, and private IP literals unless allowed."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number in 0..65535)
    except ValueError:
        raise AddressRefused(f"invalid port in {url[:200]!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused(f"not an http(s) URL: {url[:200]!r}")
    if allow_private:
        return
    host = parts.hostname
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return  # a name: judged by GuardedResolver on every address it resolves to
    if not is_public_address(host):
        raise AddressRefused(f"webhook address {host} is private, loopback or link-local")


class GuardedResolver(AbstractResolver):
    """Resolves like the default resolver, then refuses the name if ANY address is not public.

    It is the connector's resolver, so the addresses checked are the ones connected to (no
    window for DNS rebinding between a check and the connection).
    """

    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        bad = sorted({r["host"] for r in results if not is_public_address(r["host"])})
        if bad:
            raise AddressRefused(f"webhook host {host!r} resolves to non-public address(es) {', '.join(bad)}")
        return results

    async def close(self) -> None:
        await self._inner.close()


def _refused(exc: BaseException) -> AddressRefused | None:
    """The AddressRefused behind an aiohttp connector error, if that is what it is."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, AddressRefused):
            return seen
        if isinstance(seen, aiohttp.ClientConnectorError) and isinstance(seen.os_error, AddressRefused):
            return seen.os_error
        seen = seen.__cause__
    return None


class WebhookSender:
    """Posts JSON to webhook URLs in background tasks; ``submit`` never waits for the network.

    At most ``max_concurrency`` deliveries talk to the network at once and at most
    ``max_pending`` exist at all (more are dropped, logged and counted). Each attempt has its
    own ``timeout``; connection errors, timeouts and 408/425/429/5xx answers are retried after
    ``backoff * 2**n`` seconds, up to ``attempts`` attempts. ``close()`` cancels what is left.
    Outcomes are counted in ``agentlens_webhook_deliveries_total{outcome}``: delivered,
    rejected (a final non-2xx answer), failed (attempts exhausted), refused (SSRF guard),
    dropped (too many pending).
    """

    def __init__(
        self, metrics: Metrics, *, allow_private: bool, timeout: float = 10.0, attempts: int = 4,
        backoff: float = 1.0, max_concurrency: int = 8, max_pending: int = 1000,
    ) -> None:
        self._metrics = metrics
        self._allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._max_pending = max_pending
        self._slots = asyncio.Semaphore(max_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            resolver: AbstractResolver = ThreadedResolver() if self._allow_private else GuardedResolver()
            connector = aiohttp.TCPConnector(resolver=resolver, limit=0, use_dns_cache=False)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": f"agentlens-collector/{__version__}"},
            )
        return self._session

    def submit(self, url: str, payload: Mapping[str, Any]) -> bool:
        """Start delivering ``payload`` to ``url`` in the background; False when it was dropped."""
        if self._closed or len(self._tasks) >= self._max_pending:
            why = "sender closed" if self._closed else "too many pending"
            LOG.warning("webhook to %s dropped: %s", _redact(url), why)
            self._count("dropped")
            return False
        body = orjson.dumps(payload)
        task = asyncio.create_task(self._deliver(url, body), name="webhook")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def wait_idle(self) -> None:
        """Wait until every submitted delivery has finished (tests, orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel deliveries still pending, wait for them to end, close the HTTP client. Idempotent."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _count(self, outcome: str) -> None:
        self._metrics.webhook_deliveries.labels(outcome).inc()

    async def _deliver(self, url: str, body: bytes) -> None:
        try:
            check_webhook_url(url, allow_private=self._allow_private)
        except AddressRefused as exc:
            LOG.warning("webhook refused: %s", exc)
            self._count("refused")
            return
        async with self._slots:
            outcome = await self._attempt_all(url, body)
        self._count(outcome)

    async def _attempt_all(self, url: str, body: bytes) -> str:
        headers = {"Content-Type": "application/json"}
        for attempt in range(self._attempts):
            problem: str
            try:
                async with self._client().post(
                    url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False,
                ) as resp:
                    if 200 <= resp.status < 300:
                        return "delivered"
                    if resp.status not in _RETRY_STATUSES:
                        LOG.warning("webhook %s answered %d: not retried", _redact(url), resp.status)
                        return "rejected"
                    problem = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                refused = _refused(exc)
                if refused is not None:
                    LOG.warning("webhook refused: %s", refused)
                    return "refused"
                problem = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            if attempt + 1 < self._attempts:
                delay = self._backoff * 2**attempt
                LOG.info("webhook %s attempt %d failed (%s); retrying in %.1fs", _redact(url), attempt + 1, problem,
                         delay)
                await asyncio.sleep(delay)
            else:
                LOG.warning("webhook %s failed after %d attempts: %s", _redact(url), self._attempts, problem)
        return "failed"


def _redact(url: str) -> str:
    """The URL without its path and query (webhook URLs often carry secrets there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"
