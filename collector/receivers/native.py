"""POST /api/events: the AgentLens native ingest route (api.md §2)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from collector.appkeys import clock_key, pipeline_key, settings_key
from collector.httputil import ApiError, BodyTooLarge, is_json_content_type, json_response, read_limited, tenant_of
from collector.mapping.native import parse_ingest_body
from collector.mapping.otlp_compression import (
    SUPPORTED_ENCODINGS,
    CorruptBody,
    UnsupportedEncoding,
    parse_content_encoding,
)

__all__ = ("post_events",)

_ACCEPT_ENCODING: Final = ", ".join(("identity", *SUPPORTED_ENCODINGS))


async def post_events(request: web.Request) -> web.Response:
    """Validate, hand to the pipeline, and answer 201 only once the events are committed."""
    if not is_json_content_type(request):
        raise ApiError(415, "Content-Type must be application/json")
    try:
        coding = parse_content_encoding(request.headers.get("Content-Encoding"))
    except UnsupportedEncoding as exc:
        raise ApiError(415, f"{exc}; supported: {_ACCEPT_ENCODING}",
                       headers={"Accept-Encoding": _ACCEPT_ENCODING}) from None
    settings = request.app[settings_key]
    pipeline = request.app[pipeline_key]
    pipeline.check_capacity()
    limit = settings.max_body_bytes
    with pipeline.reserve(min(request.content_length or limit, limit)):
        try:
            body = await read_limited(request, limit, coding)
        except BodyTooLarge as exc:
            raise ApiError(413, "Request body too large", extra={"maxSize": exc.limit}) from None
        except CorruptBody as exc:
            raise ApiError(400, f"Cannot read the request body: {exc}") from None
        events = parse_ingest_body(body, tenant=tenant_of(request), now_us=request.app[clock_key])
        del body
    result = await pipeline.submit(events, source="native")
    out = []
    for o in result.outcomes:
        item: dict[str, object] = {"id": o.id, "hash": o.hash}
        if o.duplicate:
            item["duplicate"] = True
        out.append(item)
    return json_response({"ingested": result.inserted, "duplicates": result.duplicates, "events": out}, status=201)
