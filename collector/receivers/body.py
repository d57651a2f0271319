"""Request bodies of the ingest routes: undo the Content-Encoding, never holding more than a limit."""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from collector.mapping.otlp_compression import BodyTooLarge, CorruptBody, Inflater

__all__ = ("StreamBroken", "read_body")

_AIOHTTP_PREFIX: Final = re.compile(r"^\d{3}, message:\s*")


class StreamBroken(CorruptBody):
    """aiohttp itself failed to decode the body; its stream now holds the error.

    Answer and ``request.content.feed_eof()``: nothing more can be read, and aiohttp would
    otherwise re-raise the stored error while draining the rest and log it as unhandled.
    """


async def read_body(request: web.Request, coding: str | None, limit: int) -> bytes:
    """The uncompressed body (``coding`` from ``parse_content_encoding``), at most ``limit`` bytes.

    Raises ``BodyTooLarge`` past the limit (a gzip bomb stops there, memory bounded) and
    ``CorruptBody`` when the body is not valid data for its coding. The application runs with
    ``auto_decompress=False`` (``collector.security.HANDLER_ARGS``, which aiohttp applies under
    any runner), so the stream holds the bytes as sent.
    """
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
                raise BodyTooLarge(f"body exceeds {limit} bytes")
            chunks.append(chunk)
    except (HttpProcessingError, RequestPayloadError) as exc:
        text = _AIOHTTP_PREFIX.sub("", str(exc)).strip()
        if "size" in text.lower() and "decompress" in text.lower():
            raise BodyTooLarge(text) from None
        raise StreamBroken(f"cannot read the request body: {text}") from None
    if inflater is not None:
        inflater.finish()
    return b"".join(chunks)
