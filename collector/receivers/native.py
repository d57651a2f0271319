"""POST /api/events: the AgentLens native ingest route (api.md §2)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from collector.appkeys import clock_key, pipeline_key, settings_key
from collector.httputil import ApiError, is_json_content_type, json_response, tenant_of
from collector.mapping.native import parse_ingest_body
from collector.mapping.otlp_compression import (
    SUPPORTED_ENCODINGS,
    BodyTooLarge,
    CorruptBody,
    UnsupportedEncoding,
    parse_content_encoding,
)
from collector.receivers.body import StreamBroken, read_body

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
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    with pipeline.reserve(min(request.content_length or limit, limit)):
        try:
            body = await read_body(request, coding, limit)
        except BodyTooLarge:
            raise _too_large(limit) from None
        except CorruptBody as exc:
            if isinstance(exc, StreamBroken):
                request.content.feed_eof()
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


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "Request body too large", extra={"maxSize": limit})
