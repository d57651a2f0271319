"""GET/PUT /api/config: the caller's tenant settings in config_kv (api.md §7, upstream §5.11)."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from collector.api.bodies import js_int, read_json, validate
from collector.appkeys import jobs_key, store_key
from collector.httputil import json_response, tenant_of
from collector.jobs.retention import MAX_RETENTION_DAYS, RETENTION_DAYS_KEY
from collector.mapping.errors import ValidationFailed
from collector.mapping.validate import quote

__all__ = ("get_config", "put_config")

# upstream's integration settings: accepted (and checked like upstream) so that an AgentLens
# dashboard can save its settings page, but ignored: the collector has no such integrations.
_IGNORED_UPSTREAM_KEYS = ("agentGateUrl", "agentGateSecret", "formBridgeUrl", "formBridgeSecret")


class ConfigBody(TypedDict, total=False):
    __pydantic_config__ = ConfigDict(strict=True)  # type: ignore[misc]
    retentionDays: Annotated[int, BeforeValidator(js_int), Field(ge=0, le=MAX_RETENTION_DAYS)]
    agentGateUrl: Annotated[str, StringConstraints(max_length=2048)]
    agentGateSecret: Annotated[str, StringConstraints(max_length=512)]
    formBridgeUrl: Annotated[str, StringConstraints(max_length=2048)]
    formBridgeSecret: Annotated[str, StringConstraints(max_length=512)]


_BODY = TypeAdapter(ConfigBody)
_KNOWN = frozenset(ConfigBody.__annotations__)


async def _config_json(request: web.Request, tenant: str) -> dict[str, Any]:
    return {"retentionDays": await request.app[jobs_key].retention.policy_days(tenant)}


async def get_config(request: web.Request) -> web.Response:
    """``retentionDays`` is the value retention applies: the tenant's stored one, else RETENTION_DAYS."""
    return json_response(await _config_json(request, tenant_of(request)))


async def put_config(request: web.Request) -> web.Response:
    """Store ``retentionDays`` for the caller's tenant; the next retention run uses it."""
    tenant = tenant_of(request)
    raw = await read_json(request)
    problems: list[tuple[str, str]] = []
    if isinstance(raw, dict):
        unknown = [k for k in raw if k not in _KNOWN]
        if unknown:
            problems.append(("", f"Unrecognized key(s) in object: {', '.join(quote(k) for k in unknown[:20])}"))
    try:
        body = validate(_BODY, raw)
    except ValidationFailed as exc:
        problems.extend(exc.details)
    if problems:
        raise ValidationFailed(problems)
    if "retentionDays" in body:
        await request.app[store_key].put_settings(tenant, {RETENTION_DAYS_KEY: str(body["retentionDays"])})
    return json_response({"ok": True, **await _config_json(request, tenant)})
