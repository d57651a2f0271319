"""Small HTTP helpers shared by handlers: JSON responses, bounded body reads, query parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from collector.appkeys import tenant_key
from collector.mapping.otlp_compression import BodyTooLarge as InflatedTooLarge
from collector.mapping.otlp_compression import CorruptBody, Inflater
from store.timefmt import parse_query_time

__all__ = (
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "REASONS",
    "ApiError",
    "BodyTooLarge",
    "comma_list",
    "error_response",
    "is_json_content_type",
    "json_response",
    "parse_bool",
    "parse_limit",
    "parse_offset",
    "parse_time_param",
    "read_limited",
    "tenant_of",
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_LEADING_INT = re.compile(r"\s*([+-]?\d+)")


def json_response(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response serialized with orjson (pre-serialized parts may be ``orjson.Fragment``)."""
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers,
    )


REASONS = {
    400: "Bad request",
    401: "Authentication required",
    403: "Insufficient permissions",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Too many requests",
    503: "Service unavailable",
}


def error_response(
    status: int, message: str, *, details: Sequence[Mapping[str, Any]] | None = None, hint: str | None = None,
    headers: Mapping[str, str] | None = None, extra: Mapping[str, Any] | None = None,
) -> web.Response:
    """The envelope ``{"error", "status", "details"?, "hint"?}`` (api.md §1)."""
    body: dict[str, Any] = {"error": message, "status": status}
    if details is not None:
        body["details"] = list(details)
    if hint is not None:
        body["hint"] = hint
    if extra:
        body.update(extra)
    return json_response(body, status=status, headers=headers)


class ApiError(Exception):
    """Raised by handlers for an expected failure with a client-facing message."""

    def __init__(
        self, status: int, message: str, *, details: Sequence[Mapping[str, Any]] | None = None,
        hint: str | None = None, headers: Mapping[str, str] | None = None, extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = headers
        self.extra = extra

    def response(self) -> web.Response:
        return error_response(
            self.status, self.message, details=self.details, hint=self.hint, headers=self.headers, extra=self.extra,
        )


def tenant_of(request: web.Request) -> str:
    """The caller's tenant, set by the auth middleware (never taken from the request body)."""
    tenant: str | None = request.get(tenant_key)
    if tenant is None:
        raise web.HTTPUnauthorized()
    return tenant


def is_json_content_type(request: web.Request) -> bool:
    return request.content_type.lower() == "application/json"


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body larger than {limit} bytes")
        self.limit = limit


_AIOHTTP_PREFIX = re.compile(r"^\d{3}, message:\s*")


async def read_limited(request: web.Request, limit: int, coding: str | None = None) -> bytes:
    """The body, with its Content-Encoding ``coding`` undone, failing as soon as it exceeds ``limit``.

    Raises ``BodyTooLarge`` past the limit (checked on the uncompressed bytes: a gzip bomb stops
    there, memory bounded) and ``CorruptBody`` when the body is not valid data for its coding or
    the stream broke. The application runs with ``auto_decompress=False``
    (``collector.security.HANDLER_ARGS``), so the stream holds the bytes as sent; ``coding`` comes
    from ``parse_content_encoding``.
    """
    length = request.content_length
    if length is not None and length > limit:
        raise BodyTooLarge(limit)
    stream = request.content
    inflater = Inflater(coding, limit) if coding is not None else None
    chunks: list[bytes] = []
    total = 0
    try:
        while True:
            chunk = await stream.readany()
            if not chunk:
                break
            if inflater is not None:
                chunk = inflater.feed(chunk)
            total += len(chunk)
            if total > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
        if inflater is not None:
            inflater.finish()
    except InflatedTooLarge:
        raise BodyTooLarge(limit) from None
    except (HttpProcessingError, RequestPayloadError) as exc:
        # the stream now holds the error: aiohttp would re-raise it while draining the rest of
        # the body and log it as unhandled; nothing more can be read
        stream.feed_eof()
        raise CorruptBody(f"cannot read the request body: {_AIOHTTP_PREFIX.sub('', str(exc)).strip()}") from None
    return b"".join(chunks)


def _js_parse_int(raw: str | None) -> int | None:
    """JavaScript ``parseInt``: leading integer digits, else None (NaN)."""
    if raw is None:
        return None
    m = _LEADING_INT.match(raw)
    return int(m[1]) if m else None


def parse_limit(raw: str | None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """Missing, non-numeric or 0 -> default; negative -> 1; above the maximum -> maximum."""
    value = _js_parse_int(raw)
    if not value:
        return default
    return max(1, min(value, maximum))


# larger offsets than any table can hold would overflow the databases' 64-bit integers (a 500)
MAX_OFFSET = 2**62


def parse_offset(raw: str | None) -> int:
    """Non-numeric or negative -> 0; beyond ``MAX_OFFSET`` -> ``MAX_OFFSET`` (an empty page)."""
    value = _js_parse_int(raw)
    return min(max(0, value or 0), MAX_OFFSET)


def parse_bool(raw: str | None) -> bool:
    return raw is not None and raw.strip().lower() in ("true", "1", "yes")


def comma_list(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    return tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))


def parse_time_param(query: Mapping[str, str], name: str) -> int | None:
    """``from``/``to`` style parameters: ISO 8601 or unix milliseconds; invalid -> 400."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_query_time(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid '{name}' parameter", hint=str(exc)) from exc
