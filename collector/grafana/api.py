"""/grafana: the simpod JSON data source endpoints (grafana.md §2, reference §1a); read-only, tenant-scoped.

Errors are the API's JSON envelope with ``message`` too (the plugin shows ``message``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson
from aiohttp import web

from collector import __version__
from collector.appkeys import clock_key, store_key
from collector.grafana.catalog import DIMENSIONS, FILTER_KEYS, METRICS, metric_list
from collector.grafana.query import QueryError, TargetRequest, run_target
from collector.httputil import ApiError, BodyTooLarge, json_response, read_limited, tenant_of
from collector.mapping.otlp_compression import CorruptBody
from store.aggregates import EventAggQuery
from store.model import EVENT_TYPES
from store.timefmt import parse_query_time

__all__ = ("health", "metric_payload_options", "metrics", "query", "tag_keys", "tag_values", "variable")

MAX_BODY: Final = 1024 * 1024
MAX_TARGETS: Final = 100
HOUR_US: Final = 3_600_000_000
DEFAULT_LOOKBACK_US: Final = 30 * 24 * HOUR_US      # variables and tag values without a range
_ALL: Final = frozenset({"", "*", "$__all", "All", "all", "none"})
_LIST_ENDPOINTS: Final = {"agents": "agent", "models": "model", "providers": "provider", "tools": "tool",
                          "event_types": "event_type"}


def _bad(message: str) -> ApiError:
    return ApiError(400, message, extra={"message": message})


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        raw = await read_limited(request, MAX_BODY)
    except BodyTooLarge as exc:
        raise ApiError(413, str(exc), extra={"message": str(exc)}) from None
    except CorruptBody as exc:
        raise _bad(str(exc)) from None
    if not raw.strip():
        return {}
    return _json_object(raw, "the body")


def _json_object(raw: Any, what: str) -> dict[str, Any]:
    """``raw`` (JSON text, or an already parsed value) as an object; 400 naming ``what`` otherwise."""
    if isinstance(raw, str | bytes):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _bad(f"{what} is not JSON") from None
    if not isinstance(raw, dict):
        raise _bad(f"{what} must be a JSON object")
    return raw


def _time(value: Any, name: str) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) * 1000
    if not isinstance(value, str):
        raise _bad(f"range.{name} must be an ISO 8601 time or unix milliseconds")
    try:
        return parse_query_time(value)
    except ValueError as exc:
        raise _bad(f"invalid range.{name}: {exc}") from None


def _range(request: web.Request, body: Mapping[str, Any], default_us: int) -> tuple[int, int]:
    rng = body.get("range")
    now = request.app[clock_key]()
    if not isinstance(rng, dict) or rng.get("from") is None or rng.get("to") is None:
        return now - default_us, now
    start, end = _time(rng["from"], "from"), _time(rng["to"], "to")
    if start > end:
        raise _bad("range.from is after range.to")
    return start, end


def _scalar(value: Any) -> str | None:
    """A filter value; None for 'no filter' (empty, All, a multi-value selection)."""
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    if isinstance(value, bool) or value is None:
        return None
    text = str(value)
    return None if text in _ALL else text


def _adhoc(body: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in ("adhocFilters", "filters"):
        items = body.get(key)
        if not isinstance(items, list):
            continue
        for f in items:
            if isinstance(f, dict) and f.get("key") in DIMENSIONS and f.get("operator", "=") == "=":
                value = _scalar(f.get("value"))
                if value is not None:
                    out[str(f["key"])] = value
    return out


def _payload(raw: Any) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    return _json_object(raw, "the target's payload")


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "message": f"AgentLens Collector {__version__} JSON data source"})


async def metrics(request: web.Request) -> web.Response:
    await _body(request)
    return json_response(metric_list())


async def _values(request: web.Request, key: str, start: int, end: int) -> list[str]:
    if key == "event_type":
        return list(EVENT_TYPES)
    if key == "metric":
        return list(METRICS)
    dim = DIMENSIONS.get(key)
    if dim is None:
        raise _bad(f"unknown key {key!r}: use {', '.join(FILTER_KEYS)}")
    rows = await request.app[store_key].aggregate_events(
        tenant_of(request), EventAggQuery(start, end, group_by=(dim,)))  # type: ignore[arg-type]
    return sorted({r.keys[0] for r in rows if r.keys[0]})


async def metric_payload_options(request: web.Request) -> web.Response:
    body = await _body(request)
    name = str(body.get("name") or "")
    if name == "group_by":
        metric = METRICS.get(str(body.get("metric") or ""))
        groups = ["none", *(metric.group_by if metric else ())]
        return json_response([{"label": g, "value": g} for g in groups])
    if name == "format":
        return json_response([{"label": "time series", "value": "time_series"}, {"label": "table", "value": "table"}])
    start, end = _range(request, body, DEFAULT_LOOKBACK_US)
    values = await _values(request, name, start, end)
    return json_response([{"label": v, "value": v} for v in values])


async def query(request: web.Request) -> web.Response:
    body = await _body(request)
    start, end = _range(request, body, 6 * HOUR_US)
    adhoc = _adhoc(body)
    targets = body.get("targets")
    if not isinstance(targets, list):
        raise _bad("targets must be a list")
    if len(targets) > MAX_TARGETS:
        raise _bad(f"at most {MAX_TARGETS} targets per query")
    out: list[dict[str, Any]] = []
    for i, t in enumerate(targets):
        if not isinstance(t, dict) or t.get("hide") or not t.get("target"):
            continue
        payload = _payload(t.get("payload"))
        filters = {k: v for k in FILTER_KEYS if (v := _scalar(payload.get(k))) is not None}
        filters.update(adhoc)
        group = _scalar(payload.get("group_by"))
        req = TargetRequest(
            ref_id=str(t.get("refId") or chr(65 + i % 26)), metric=str(t["target"]), from_us=start, to_us=end,
            interval_ms=_int(body.get("intervalMs")), max_points=_int(body.get("maxDataPoints")),
            filters=filters, group_by=group, table=payload.get("format") == "table",
        )
        try:
            out.extend(await run_target(request.app[store_key], tenant_of(request), req))
        except QueryError as exc:
            raise _bad(str(exc)) from None
    return json_response(out)


async def variable(request: web.Request) -> web.Response:
    body = await _body(request)
    payload = body.get("payload")
    if isinstance(payload, dict):
        payload = payload.get("target") or payload.get("query") or payload.get("values")
    if isinstance(payload, str):
        payload = payload.strip()
        if payload.startswith("{"):
            inner = _payload(payload)
            payload = inner.get("target") or inner.get("query") or inner.get("values")
    key = _LIST_ENDPOINTS.get(str(payload), "metric" if payload == "metrics" else None)
    if key is None:
        raise _bad(f"unknown variable query {payload!r}: use {', '.join([*_LIST_ENDPOINTS, 'metrics'])}")
    start, end = _range(request, body, DEFAULT_LOOKBACK_US)
    return json_response([{"__text": v, "__value": v} for v in await _values(request, key, start, end)])


async def tag_keys(request: web.Request) -> web.Response:
    await _body(request)
    return json_response([{"type": "string", "text": k} for k in FILTER_KEYS])


async def tag_values(request: web.Request) -> web.Response:
    body = await _body(request)
    key = str(body.get("key") or "")
    start, end = _range(request, body, DEFAULT_LOOKBACK_US)
    return json_response([{"text": v} for v in await _values(request, key, start, end)])
