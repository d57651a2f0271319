"""Command line: serve | migrate | verify | keys | retention run; the only module that exits the process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from collector import __version__
from collector.cli_keys import add_keys_parser, bootstrap_admin_key, run_keys
from collector.config import Settings, load_settings, setting_specs
from collector.logs import setup_logging
from store.errors import StoreError
from store.factory import open_store, run_migrations
from store.interface import Store
from store.model import SessionQuery
from store.runtime import settle_gc

__all__ = ("main",)

LOG = logging.getLogger("collector")

# How long a thread may hold the GIL while another waits for it (Python's default is 5 ms).
# Threads of this process (the OTLP mapper thread in AGENTLENS_OTLP_MAPPER=thread mode, the
# reader threads, the mapper process's result thread) hold it for long stretches; the event loop
# needs it for short moments (a body chunk, a writer answer, a response) and waited up to 5 ms
# each time: OTLP quick runs with the mapper thread gave 9.5k spans/s with the default and
# 10.3-11.4k with 0.5-2 ms; native ingest was unchanged.
GIL_SWITCH_INTERVAL_S = 0.0005


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentlens-collector", description="AgentLens Collector")
    parser.add_argument("--version", action="version", version=f"agentlens-collector {__version__}")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the HTTP service (default)")
    for spec in setting_specs():
        if spec.flag:
            serve.add_argument(spec.flag, dest=spec.name, default=None, help=f"{spec.help} [{spec.env}]")
    migrate = sub.add_parser("migrate", help="apply database migrations and exit")
    verify = sub.add_parser("verify", help="verify hash chains and report failures")
    verify.add_argument("--tenant", help="only this tenant")
    verify.add_argument("--session", help="only this session (needs --tenant, default 'default')")
    keys_parsers = add_keys_parser(sub)
    retention = sub.add_parser("retention", help="retention on demand")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    retention_run = retention_sub.add_parser("run", help="apply each tenant's retention policy now, print the result")
    retention_run.add_argument("--tenant", help="only this tenant")
    for p in (migrate, verify, retention_run, *keys_parsers):
        p.add_argument("--db-path", dest="db_path", default=None, help="SQLite file [AGENTLENS_DB_PATH]")
        p.add_argument("--database-url", dest="database_url", default=None, help="PostgreSQL URL [DATABASE_URL]")
    return parser


def _settings(args: argparse.Namespace) -> Settings | None:
    overrides: dict[str, Any] = {
        spec.name: getattr(args, spec.name) for spec in setting_specs() if getattr(args, spec.name, None) is not None
    }
    settings, problems = load_settings(overrides=overrides)
    if problems:
        print("agentlens-collector: invalid configuration:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return None
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    if command == "serve" and args.command is None:
        args = _parser().parse_args(["serve", *(argv or [])])
    settings = _settings(args)
    if settings is None:
        return 2
    setup_logging(settings.log_level, settings.log_format)
    try:
        if command == "serve":
            return _serve(settings)
        if command == "migrate":
            return asyncio.run(_migrate(settings))
        if command == "verify":
            return asyncio.run(_verify(settings, args.tenant, args.session))
        if command == "retention":
            return asyncio.run(_retention(settings, args.tenant))
        if command == "keys":
            return asyncio.run(_keys(settings, args))
    except StoreError as exc:
        print(f"agentlens-collector: database error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"agentlens-collector: {exc}", file=sys.stderr)
        return 1
    return 2


async def _open(settings: Settings) -> Store:
    return await open_store(settings.store_url, **_store_options(settings))


def _store_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {"session_idle_minutes": settings.session_idle_minutes}
    if settings.dialect == "postgresql":
        options.update(pool_min=settings.pg_pool_min, pool_max=settings.pg_pool_max)
    else:
        options["writer_process"] = settings.sqlite_writer == "process"
    return options


def _serve(settings: Settings) -> int:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    return asyncio.run(_serve_async(settings))


async def _serve_async(settings: Settings) -> int:
    from collector.app import create_app  # imported here: keeps `migrate`/`verify` light

    store = await _open(settings)
    if settings.auth_required:
        await bootstrap_admin_key(store)
    app = create_app(settings, store)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=settings.shutdown_timeout_seconds)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        settle_gc()  # started: what exists now stays, and collections run rarely (store/runtime.py)
        ports = sorted({addr[1] for addr in runner.addresses})
        # One machine-readable line: tests and scripts wait for it instead of polling.
        print(f"agentlens-collector ready on http://{settings.host}:{ports[0] if ports else settings.port} "
              f"({settings.dialect})", file=sys.stderr, flush=True)
        await stop.wait()
        LOG.info("shutting down: draining the ingest queue")
    finally:
        # stops accepting, waits for in-flight requests, drains the pipeline, closes the store
        await runner.cleanup()
    LOG.info("stopped")
    return 0


async def _migrate(settings: Settings) -> int:
    applied = await run_migrations(settings.store_url)
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


async def _verify(settings: Settings, tenant: str | None, session: str | None) -> int:
    store = await _open(settings)
    failures = checked = 0
    try:
        tenants = [tenant or "default"] if session else ([tenant] if tenant else await store.list_tenants())
        for t in tenants:
            sessions = [session] if session else await _all_session_ids(store, t)
            for sid in sessions:
                result = await store.verify_session(t, sid)
                checked += 1
                if result is None:
                    print(f"{t}/{sid}: unknown session")
                    failures += 1
                elif not result.valid:
                    print(f"{t}/{sid}: INVALID at seq {result.failed_at_seq}: {result.reason}")
                    failures += 1
    finally:
        await store.close()
    print(f"verified {checked} session(s): {checked - failures} valid, {failures} invalid")
    return 1 if failures else 0


async def _keys(settings: Settings, args: argparse.Namespace) -> int:
    store = await _open(settings)
    try:
        return await run_keys(store, args)
    finally:
        await store.close()


async def _retention(settings: Settings, tenant: str | None) -> int:
    """One line of JSON per tenant (what was deleted, the cutoff), then a summary; 1 if a tenant failed."""
    import orjson

    from collector.jobs.retention import RetentionJob
    from store.timefmt import now_us

    store = await _open(settings)
    failures = deleted = sessions = 0
    try:
        job = RetentionJob(store, default_days=settings.retention_days, batch_size=settings.retention_batch_size)
        tenants = [tenant] if tenant else await store.list_tenants()
        for t in tenants:
            try:
                done = await job.run_tenant(t, now_us())
            except StoreError as exc:
                print(f"{t}: retention failed: {exc}", file=sys.stderr)
                failures += 1
                continue
            print(orjson.dumps(done.as_json()).decode(), flush=True)
            if done.result is not None:
                deleted += done.result.deleted_count
                sessions += done.result.sessions_deleted
    finally:
        await store.close()
    print(f"retention: {deleted} event(s) and {sessions} session(s) deleted over {len(tenants)} tenant(s)"
          + (f", {failures} failed" if failures else ""), file=sys.stderr)
    return 1 if failures else 0


async def _all_session_ids(store: Store, tenant: str) -> list[str]:
    ids: list[str] = []
    offset = 0
    while True:
        page = await store.query_sessions(tenant, SessionQuery(limit=500, offset=offset))
        ids.extend(s.id for s in page.sessions)
        if not page.has_more:
            return ids
        offset += len(page.sessions)
