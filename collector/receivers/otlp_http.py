"""POST /v1/traces, /v1/logs, /v1/metrics: the OTLP/HTTP receiver (otlp.md §1).

Steps per request, as the OpenTelemetry Collector's handler does them: method -> content type
-> content encoding -> bounded body -> decode + map (one call) -> pipeline (200 only after
commit) -> ``Export*ServiceResponse`` in the request's encoding. Every failure answers with a
``google.rpc.Status`` body in the request's encoding (JSON when the encoding is unknown).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Final

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
from collector.mapping.otlp_model import DecodeError
from collector.mapping.otlp_prices import load_price_table
from collector.mapping.otlp_wire import (
    CONTENT_TYPES,
    GRPC_CODES,
    Encoding,
    Signal,
    export_response,
    media_encoding,
    status_body,
)
from collector.receivers.otlp_mapper import Mapper, MapperUnavailable, ProcessMapper, ThreadMapper
from store.errors import RetryableStoreError

__all__ = ("OtlpState", "add_routes", "otlp_state_key")

LOG = logging.getLogger("collector.otlp")

_INFLATE_GUESS: Final = 8
_ALLOW: Final = "POST, OPTIONS"
_ACCEPT_ENCODING: Final = ", ".join(("identity", *SUPPORTED_ENCODINGS))
_PATHS: Final[tuple[tuple[str, Signal], ...]] = (
    ("/v1/traces", "traces"), ("/v1/logs", "logs"), ("/v1/metrics", "metrics"),
)
_HINT: Final = "OTLP/HTTP endpoints are POST /v1/traces, /v1/logs and /v1/metrics"


@dataclass(slots=True)
class OtlpState:
    """The receiver's shared state: its mapper (collector.receivers.otlp_mapper), from startup to cleanup."""

    mapper: Mapper | None = None

    def running_mapper(self) -> Mapper:
        if self.mapper is None:  # an app that was never started (should not happen): map in this process
            self.mapper = ThreadMapper(load_price_table())
        return self.mapper


# TODO(foundation): move to collector/appkeys.py with the other keys.
otlp_state_key: Final = web.AppKey("otlp_state", OtlpState)


def add_routes(app: web.Application) -> None:
    """Register the OTLP routes, the /v1/ auth error renderer and the price table loader."""
    app[otlp_state_key] = OtlpState()
    app.on_startup.append(_start_mapper)
    app.on_cleanup.append(_stop_mapper)
    for path, signal in _PATHS:
        app.router.add_route("*", path, partial(_handle, signal=signal))
    app.router.add_route("POST", "/", _not_found)
    app.router.add_route("*", "/v1/{tail:.*}", _not_found)
    register_error_renderer(app, "/v1/", _auth_failure)
    # CORS (preflights before auth, Allow-Origin and Expose-Headers: Retry-After on answers)
    # is handled for every route by collector.security.


async def _start_mapper(app: web.Application) -> None:
    settings = app[settings_key]
    prices = load_price_table(settings.prices_file or None)  # a bad file fails the start, in either mode
    state = app[otlp_state_key]
    state.mapper = ProcessMapper(settings.prices_file) if settings.otlp_mapper == "process" else ThreadMapper(prices)


async def _stop_mapper(app: web.Application) -> None:
    state = app[otlp_state_key]
    if state.mapper is not None:
        state.mapper.close()
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
    mapper = app[otlp_state_key].running_mapper()
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
                result = await mapper.map(signal, encoding, body, tenant=tenant, now_ns=app[clock_key]() * 1000)
            except DecodeError as exc:
                return _status(request, 400, str(exc), encoding)
            del body
        if result.events or result.spans:
            # the spans (for the Tempo API) commit in the same transaction as their events
            await pipeline.submit(result.events, source="otlp", spans=result.spans)
    except Overloaded as exc:
        return _status(request, 503, str(exc), encoding, {"Retry-After": str(exc.retry_after)})
    except RetryableStoreError:
        return _status(request, 503, "database unavailable, retry later", encoding, {"Retry-After": "1"})
    except MapperUnavailable as exc:
        return _status(request, 503, str(exc), encoding, {"Retry-After": "1"})
    if result.series_updates:
        mapper.commit_series(result.series_updates)
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
