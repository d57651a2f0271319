"""JSON request bodies of the management routes: bounded reads and pydantic checks reported like zod."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from collector.httputil import ApiError, BodyTooLarge, is_json_content_type, read_limited
from collector.mapping.errors import InvalidJson, ValidationFailed
from collector.mapping.otlp_compression import CorruptBody
from collector.mapping.validate import quote, type_name

__all__ = (
    "MANAGEMENT_BODY_LIMIT",
    "js_int",
    "read_json",
    "read_json_bytes",
    "storable_text",
    "validate",
    "zod_message",
)

T = TypeVar("T")

# upstream's global 1 MB body limit; these bodies are a few hundred bytes.
MANAGEMENT_BODY_LIMIT = 1024 * 1024

_EXPECTED = {
    "string_type": "string", "float_type": "number", "bool_type": "boolean", "list_type": "array",
    "dict_type": "object", "typed_dict_type": "object", "model_type": "object",
}
# pydantic error type -> (its ctx key holding the bound, zod's message around that bound)
_BOUNDS = {
    "string_too_short": ("min_length", "String must contain at least {} character(s)"),
    "string_too_long": ("max_length", "String must contain at most {} character(s)"),
    "too_long": ("max_length", "Array must contain at most {} element(s)"),
    "greater_than_equal": ("ge", "Number must be greater than or equal to {}"),
    "less_than_equal": ("le", "Number must be less than or equal to {}"),
}


async def read_json_bytes(request: web.Request, limit: int = MANAGEMENT_BODY_LIMIT) -> bytes:
    """The raw body of a JSON request, unparsed; 415 or 413 otherwise."""
    if not is_json_content_type(request):
        raise ApiError(415, "Content-Type must be application/json")
    try:
        return await read_limited(request, limit)
    except BodyTooLarge as exc:
        raise ApiError(413, "Request body too large", extra={"maxSize": exc.limit}) from exc
    except CorruptBody as exc:  # the stream broke (no Content-Encoding is decoded here)
        raise ApiError(400, str(exc)) from None


async def read_json(request: web.Request, limit: int = MANAGEMENT_BODY_LIMIT) -> Any:
    """The parsed body; 415, 413 or ``InvalidJson`` (400) otherwise."""
    raw = await read_json_bytes(request, limit)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(str(exc)) from exc


def validate(adapter: TypeAdapter[T], value: Any) -> T:
    """``adapter.validate_python(value)``; failures become ``ValidationFailed`` with zod-style details."""
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise ValidationFailed(
            (".".join(str(p) for p in err["loc"]), zod_message(err)) for err in exc.errors(include_url=False)
        ) from None


def zod_message(err: Any) -> str:
    """The message zod 3 would give for this pydantic error (upstream clients show these)."""
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    if kind == "missing":
        return "Required"
    if kind in _EXPECTED:
        return f"Expected {_EXPECTED[kind]}, received {type_name(value)}"
    if kind == "int_type":
        if isinstance(value, float):
            return "Expected integer, received float"
        return f"Expected number, received {type_name(value)}"
    if kind in _BOUNDS:
        bound, template = _BOUNDS[kind]
        return template.format(_num(ctx[bound]))
    if kind == "finite_number":
        return "Number must be finite"
    if kind == "literal_error":
        listing = str(ctx.get("expected", "")).replace(" or ", " | ").replace(", ", " | ")
        if isinstance(value, str):
            return f"Invalid enum value. Expected {listing}, received {quote(value)}"
        return f"Expected {listing}, received {type_name(value)}"
    if kind == "value_error":
        return str(ctx.get("error", err.get("msg", "Invalid input")))
    return str(err.get("msg", "Invalid input"))


def _num(v: Any) -> str:
    """A bound as JavaScript prints it (``0``, not ``0.0``)."""
    return str(int(v)) if isinstance(v, int | float) and float(v).is_integer() else str(v)


def js_int(value: Any) -> Any:
    """A BeforeValidator: an integral float (``5.0``) is the integer JavaScript sees; others pass through."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def storable_text(value: str) -> str:
    """An AfterValidator for strings stored as text: no NUL, no unpaired surrogates (PostgreSQL refuses both)."""
    if "\x00" in value:
        raise ValueError("String must not contain NUL (U+0000) characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("String must not contain unpaired surrogates (invalid UTF-16)") from None
    return value
