"""GET /api/sessions, /api/sessions/{id}, its timeline and its chain verification."""

from __future__ import annotations

import orjson
from aiohttp import web

from collector.api.serialize import event_json, session_json, verification_json
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
from store.model import SessionQuery

__all__ = ("get_session", "list_sessions", "session_timeline", "verify_session")

_STATUSES = frozenset({"active", "idle", "completed", "error"})
TIMELINE_CHUNK = 1000
TIMELINE_MAX_LIMIT = 10_000


def _session_query(request: web.Request) -> SessionQuery:
    qs = request.query
    statuses = comma_list(qs.get("status"))
    unknown = [s for s in statuses if s not in _STATUSES]
    if unknown:
        raise ApiError(400, "Invalid 'status' parameter", hint=f"use {', '.join(sorted(_STATUSES))}")
    return SessionQuery(
        agent_id=qs.get("agentId") or None,
        statuses=statuses,
        from_us=parse_time_param(qs, "from"),
        to_us=parse_time_param(qs, "to"),
        tags=comma_list(qs.get("tags")),
        limit=parse_limit(qs.get("limit")),
        offset=parse_offset(qs.get("offset")),
    )


async def list_sessions(request: web.Request) -> web.Response:
    store = request.app[store_key]
    tenant = tenant_of(request)
    query = _session_query(request)
    if parse_bool(request.query.get("countOnly")):
        return json_response({"count": await store.count_sessions(tenant, query)})
    page = await store.query_sessions(tenant, query)
    return json_response(
        {"sessions": [session_json(s) for s in page.sessions], "total": page.total, "hasMore": page.has_more}
    )


async def get_session(request: web.Request) -> web.Response:
    session = await request.app[store_key].get_session(tenant_of(request), request.match_info["id"])
    if session is None:
        raise ApiError(404, "Session not found")
    return json_response(session_json(session))


async def verify_session(request: web.Request) -> web.Response:
    result = await request.app[store_key].verify_session(tenant_of(request), request.match_info["id"])
    if result is None:
        raise ApiError(404, "Session not found")
    return json_response(verification_json(result))


async def session_timeline(request: web.Request) -> web.StreamResponse:
    """Events in time order plus ``chainValid``; long sessions are streamed chunk by chunk."""
    store = request.app[store_key]
    tenant = tenant_of(request)
    session_id = request.match_info["id"]
    raw_limit = request.query.get("limit")
    after = request.query.get("after") or None
    paged = raw_limit is not None or after is not None
    # One snapshot reads the whole (short) session and verifies it; long ones are verified in
    # chunks and their events streamed afterwards.
    found = await store.get_verified_timeline(tenant, session_id, max_events=0 if paged else TIMELINE_CHUNK)
    if found is None:
        raise ApiError(404, "Session not found")
    tail = {"chainValid": found.verification.valid, "chained": True}
    if paged:
        limit = parse_limit(raw_limit, default=TIMELINE_CHUNK, maximum=TIMELINE_MAX_LIMIT)
        events = await store.get_session_timeline(tenant, session_id, limit=limit, after=after)
        body = {"events": [event_json(e) for e in events], **tail, "hasMore": len(events) == limit}
        if events:
            body["nextAfter"] = events[-1].id
        return json_response(body)
    if found.events is not None:
        valid = found.verification.valid  # every hash was recomputed from the text being sent
        return json_response({"events": [event_json(e, verified=valid) for e in found.events], **tail})

    chunks = store.iter_session_timeline(tenant, session_id, chunk_size=TIMELINE_CHUNK)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b'{"events":[')
    sep = b""
    async for chunk in chunks:
        data = orjson.dumps([event_json(e) for e in chunk])[1:-1]
        await response.write(sep + data)
        sep = b","
    await response.write(b"]," + orjson.dumps(tail)[1:])
    await response.write_eof()
    return response
