"""POST /api/keys, GET /api/keys, DELETE /api/keys/{id}: API keys of the caller's tenant (manage scope)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from collector.api.bodies import read_json_bytes
from collector.appkeys import authenticator_key, clock_key, settings_key, store_key
from collector.httputil import ApiError, json_response, tenant_of
from collector.keys import ADMIN_SCOPES, mint_key, validate_scopes
from store.model import ApiKey
from store.timefmt import format_ms

__all__ = ("create_key", "key_json", "list_keys", "revoke_key")

KEYS_BODY_MAX = 64 * 1024
NAME_MAX = 255
TENANT_MAX = 128
SCOPE_MAX_LEN = 64
EXPIRES_DAYS_MAX = 36500
DEFAULT_NAME = "Unnamed Key"


def _iso(seconds: int | None) -> str | None:
    return None if seconds is None else format_ms(seconds * 1_000_000)


def key_json(k: ApiKey) -> dict[str, Any]:
    """A key as listed: never the hash, never the raw key."""
    return {
        "id": k.id,
        "name": k.name,
        "scopes": list(k.scopes),
        "tenantId": k.tenant_id,
        "createdAt": _iso(k.created_at),
        "lastUsedAt": _iso(k.last_used_at),
        "revokedAt": _iso(k.revoked_at),
        "expiresAt": _iso(k.expires_at),
    }


def _parse_create(body: bytes) -> tuple[str, list[str], int | None, str | None]:
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "Invalid JSON body") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Validation failed", details=[{"path": "", "message": "Expected an object"}])
    problems: list[dict[str, str]] = []
    name = data.get("name", DEFAULT_NAME)
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX:
        problems.append({"path": "name", "message": f"Expected a string of 1..{NAME_MAX} characters"})
    scopes = data.get("scopes", list(ADMIN_SCOPES))
    if not isinstance(scopes, list) or not all(isinstance(s, str) and 0 < len(s) <= SCOPE_MAX_LEN for s in scopes):
        problems.append({"path": "scopes", "message": "Expected an array of scope strings"})
        scopes = []
    else:
        problems.extend({"path": "scopes", "message": m} for m in validate_scopes(scopes))
    days = data.get("expiresInDays")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= EXPIRES_DAYS_MAX):
        problems.append({"path": "expiresInDays", "message": f"Expected an integer 1..{EXPIRES_DAYS_MAX}"})
    tenant = data.get("tenantId")
    if tenant is not None and (not isinstance(tenant, str) or not 1 <= len(tenant) <= TENANT_MAX):
        problems.append({"path": "tenantId", "message": f"Expected a string of 1..{TENANT_MAX} characters"})
    if problems:
        raise ApiError(400, "Validation failed", details=problems)
    return name, scopes, days, tenant


async def create_key(request: web.Request) -> web.Response:
    """201 with the raw key, shown this once; the database keeps only its SHA-256."""
    name, scopes, days, body_tenant = _parse_create(await read_json_bytes(request, KEYS_BODY_MAX))
    tenant = tenant_of(request)
    # like upstream: a tenant in the body counts only in dev mode (auth disabled)
    if body_tenant is not None and not request.app[settings_key].auth_required:
        tenant = body_tenant
    now_s = request.app[clock_key]() // 1_000_000
    expires_at = now_s + days * 86400 if days is not None else None
    raw, record = mint_key(tenant, name, scopes, now_s=now_s, expires_at=expires_at)
    await request.app[store_key].create_api_key(record)
    out = {"id": record.id, "key": raw, **{k: v for k, v in key_json(record).items() if k != "id"}}
    return json_response(out, status=201)


async def list_keys(request: web.Request) -> web.Response:
    keys = await request.app[store_key].list_api_keys(tenant_of(request))
    return json_response({"keys": [key_json(k) for k in keys]})


async def revoke_key(request: web.Request) -> web.Response:
    """Revoke (404 for an unknown key or another tenant's, 409 when already revoked)."""
    key_id = request.match_info["id"]
    now_s = request.app[clock_key]() // 1_000_000
    await request.app[store_key].revoke_api_key(tenant_of(request), key_id, now_s)
    request.app[authenticator_key].forget(key_id)
    return json_response({"id": key_id, "revoked": True})
