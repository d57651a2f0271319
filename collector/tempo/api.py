"""GET /tempo/api/*: the Tempo HTTP API subset Grafana's built-in Tempo data source calls (grafana.md §1).

Errors are plain text with the status, as Tempo answers them (Grafana shows the body).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aiohttp import web

from collector import __version__
from collector.appkeys import store_key
from collector.httputil import json_response, tenant_of
from collector.mapping.otlp_model import Span
from collector.mapping.otlp_wire import varint
from collector.tempo.codec import traces_data, traces_json
from collector.tempo.match import leaves
from collector.tempo.search import SearchRequest, search
from collector.tempo.tags import tag_names, tag_values
from collector.tempo.traceql import Query, TraceQLError, Unsupported, parse_legacy, parse_traceql
from collector.tempo.traces import load_trace, normalize_trace_id
from store.spans import INT64_MAX

__all__ = (
    "buildinfo",
    "echo",
    "search_tag_values",
    "search_tag_values_v2",
    "search_tags",
    "search_tags_v2",
    "search_traces",
    "trace_by_id",
    "trace_by_id_v2",
)

TEMPO_VERSION: Final = "2.6.0"   # the Tempo API level we answer like (Grafana reads it from buildinfo)
MAX_LIMIT: Final = 1000
MAX_SPSS: Final = 1000
PROTOBUF: Final = "application/protobuf"


class _BadRequest(Exception):
    pass


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain")


def _int(query: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = query.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        try:
            return int(float(raw))
        except (ValueError, OverflowError):
            raise _BadRequest(f"invalid {name} {raw[:40]!r}: expected an integer") from None


def _window(query: Mapping[str, str]) -> tuple[int, int]:
    """``start``/``end`` (unix seconds, inclusive) as a nanosecond window."""
    start, end = _int(query, "start", None), _int(query, "end", None)
    top = INT64_MAX // 1_000_000_000 - 1
    start_ns = 0 if start is None else max(0, min(start, top)) * 1_000_000_000
    end_ns = INT64_MAX if end is None else max(0, min(end, top)) * 1_000_000_000 + 999_999_999
    if end is not None and start is not None and end < start:
        raise _BadRequest("end is before start")
    return start_ns, end_ns


def _wants_protobuf(request: web.Request) -> bool:
    return "protobuf" in request.headers.get("Accept", "").lower()


async def echo(request: web.Request) -> web.Response:
    return _text(200, "echo")


async def buildinfo(request: web.Request) -> web.Response:
    info = {"version": TEMPO_VERSION, "revision": f"agentlens-collector-{__version__}", "branch": "agentlens",
            "buildUser": "agentlens", "buildDate": "", "goVersion": ""}
    # Tempo answers the fields at the top level; the Prometheus-style wrapper is kept for clients reading it
    return json_response({**info, "status": "success", "data": info})


async def _trace(request: web.Request) -> list[Span] | web.Response:
    trace_id = normalize_trace_id(request.match_info["traceId"])
    if trace_id is None:
        return _text(400, "invalid trace id: expected up to 32 hexadecimal digits")
    spans = await load_trace(request.app[store_key], tenant_of(request), trace_id)
    if spans is None:
        return _text(404, "trace not found")
    return spans


async def trace_by_id(request: web.Request) -> web.Response:
    """v1: bare OTLP ``TracesData`` (= ``tempopb.Trace``) with a protobuf Accept header, OTLP JSON otherwise."""
    spans = await _trace(request)
    if isinstance(spans, web.Response):
        return spans
    if _wants_protobuf(request):
        return web.Response(body=traces_data(spans).SerializeToString(), content_type=PROTOBUF)
    return json_response(traces_json(spans))


async def trace_by_id_v2(request: web.Request) -> web.Response:
    """v2: ``TraceByIDResponse`` with the trace in field 1 (protobuf), or ``{"trace": ...}`` as JSON."""
    spans = await _trace(request)
    if isinstance(spans, web.Response):
        return spans
    if _wants_protobuf(request):
        payload = traces_data(spans).SerializeToString()
        return web.Response(body=b"\x0a" + varint(len(payload)) + payload, content_type=PROTOBUF)
    return json_response({"trace": traces_json(spans)})


def _query(params: Mapping[str, str]) -> Query:
    q = params.get("q", "").strip()
    if q:
        return parse_traceql(q)
    return parse_legacy(params.get("tags"), params.get("minDuration"), params.get("maxDuration"))


async def search_traces(request: web.Request) -> web.Response:
    params = request.query
    try:
        query = _query(params)
        limit = max(1, min(_int(params, "limit", 20) or 20, MAX_LIMIT))
        spss = max(1, min(_int(params, "spss", 3) or 3, MAX_SPSS))
        start_ns, end_ns = _window(params)
    except Unsupported as exc:
        return _text(400, f"unsupported TraceQL: {exc}")
    except (TraceQLError, _BadRequest) as exc:
        return _text(400, f"invalid query: {exc}")
    req = SearchRequest(query, limit=limit, spss=spss, start_ns=start_ns, end_ns=end_ns)
    return json_response(await search(request.app[store_key], tenant_of(request), req))


async def _names(request: web.Request) -> dict[str, list[str]] | web.Response:
    try:
        start_ns, end_ns = _window(request.query)
    except _BadRequest as exc:
        return _text(400, str(exc))
    scopes = await tag_names(request.app[store_key], tenant_of(request), start_ns, end_ns)
    scope = request.query.get("scope", "").strip()
    if scope and scope not in ("all", "none"):
        scopes = {k: v for k, v in scopes.items() if k == scope}
    return scopes


async def search_tags(request: web.Request) -> web.Response:
    scopes = await _names(request)
    if isinstance(scopes, web.Response):
        return scopes
    names = sorted({n for scope, values in scopes.items() if scope != "intrinsic" for n in values})
    return json_response({"tagNames": names})


async def search_tags_v2(request: web.Request) -> web.Response:
    scopes = await _names(request)
    if isinstance(scopes, web.Response):
        return scopes
    return json_response({"scopes": [{"name": k, "tags": v} for k, v in scopes.items()]})


async def _values(request: web.Request, tag: str) -> list[tuple[str, str]] | web.Response:
    try:
        start_ns, end_ns = _window(request.query)
        q = request.query.get("q", "").strip()
        parsed = parse_traceql(q) if q else True
    except Unsupported as exc:
        return _text(400, f"unsupported TraceQL: {exc}")
    except (TraceQLError, _BadRequest) as exc:
        return _text(400, f"invalid query: {exc}")
    spansets = leaves(parsed)
    where = spansets[0] if len(spansets) == 1 else True
    return await tag_values(request.app[store_key], tenant_of(request), tag, (start_ns, end_ns), where)


async def search_tag_values(request: web.Request) -> web.Response:
    values = await _values(request, request.match_info["tag"])
    if isinstance(values, web.Response):
        return values
    return json_response({"tagValues": list(dict.fromkeys(v for _, v in values))})


async def search_tag_values_v2(request: web.Request) -> web.Response:
    values = await _values(request, request.match_info["tag"])
    if isinstance(values, web.Response):
        return values
    return json_response({"tagValues": [{"type": t, "value": v} for t, v in values]})
