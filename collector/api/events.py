"""GET /api/events and /api/events/{id}: parse the query, ask the store, serialize."""

from __future__ import annotations

from aiohttp import web

from collector.api.serialize import event_json
from collector.appkeys import store_key
from collector.httputil import (
    ApiError,
    comma_list,
    json_response,
    parse_bool,
    parse_limit,
    parse_offset,
    parse_time_param,
    tenant_of,
)
from store.model import EventQuery

__all__ = ("get_event", "list_events", "parse_event_query")

_SEARCH_MAX = 500


def _like_pattern(term: str) -> str:
    """``%term%`` with ``\\ % _`` taken literally (escaped with a backslash)."""
    term = term[:_SEARCH_MAX].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{term}%"


def parse_event_query(request: web.Request) -> EventQuery:
    qs = request.query
    order = qs.get("order", "desc").lower()
    if order not in ("asc", "desc"):
        raise ApiError(400, "Invalid 'order' parameter", hint="use asc or desc")
    search = qs.get("search")
    return EventQuery(
        session_id=qs.get("sessionId") or None,
        agent_id=qs.get("agentId") or None,
        event_types=comma_list(qs.get("eventType")),
        severities=comma_list(qs.get("severity")),
        from_us=parse_time_param(qs, "from"),
        to_us=parse_time_param(qs, "to"),
        search=_like_pattern(search) if search else None,
        exclude_metrics=parse_bool(qs.get("excludeMetrics")),
        limit=parse_limit(qs.get("limit")),
        offset=parse_offset(qs.get("offset")),
        order="asc" if order == "asc" else "desc",
    )


async def list_events(request: web.Request) -> web.Response:
    page = await request.app[store_key].query_events(tenant_of(request), parse_event_query(request))
    return json_response(
        {"events": [event_json(e) for e in page.events], "total": page.total, "hasMore": page.has_more}
    )


async def get_event(request: web.Request) -> web.Response:
    event = await request.app[store_key].get_event(tenant_of(request), request.match_info["id"])
    if event is None:
        raise ApiError(404, "Event not found")
    return json_response(event_json(event))
