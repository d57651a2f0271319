"""Authentication middleware: resolves the caller's tenant (auth disabled: the ``default`` tenant)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from collector.appkeys import tenant_key

__all__ = ("DEFAULT_TENANT", "auth_middleware")

DEFAULT_TENANT = "default"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[tenant_key] = DEFAULT_TENANT
    return await handler(request)
