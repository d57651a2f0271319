"""Authentication and authorization middleware: API key -> tenant and role on every route (api.md §9)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from collector.appkeys import auth_renderers_key, authenticator_key, principal_key, settings_key, tenant_key
from collector.httputil import error_response
from collector.keys import KeyRejected, Principal, required_category

__all__ = (
    "DEFAULT_TENANT",
    "DEV_PRINCIPAL",
    "PUBLIC_PATHS",
    "TOKEN_QUERY_PATHS",
    "auth_middleware",
    "is_public",
    "register_error_renderer",
)

DEFAULT_TENANT = "default"
# auth disabled: everything runs as an admin of the default tenant
DEV_PRINCIPAL = Principal(None, DEFAULT_TENANT, "admin", ("*",))
# GET/HEAD on these answer without a key; /metrics too unless AGENTLENS_METRICS_AUTH is set
PUBLIC_PATHS = frozenset({"/api/health", "/api/openapi.json"})
# where the key may also come as ?token= (EventSource cannot send headers)
TOKEN_QUERY_PATHS = frozenset({"/api/stream"})

_HINT = "Provide an API key via the 'Authorization: Bearer als_...' header"
_TOKEN_HINT = _HINT + " or the ?token=als_... query parameter"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorRenderer = Callable[[web.Request, int, str], web.StreamResponse]


def register_error_renderer(app: web.Application, prefix: str, renderer: ErrorRenderer) -> None:
    """Let a protocol (OTLP: ``/v1/``) format 401/403 answers for its paths in its own error shape."""
    renderers = app.get(auth_renderers_key)
    if renderers is None:
        renderers = {}
        app[auth_renderers_key] = renderers
    renderers[prefix] = renderer


def is_public(method: str, path: str, *, metrics_auth: bool) -> bool:
    if method not in ("GET", "HEAD"):
        return False
    return path in PUBLIC_PATHS or (path == "/metrics" and not metrics_auth)


def _credential(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        return (value.strip() or None) if scheme.lower() == "bearer" else None
    if request.path in TOKEN_QUERY_PATHS:
        return request.query.get("token") or None
    return None


def _reject(request: web.Request, status: int, message: str, **extra: str) -> web.StreamResponse:
    for prefix, renderer in (request.app.get(auth_renderers_key) or {}).items():
        if request.path.startswith(prefix):
            return renderer(request, status, message)
    hint = _TOKEN_HINT if request.path in TOKEN_QUERY_PATHS else _HINT
    if status == 403:
        hint = f"This request needs the '{extra['required']}' permission; the key's role '{extra['current']}' lacks it"
    headers = {"WWW-Authenticate": 'Bearer realm="agentlens"'} if status == 401 else None
    return error_response(status, message, hint=hint, extra=extra or None, headers=headers)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the caller (tenant, role) from the API key, or refuse with 401/403."""
    settings = request.app[settings_key]
    if not settings.auth_required:
        request[tenant_key] = DEFAULT_TENANT
        request[principal_key] = DEV_PRINCIPAL
        return await handler(request)
    if is_public(request.method, request.path, metrics_auth=settings.metrics_auth):
        return await handler(request)
    raw = _credential(request)
    if raw is None:
        return _reject(request, 401, "Authentication required")
    try:
        principal = await request.app[authenticator_key].authenticate(raw)
    except KeyRejected as exc:
        return _reject(request, 401, str(exc))
    needed = required_category(request.method, request.path)
    if not principal.may(needed):
        return _reject(request, 403, "Insufficient permissions", required=needed, current=principal.role)
    request[tenant_key] = principal.tenant
    request[principal_key] = principal
    return await handler(request)
