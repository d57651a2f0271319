"""Hardening: security headers on every response, CORS for configured origins, body time limit, HTTP limits."""

from __future__ import annotations

import asyncio
import fnmatch
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web

from collector.appkeys import settings_key
from collector.config import Settings
from collector.httputil import error_response

__all__ = (
    "HANDLER_ARGS",
    "body_timeout_middleware",
    "cors_headers",
    "cors_middleware",
    "preflight_response",
    "setup_security",
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# aiohttp's HTTP parser limits (web.Application(handler_args=...)): a request line or header field
# above 8 KiB, or more than 100 header fields, is refused by the parser; idle keep-alive
# connections are closed after 75 s. Bodies are not inflated by aiohttp: the ingest routes undo
# their Content-Encoding themselves, bounded (collector.httputil.read_limited), so that a corrupt or
# oversized compressed body gets our 400/413 answer instead of a bare parser error.
HANDLER_ARGS: dict[str, Any] = {
    "auto_decompress": False,
    "max_line_size": 8190,
    "max_field_size": 8190,
    "max_headers": 100,
    "keepalive_timeout": 75.0,
}

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_ALLOW_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
_DEFAULT_ALLOW_HEADERS = "Authorization, Content-Type, Content-Encoding, Accept, X-Requested-With"
_EXPOSE_HEADERS = "Retry-After"
_TOKEN_LIST = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*")
PREFLIGHT_MAX_AGE = "600"


def setup_security(app: web.Application) -> None:
    """Install the response hook that adds security and CORS headers to every response."""
    app.on_response_prepare.append(_on_response_prepare)


def _allowed_origin(settings: Settings, origin: str | None) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for this origin, or ``None`` when it is not allowed."""
    if not origin:
        return None
    allowed = settings.cors_origin_list
    if "*" in allowed:
        return "*"
    # exact origins, or patterns such as https://*.example.com
    if any(a == origin or ("*" in a and fnmatch.fnmatchcase(origin, a)) for a in allowed):
        return origin
    return None


def cors_headers(request: web.Request) -> dict[str, str]:
    """CORS headers for an actual (non-preflight) response; empty when the origin is not configured."""
    settings = request.app[settings_key]
    if not settings.cors_origin_list or hdrs.ORIGIN not in request.headers:
        return {}
    out = {"Vary": "Origin"}
    value = _allowed_origin(settings, request.headers.get(hdrs.ORIGIN))
    if value is not None:
        out["Access-Control-Allow-Origin"] = value
        out["Access-Control-Expose-Headers"] = _EXPOSE_HEADERS
    return out


def is_preflight(request: web.Request) -> bool:
    return (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ORIGIN in request.headers
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
    )


def preflight_response(request: web.Request) -> web.Response:
    """204 with the allowed methods and headers for a configured origin; 403 for any other."""
    value = _allowed_origin(request.app[settings_key], request.headers.get(hdrs.ORIGIN))
    if value is None:
        return error_response(403, "CORS origin not allowed", hint="Add it to AGENTLENS_CORS_ORIGINS")
    requested = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS, "").strip()
    allow_headers = requested if requested and _TOKEN_LIST.fullmatch(requested) else _DEFAULT_ALLOW_HEADERS
    return web.Response(status=204, headers={
        "Access-Control-Allow-Origin": value,
        "Access-Control-Allow-Methods": _ALLOW_METHODS,
        "Access-Control-Allow-Headers": allow_headers,
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    })


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer CORS preflights (before authentication: browsers send them without credentials)."""
    if is_preflight(request):
        return preflight_response(request)
    return await handler(request)


async def _on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    for name, value in _SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if response.content_type == "application/json" and hdrs.CACHE_CONTROL not in headers:
        headers[hdrs.CACHE_CONTROL] = "no-store"
    if "Access-Control-Allow-Origin" not in headers:
        for name, value in cors_headers(request).items():
            if name == "Vary" and "Vary" in headers:
                if "Origin" not in headers["Vary"]:
                    headers["Vary"] = f"{headers['Vary']}, Origin"
                continue
            headers[name] = value


@web.middleware
async def body_timeout_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """408 when a request body has not fully arrived within ``request_timeout_seconds``.

    Only the arrival of the body is timed: once it is complete (or for requests without one) the
    handler may take as long as it needs, so long reads and the live stream are unaffected.
    """
    if request.content.is_eof():
        return await handler(request)
    task = asyncio.current_task()
    assert task is not None
    timed_out = False

    def on_deadline() -> None:
        nonlocal timed_out
        if not request.content.is_eof():
            timed_out = True
            task.cancel()

    deadline = asyncio.get_running_loop().call_later(request.app[settings_key].request_timeout_seconds, on_deadline)
    try:
        return await handler(request)
    except asyncio.CancelledError:
        if not timed_out:
            raise
        task.uncancel()
        response = error_response(408, "Request timeout", hint="The request body did not arrive in time")
        response.force_close()
        return response
    finally:
        deadline.cancel()
