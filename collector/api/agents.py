"""GET /api/agents and /api/agents/{id}."""

from __future__ import annotations

from aiohttp import web

from collector.api.serialize import agent_json
from collector.appkeys import store_key
from collector.httputil import ApiError, json_response, tenant_of

__all__ = ("get_agent", "list_agents")


async def list_agents(request: web.Request) -> web.Response:
    agents = await request.app[store_key].list_agents(tenant_of(request))
    return json_response({"agents": [agent_json(a) for a in agents]})


async def get_agent(request: web.Request) -> web.Response:
    agent = await request.app[store_key].get_agent(tenant_of(request), request.match_info["id"])
    if agent is None:
        raise ApiError(404, "Agent not found")
    return json_response(agent_json(agent))
