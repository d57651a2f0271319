"""The whole URL table in one place."""

from __future__ import annotations

from aiohttp import web

from collector.api import agents, events, health, sessions
from collector.receivers import native

__all__ = ("setup_routes",)


def setup_routes(app: web.Application) -> None:
    r = app.router
    # native ingest and the AgentLens read API
    r.add_post("/api/events", native.post_events)
    r.add_get("/api/events", events.list_events)
    r.add_get("/api/events/{id}", events.get_event)
    r.add_get("/api/sessions", sessions.list_sessions)
    r.add_get("/api/sessions/{id}", sessions.get_session)
    r.add_get("/api/sessions/{id}/timeline", sessions.session_timeline)
    r.add_get("/api/sessions/{id}/verify", sessions.verify_session)
    r.add_get("/api/agents", agents.list_agents)
    r.add_get("/api/agents/{id}", agents.get_agent)
    r.add_get("/api/stats", health.stats)
    r.add_get("/api/health", health.health)
    # the collector's own metrics
    r.add_get("/metrics", health.metrics)
