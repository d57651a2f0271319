"""create_app(settings, store): the aiohttp application with its keys, routes, middlewares and lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from collector.appkeys import authenticator_key, clock_key, metrics_key, pipeline_key, settings_key, store_key
from collector.auth import auth_middleware
from collector.config import Settings
from collector.errors import error_middleware
from collector.ingest.pipeline import IngestPipeline
from collector.jobs.wiring import setup_background
from collector.keys import Authenticator
from collector.metrics import Metrics
from collector.routes import setup_routes
from collector.security import HANDLER_ARGS, body_timeout_middleware, cors_middleware, setup_security
from store.interface import Store
from store.timefmt import now_us

__all__ = ("create_app",)


def create_app(settings: Settings, store: Store, *, clock: Callable[[], int] = now_us) -> web.Application:
    """Build the application around an open store; the application closes the store at cleanup."""
    # Bodies are read by our own bounded readers (per route limits), not by client_max_size.
    app = web.Application(
        middlewares=[error_middleware, cors_middleware, body_timeout_middleware, auth_middleware],
        client_max_size=max(settings.max_body_bytes, settings.otlp_max_bytes),
        handler_args=HANDLER_ARGS,
    )
    metrics = Metrics()
    pipeline = IngestPipeline(
        store, metrics, max_events=settings.queue_max_events, max_bytes=settings.queue_max_bytes,
        commit_max_events=settings.commit_max_events, inflight_max_bytes=settings.inflight_max_bytes,
    )
    app[settings_key] = settings
    app[store_key] = store
    app[metrics_key] = metrics
    app[pipeline_key] = pipeline
    app[clock_key] = clock
    app[authenticator_key] = Authenticator(store, clock)
    setup_routes(app)
    setup_security(app)
    # Cleanup runs in reverse order: stop the pipeline (drain, commit), then close the store.
    app.cleanup_ctx.append(_store_context)
    app.cleanup_ctx.append(_pipeline_context)
    setup_background(app)  # scheduler and live stream: stop before the pipeline drains
    app.cleanup_ctx.append(_authenticator_context)
    return app


async def _store_context(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[store_key].close()


async def _pipeline_context(app: web.Application) -> AsyncIterator[None]:
    pipeline = app[pipeline_key]
    await pipeline.start()
    yield
    await pipeline.stop(app[settings_key].shutdown_timeout_seconds)


async def _authenticator_context(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[authenticator_key].drain()  # pending lastUsedAt writes finish before the store closes
