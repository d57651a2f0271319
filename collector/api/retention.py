"""POST /api/retention/run: apply the caller's tenant retention policy now (api.md §7)."""

from __future__ import annotations

from aiohttp import web

from collector.appkeys import clock_key, jobs_key
from collector.httputil import json_response, tenant_of

__all__ = ("run_retention",)


async def run_retention(request: web.Request) -> web.Response:
    """``{deletedCount, sessionsDeleted, anchoredSessions, cutoff}`` plus the policy used and the duration."""
    done = await request.app[jobs_key].retention.run_tenant(tenant_of(request), request.app[clock_key]())
    return json_response(done.as_json())
