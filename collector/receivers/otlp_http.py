"""POST /v1/traces, /v1/logs, /v1/metrics: the OTLP/HTTP receiver (otlp.md §1).

Steps per request, as the OpenTelemetry Collector's handler does them: method -> content type
-> content encoding -> bounded body -> decode + map (one call) -> pipeline (200 only after
commit) -> ``Export*ServiceResponse`` in the request's encoding. Every failure answers with a
``google.rpc.Status`` body in the request's encoding (JSON when the encoding is unknown).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Final, TypeVar

from aiohttp import web

from collector.appkeys import clock_key, metrics_key, pipeline_key, settings_key
from collector.auth import register_error_renderer
from collector.httputil import BodyTooLarge, read_limited, tenant_of
from collector.ingest.pipeline import Overloaded
from collector.mapping.otlp_compression import (
    SUPPORTED_ENCODINGS,
    CorruptBody,
    UnsupportedEncoding,
    parse_content_encoding,
)
from collector.mapping.otlp_memo import OtlpMemo
from collector.mapping.otlp_model import DecodeError
from collector.mapping.otlp_prices import PriceTable, load_price_table
from collector.mapping.otlp_request import map_request
from collector.mapping.otlp_spans import MappingResult
from collector.mapping.otlp_wire import (
    CONTENT_TYPES,
    GRPC_CODES,
    Encoding,
    Signal,
    export_response,
    media_encoding,
    status_body,
)
from collector.tempo.codec import new_spans
from store.errors import RetryableStoreError
from store.spans import NewSpan

__all__ = ("OtlpState", "add_routes", "otlp_state_key")

LOG = logging.getLogger("collector.otlp")
_T = TypeVar("_T")

# Bodies at least this large are decoded and mapped on the mapper thread so that the event loop
# keeps serving other requests meanwhile (docs/otlp.md "Decoding off the event loop").
OFFLOAD_BYTES: Final = 64 * 1024
_INFLATE_GUESS: Final = 8
_ALLOW: Final = "POST, OPTIONS"
_ACCEPT_ENCODING: Final = ", ".join(("identity", *SUPPORTED_ENCODINGS))
_PATHS: Final[tuple[tuple[str, Signal], ...]] = (
    ("/v1/traces", "traces"), ("/v1/logs", "logs"), ("/v1/metrics", "metrics"),
)
_HINT: Final = "OTLP/HTTP endpoints are POST /v1/traces, /v1/logs and /v1/metrics"


@dataclass(slots=True)
class OtlpState:
    """The receiver's shared state: the mapper's bounded memo, the price table, the mapper thread.

    One thread maps the large bodies, first come first served: a request waits for the ones
    before it instead of sharing the GIL with all of them, so each reaches the writer as soon as
    it can and the writer always has the next one (several threads made them finish together).
    """

    memo: OtlpMemo = field(default_factory=OtlpMemo)
    prices: PriceTable | None = None
    mapper: ThreadPoolExecutor | None = None

    async def offload(self, call: Callable[[], _T]) -> _T:
        if self.mapper is None:
            self.mapper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otlp-mapper")
        return await asyncio.get_running_loop().run_in_executor(self.mapper, call)


# TODO(foundation): move to collector/appkeys.py with the other keys.
otlp_state_key: Final = web.AppKey("otlp_state", OtlpState)


def add_routes(app: web.Application) -> None:
    """Register the OTLP routes, the /v1/ auth error renderer and the price table loader."""
    app[otlp_state_key] = OtlpState()
    app.on_startup.append(_load_prices)
    app.on_cleanup.append(_stop_mapper)
    for path, signal in _PATHS:
        app.router.add_route("*", path, partial(_handle, signal=signal))
    app.router.add_route("POST", "/", _not_found)
    app.router.add_route("*", "/v1/{tail:.*}", _not_found)
    register_error_renderer(app, "/v1/", _auth_failure)
    # CORS (preflights before auth, Allow-Origin and Expose-Headers: Retry-After on answers)
    # is handled for every route by collector.security.


async def _load_prices(app: web.Application) -> None:
    app[otlp_state_key].prices = load_price_table(app[settings_key].prices_file or None)


async def _stop_mapper(app: web.Application) -> None:
    state = app[otlp_state_key]
    if state.mapper is not None:
        state.mapper.shutdown(wait=True)
        state.mapper = None


# ------------------------------------------------------------------ the handler


async def _handle(request: web.Request, *, signal: Signal) -> web.StreamResponse:
    if request.method != "POST":  # CORS preflights never get here (collector.security)
        return _status(request, 405, "405 method not allowed, supported: [POST]", None, {"Allow": _ALLOW})
    encoding = media_encoding(request.headers.get("Content-Type"))
    if encoding is None:
        return _status(request, 415, "415 unsupported media type, supported: [application/json, "
                                     "application/x-protobuf]", None)
    try:
        coding = parse_content_encoding(request.headers.get("Content-Encoding"))
    except UnsupportedEncoding as exc:
        return _status(request, 415, str(exc), encoding, {"Accept-Encoding": _ACCEPT_ENCODING})
    app = request.app
    settings = app[settings_key]
    pipeline = app[pipeline_key]
    state = app[otlp_state_key]
    limit = settings.otlp_max_bytes
    tenant = tenant_of(request)
    try:
        pipeline.check_capacity()
        with pipeline.reserve(_budget(request.content_length, coding, limit)):
            try:
                body = await read_limited(request, limit, coding)
            except BodyTooLarge:
                return _too_large(request, limit, encoding)
            except CorruptBody as exc:
                response = _status(request, 400, str(exc), encoding)
                response.force_close()
                return response
            try:
                result = await _map(signal, encoding, body, tenant, state, now_ns=app[clock_key]() * 1000)
            except DecodeError as exc:
                return _status(request, 400, str(exc), encoding)
            spans = await _span_rows(result, tenant, state, offload=len(body) >= OFFLOAD_BYTES)
            del body
        if result.events or spans:
            # the spans (for the Tempo API) commit in the same transaction as their events
            await pipeline.submit(result.events, source="otlp", spans=spans)
    except Overloaded as exc:
        return _status(request, 503, str(exc), encoding, {"Retry-After": str(exc.retry_after)})
    except RetryableStoreError:
        return _status(request, 503, "database unavailable, retry later", encoding, {"Retry-After": "1"})
    if result.series_updates:
        state.memo.commit_series(result.series_updates)
    return web.Response(body=export_response(signal, encoding, result.rejected, result.error_message),
                        content_type=CONTENT_TYPES[encoding])


def _budget(content_length: int | None, coding: str | None, limit: int) -> int:
    """Bytes of the in-flight budget a request holds while it is read and mapped.

    The uncompressed size is what costs memory: a compressed body is assumed to inflate about
    eightfold (OTLP protobuf with gzip typically does 4-10x); a body without a length may reach
    the limit.
    """
    if content_length is None:
        return limit
    return min(limit, content_length * _INFLATE_GUESS if coding else content_length)


async def _map(signal: Signal, encoding: Encoding, body: bytes, tenant: str, state: OtlpState, *,
               now_ns: int) -> MappingResult:
    prices = state.prices
    if prices is None:  # an app that was never started (should not happen): load lazily
        prices = state.prices = load_price_table()
    call = partial(map_request, signal, encoding, body, tenant=tenant, memo=state.memo, prices=prices,
                   now_ns=now_ns)
    if len(body) >= OFFLOAD_BYTES:
        return await state.offload(call)
    return call()


async def _span_rows(result: MappingResult, tenant: str, state: OtlpState, *, offload: bool) -> list[NewSpan]:
    """The decoded spans as rows to store (collector.tempo.codec), off the event loop for big bodies."""
    if not result.spans:
        return []
    call = partial(new_spans, result.spans, result.owners, tenant)
    return await state.offload(call) if offload else call()


# ------------------------------------------------------------------ errors and CORS


def _status(request: web.Request, status: int, message: str, encoding: Encoding | None,
            headers: dict[str, str] | None = None) -> web.Response:
    """A ``google.rpc.Status`` error response in the request's encoding (JSON when unknown)."""
    enc: Encoding = encoding or media_encoding(request.headers.get("Content-Type")) or "json"
    if status >= 500 or status in (400, 413):
        LOG.info("OTLP %s %s -> %d: %s", request.method, request.path, status, message[:200])
    metrics = request.app.get(metrics_key)
    if metrics is not None:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "other"  # bounded label values
        metrics.requests_rejected.labels(route=route, status=str(status)).inc()
    return web.Response(status=status, body=status_body(GRPC_CODES.get(status, 2), message, enc),
                        content_type=CONTENT_TYPES[enc], headers=headers)


def _too_large(request: web.Request, limit: int, encoding: Encoding) -> web.Response:
    response = _status(request, 413, f"request body exceeds {limit} bytes after decompression "
                                     "(AGENTLENS_OTLP_MAX_BYTES)", encoding)
    response.force_close()
    return response


def _auth_failure(request: web.Request, status: int, message: str) -> web.StreamResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="agentlens"'} if status == 401 else None
    return _status(request, status, message, None, headers)


async def _not_found(request: web.Request) -> web.StreamResponse:
    return _status(request, 404, f"404 page not found: {request.path[:200]}. {_HINT}", None)
