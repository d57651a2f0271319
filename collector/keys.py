"""API keys: minting, hashing, scopes -> roles, and which category a request needs (api.md §9)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from collector.ids import new_ulid
from store.errors import StoreError
from store.interface import Store
from store.model import ApiKey

__all__ = (
    "ADMIN_SCOPES",
    "EXPIRED",
    "INVALID",
    "KEY_PREFIX",
    "KNOWN_SCOPES",
    "Authenticator",
    "KeyRejected",
    "Principal",
    "categories_of",
    "ensure_admin_key",
    "hash_key",
    "hashes_match",
    "is_well_formed",
    "mint_key",
    "required_category",
    "role_of",
    "validate_scopes",
)

LOG = logging.getLogger("collector.auth")

KEY_PREFIX = "als_"
_KEY_RE = re.compile(r"als_[0-9a-f]{64}")
KNOWN_SCOPES = ("*", "manage", "write", "read")
ADMIN_SCOPES = ("*",)
MAX_SCOPES = 50

# role -> the categories it grants (upstream rbac: viewer [read], member [read, write], admin [+manage])
_CATEGORIES = {
    "admin": frozenset({"read", "write", "manage"}),
    "member": frozenset({"read", "write"}),
    "viewer": frozenset({"read"}),
}
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# POST routes that only read: the Grafana JSON data source sends its queries as POST bodies
_READ_ONLY_POST_PREFIXES = ("/grafana/",)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id (``None`` with auth disabled), tenant, role and scopes."""

    key_id: str | None
    tenant: str
    role: str
    scopes: tuple[str, ...]

    def may(self, category: str) -> bool:
        return category in categories_of(self.role)


