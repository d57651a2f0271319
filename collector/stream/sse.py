"""GET /api/stream: server-sent events of the caller's tenant, filtered, with heartbeats (api.md §8)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from collector.appkeys import clock_key, settings_key, stream_key
from collector.httputil import ApiError, comma_list, tenant_of
from collector.stream.bus import StreamFilter, Subscriber, TooManyClients, sse_frame
from store.timefmt import format_ms

__all__ = ("SSE_HEADERS", "stream")

# upstream §5.12; X-Accel-Buffering stops nginx from buffering the stream
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}

_DISCONNECT_MESSAGES = {
    "slow_client": "The client did not keep up with the stream; reconnect to continue.",
    "lagging": "The server could not keep up with the stream; reconnect to continue.",
    "error": "The stream failed on the server; reconnect to continue.",
    "shutdown": "The server is shutting down; reconnect to another instance or later.",
}


def _filter(request: web.Request) -> StreamFilter:
    qs = request.query
    return StreamFilter(
        session_id=qs.get("sessionId") or None,
        agent_id=qs.get("agentId") or None,
        event_types=frozenset(comma_list(qs.get("eventType"))),
    )


async def stream(request: web.Request) -> web.StreamResponse:
    """Subscribe first, then send the first heartbeat: nothing committed after it is missed."""
    tenant = tenant_of(request)
    wanted = _filter(request)
    bus = request.app[stream_key]
    try:
        sub = bus.subscribe(tenant, wanted)
    except TooManyClients:
        raise ApiError(503, "Too many stream clients, retry later", headers={"Retry-After": "5"}) from None
    try:
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        await _pump(request, response, sub)
    finally:
        bus.unsubscribe(sub)
    return response


async def _pump(request: web.Request, response: web.StreamResponse, sub: Subscriber) -> None:
    """Write frames as they come and a heartbeat every interval until the client or the bus leaves."""
    interval = request.app[settings_key].stream_heartbeat_seconds
    clock = request.app[clock_key]
    # A client that accepts nothing for this long is dropped (its buffer is bounded anyway).
    write_timeout = max(10.0, 2 * interval)
    loop = asyncio.get_running_loop()
    next_beat = loop.time()
    try:
        while True:
            chunk: list[bytes] = []
            now = loop.time()
            if now >= next_beat:
                chunk.append(sse_frame("heartbeat", {"time": format_ms(clock())}))
                next_beat = max(next_beat + interval, now)
            else:
                frames = await sub.take(next_beat - now)
                if frames is None:
                    reason = sub.close_reason or "shutdown"
                    notice = {"reason": reason, "message": _DISCONNECT_MESSAGES.get(reason, reason)}
                    with contextlib.suppress(TimeoutError, ConnectionError):
                        await asyncio.wait_for(response.write(sse_frame("disconnect", notice)), 5)
                    return
                chunk.extend(frames)
            if chunk:
                await asyncio.wait_for(response.write(b"".join(chunk)), write_timeout)
    except ConnectionError:
        return  # the client went away (aiohttp raises ClientConnectionResetError, a ConnectionResetError)
    except TimeoutError:
        sub.close("slow_client")
        if request.transport is not None:
            request.transport.abort()
