"""The real app with auth required, served from a background thread so that synchronous fuzz clients can call it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from collector.app import create_app
from collector.config import load_settings
from collector.keys import mint_key
from store.factory import open_store


@dataclass
class ThreadServer:
    url: str
    admin_key: str


def _serve(db: Path, ready: threading.Event, box: dict[str, object], stop_holder: dict[str, object]) -> None:
    async def main() -> None:
        settings, problems = load_settings({"AGENTLENS_DB_PATH": str(db), "AGENTLENS_AUTH": "required",
                                            "AGENTLENS_LOG_LEVEL": "warning"})
        assert not problems, problems
        store = await open_store(settings.store_url)
        raw, record = mint_key("fuzz", "fuzz admin", ["*"], now_s=1)
        await store.create_api_key(record)
        runner = web.AppRunner(create_app(settings, store), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        stop = asyncio.Event()
        stop_holder["stop"] = (asyncio.get_running_loop(), stop)
        box["server"] = ThreadServer(f"http://127.0.0.1:{port}", raw)
        ready.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except BaseException as exc:  # surfaced to the fixture instead of dying silently in the thread
        box["error"] = exc
        ready.set()


@pytest.fixture(scope="module")
def thread_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    """The app on a loopback port, auth required, with one admin key of tenant ``fuzz``."""
    ready = threading.Event()
    box: dict[str, object] = {}
    stop_holder: dict[str, object] = {}
    thread = threading.Thread(
        target=_serve, args=(tmp_path_factory.mktemp("fuzz") / "fuzz.db", ready, box, stop_holder), daemon=True,
    )
    thread.start()
    assert ready.wait(60), "the fuzz server did not start"
    if "error" in box:
        raise RuntimeError("the fuzz server failed to start") from box["error"]  # type: ignore[arg-type]
    server = box["server"]
    assert isinstance(server, ThreadServer)
    yield server
    loop, stop = stop_holder["stop"]  # type: ignore[misc]
    loop.call_soon_threadsafe(stop.set)
    thread.join(60)