def hash_key(raw: str) -> str:
    """``sha256_hex`` of the whole key including the ``als_`` prefix (what the database stores)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def hashes_match(stored: str, computed: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(stored.encode("ascii", "replace"), computed.encode("ascii", "replace"))


def is_well_formed(raw: str) -> bool:
    return _KEY_RE.fullmatch(raw) is not None


def role_of(scopes: Iterable[str]) -> str:
    """``*``/``manage`` -> admin, ``write`` -> member, anything else -> viewer."""
    found = set(scopes)
    if found & {"*", "manage"}:
        return "admin"
    if "write" in found:
        return "member"
    return "viewer"


def categories_of(role: str) -> frozenset[str]:
    return _CATEGORIES.get(role, frozenset())


def required_category(method: str, path: str) -> str:
    """``read``, ``write`` or ``manage`` for this request (api.md §9)."""
    method = method.upper()
    if path == "/api/keys" or path.startswith("/api/keys/"):
        return "manage"
    if method not in _READ_METHODS and (path == "/api/config" or path.startswith("/api/config/")):
        return "manage"
    if method == "POST" and path == "/api/retention/run":
        return "manage"
    if method in _READ_METHODS:
        return "read"
    if method == "POST" and path.startswith(_READ_ONLY_POST_PREFIXES):
        return "read"
    return "write"


def validate_scopes(scopes: Sequence[str]) -> list[str]:
    """Problems with a requested scope list (empty when it is fine)."""
    problems: list[str] = []
    if not scopes:
        problems.append("at least one scope is required")
    if len(scopes) > MAX_SCOPES:
        problems.append(f"at most {MAX_SCOPES} scopes")
    unknown = sorted({s for s in scopes if s not in KNOWN_SCOPES})
    if unknown:
        problems.append(f"unknown scope(s) {', '.join(map(repr, unknown))}: use {', '.join(KNOWN_SCOPES)}")
    return problems


def mint_key(
    tenant: str, name: str, scopes: Sequence[str], *, now_s: int, expires_at: int | None = None,
) -> tuple[str, ApiKey]:
    """A new raw key (``als_`` + 64 hex from ``secrets``) and the record to store (hash only)."""
    raw = KEY_PREFIX + secrets.token_hex(32)
    record = ApiKey(
        id=new_ulid(), key_hash=hash_key(raw), name=name, scopes=tuple(dict.fromkeys(scopes)),
        tenant_id=tenant, created_at=now_s, expires_at=expires_at,
    )
    return raw, record


async def ensure_admin_key(store: Store, *, now_s: int, tenant: str = "default") -> tuple[str, ApiKey] | None:
    """First start with auth required: when no usable key exists, create one admin key.

    Returns the raw key and its record (the caller shows the raw key once), or ``None`` when a
    usable key already exists.
    """
    if await store.count_api_keys() > 0:
        return None
    raw, record = mint_key(tenant, "bootstrap admin key", ADMIN_SCOPES, now_s=now_s)
    await store.create_api_key(record)
    return raw, record


class KeyRejected(Exception):
    """The presented key is unknown, revoked or expired (the message is client-facing)."""


INVALID = "Invalid or revoked API key"
EXPIRED = "API key expired"


class Authenticator:
    """Turns a raw key into a ``Principal``: lookup by hash, constant-time check, expiry, ``lastUsedAt``.

    Verified keys are cached for ``cache_seconds`` (revocation through this process takes effect at
    once via ``forget``; through another process or the CLI within ``cache_seconds``). Expiry is
    checked on every request. ``lastUsedAt`` is written in the background at most once per
    ``touch_interval_s`` per key, so authentication never waits on a write.
    """

    def __init__(
        self, store: Store, clock_us: Callable[[], int], *, cache_seconds: float = 5.0,
        touch_interval_s: int = 60, cache_max: int = 4096,
    ) -> None:
        self._store = store
        self._clock_us = clock_us
        self._cache_seconds = cache_seconds
        self._touch_interval_s = touch_interval_s
        self._cache_max = cache_max
        self._cache: dict[str, tuple[ApiKey, float]] = {}
        self._touched: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def authenticate(self, raw: str) -> Principal:
        if not is_well_formed(raw):
            raise KeyRejected(INVALID)
        digest = hash_key(raw)
        key = self._cached(digest)
        if key is None:
            key = await self._store.find_api_key(digest)
            if key is None or not hashes_match(key.key_hash, digest):
                raise KeyRejected(INVALID)
            if key.revoked_at is None:
                self._remember(digest, key)
        if key.revoked_at is not None:
            raise KeyRejected(INVALID)
        now_s = self._clock_us() // 1_000_000
        if key.expires_at is not None and key.expires_at <= now_s:
            raise KeyRejected(EXPIRED)
        self._maybe_touch(key, now_s)
        return Principal(key.id, key.tenant_id, role_of(key.scopes), key.scopes)

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (call after revoking it)."""
        for digest in [d for d, (k, _) in self._cache.items() if k.id == key_id]:
            del self._cache[digest]

    async def drain(self) -> None:
        """Wait for the background ``lastUsedAt`` writes still running (shutdown, tests)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _cached(self, digest: str) -> ApiKey | None:
        hit = self._cache.get(digest)
        if hit is None:
            return None
        key, at = hit
        if time.monotonic() - at > self._cache_seconds:
            del self._cache[digest]
            return None
        return key

    def _remember(self, digest: str, key: ApiKey) -> None:
        if len(self._cache) >= self._cache_max:
            self._cache.clear()
        self._cache[digest] = (key, time.monotonic())

    def _maybe_touch(self, key: ApiKey, now_s: int) -> None:
        last = max(key.last_used_at or 0, self._touched.get(key.id, 0))
        if now_s - last < self._touch_interval_s:
            return
        if len(self._touched) >= self._cache_max:
            self._touched.clear()
        self._touched[key.id] = now_s
        task = asyncio.get_running_loop().create_task(self._touch(key.id, now_s))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _touch(self, key_id: str, now_s: int) -> None:
        try:
            await self._store.touch_api_key(key_id, now_s)
        except StoreError as exc:  # best effort: a busy database must not fail the request
            LOG.debug("could not record lastUsedAt for key %s: %s", key_id, exc)
