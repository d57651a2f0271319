"""Hang the jobs and the live-stream bus off the application and tie them to its lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from collector.appkeys import clock_key, jobs_key, metrics_key, pipeline_key, settings_key, store_key, stream_key
from collector.jobs.service import Jobs
from collector.stream.bus import StreamBus

__all__ = ("setup_background",)


def setup_background(app: web.Application) -> None:
    """Create the bus and the jobs; call it after the pipeline's cleanup context is registered.

    Cleanup contexts unwind in reverse, so the scheduler and the stream stop before the pipeline
    drains and the store closes. ``on_shutdown`` runs before aiohttp waits for open requests,
    so stream clients are told to go away instead of holding shutdown for its whole timeout.
    """
    settings, store, metrics = app[settings_key], app[store_key], app[metrics_key]
    bus = StreamBus(
        store, metrics, client_buffer_bytes=settings.stream_client_buffer_bytes,
        max_clients=settings.stream_max_clients,
    )
    app[stream_key] = bus
    app[jobs_key] = Jobs(settings, store, metrics, clock=app[clock_key], publisher=bus)
    app[pipeline_key].add_listener(bus.on_commit)
    app.cleanup_ctx.append(_background_context)
    app.on_shutdown.append(_close_streams)


async def _background_context(app: web.Application) -> AsyncIterator[None]:
    bus, jobs = app[stream_key], app[jobs_key]
    await bus.start()
    try:
        await jobs.start()
    except BaseException:
        await bus.stop()
        raise
    yield
    await jobs.stop()
    await bus.stop()


async def _close_streams(app: web.Application) -> None:
    app[stream_key].close_all("shutdown")
