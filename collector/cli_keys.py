"""`agentlens-collector keys create|list|revoke`: API keys for any tenant, from the command line."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from collector.keys import KNOWN_SCOPES, ensure_admin_key, mint_key, validate_scopes
from store.errors import Conflict, NotFound
from store.interface import Store
from store.model import ApiKey
from store.timefmt import format_ms

__all__ = ("add_keys_parser", "bootstrap_admin_key", "run_keys")


def add_keys_parser(sub: Any) -> list[argparse.ArgumentParser]:
    """Add ``keys`` and its subcommands; returns the parsers that need the database options."""
    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--tenant", default="default", help="tenant the key belongs to (default: default)")
    create.add_argument("--name", default="Unnamed Key", help="a name to recognise the key by")
    create.add_argument(
        "--scopes", default="*", help=f"comma list of {', '.join(KNOWN_SCOPES)} (default: * = admin)",
    )
    create.add_argument("--expires-days", dest="expires_days", type=int, default=None, help="expire after D days")
    listing = keys_sub.add_parser("list", help="list keys (never their value)")
    listing.add_argument("--tenant", default=None, help="only this tenant")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id", metavar="ID")
    return [create, listing, revoke]


async def run_keys(store: Store, args: argparse.Namespace) -> int:
    """Run one ``keys`` subcommand; returns the exit code."""
    now_s = int(time.time())
    if args.keys_command == "create":
        return await _create(store, args, now_s)
    if args.keys_command == "list":
        _print_table(await store.list_api_keys(args.tenant), now_s)
        return 0
    try:
        await store.revoke_api_key(None, args.key_id, now_s)
    except NotFound:
        print(f"agentlens-collector: no API key with id {args.key_id!r}", file=sys.stderr)
        return 1
    except Conflict:
        print(f"agentlens-collector: API key {args.key_id!r} is already revoked", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}")
    return 0


async def _create(store: Store, args: argparse.Namespace, now_s: int) -> int:
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    problems = validate_scopes(scopes)
    if not args.tenant.strip() or len(args.tenant) > 128:
        problems.append("--tenant must be 1..128 characters")
    if not args.name or len(args.name) > 255:
        problems.append("--name must be 1..255 characters")
    if args.expires_days is not None and not 1 <= args.expires_days <= 36500:
        problems.append("--expires-days must be 1..36500")
    if problems:
        for problem in problems:
            print(f"agentlens-collector: {problem}", file=sys.stderr)
        return 2
    expires_at = now_s + args.expires_days * 86400 if args.expires_days else None
    raw, record = mint_key(args.tenant, args.name, scopes, now_s=now_s, expires_at=expires_at)
    await store.create_api_key(record)
    print(f"created API key {record.id} for tenant {record.tenant_id!r} (scopes {','.join(record.scopes)}); "
          "it is shown only once:", file=sys.stderr)
    print(raw, flush=True)
    return 0


def _status(key: ApiKey, now_s: int) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now_s:
        return "expired"
    return "active"


def _when(seconds: int | None) -> str:
    return "-" if seconds is None else format_ms(seconds * 1_000_000)[:19] + "Z"


def _print_table(keys: list[ApiKey], now_s: int) -> None:
    rows = [("ID", "TENANT", "NAME", "SCOPES", "CREATED", "LAST USED", "EXPIRES", "STATUS")]
    rows += [
        (k.id, k.tenant_id, k.name, ",".join(k.scopes), _when(k.created_at), _when(k.last_used_at),
         _when(k.expires_at), _status(k, now_s))
        for k in keys
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


async def bootstrap_admin_key(store: Store) -> None:
    """Auth required and no usable key: create one admin key and show it once, on stderr.

    Written to stderr directly, never through the logging system, so log shipping never carries it.
    """
    created = await ensure_admin_key(store, now_s=int(time.time()))
    if created is None:
        return
    raw, record = created
    print(
        f"agentlens-collector: authentication is required and no usable API key existed, so an admin key "
        f"was created for tenant {record.tenant_id!r} (id {record.id}). It is shown only this once:\n"
        f"    {raw}\n"
        "Use it as 'Authorization: Bearer <key>'; make more with 'agentlens-collector keys create'.",
        file=sys.stderr, flush=True,
    )
