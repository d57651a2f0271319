"""The whole URL table in one place."""

from __future__ import annotations

from aiohttp import web

from collector.api import agents, alerts, analytics, config, events, health, keys, openapi, retention, sessions
from collector.grafana import api as grafana
from collector.receivers import native, otlp_http
from collector.stream import sse
from collector.tempo import api as tempo

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
    r.add_get("/api/analytics", analytics.analytics)
    r.add_get("/api/analytics/costs", analytics.analytics_costs)
    r.add_get("/api/analytics/llm", analytics.analytics_llm)
    r.add_get("/api/analytics/tools", analytics.analytics_tools)
    r.add_get("/api/analytics/agents", analytics.analytics_agents)
    r.add_get("/api/health", health.health)
    r.add_get("/api/openapi.json", openapi.openapi_json)
    # API keys of the caller's tenant (manage scope)
    r.add_post("/api/keys", keys.create_key)
    r.add_get("/api/keys", keys.list_keys)
    r.add_delete("/api/keys/{id}", keys.revoke_key)
    # alert rules and their history
    r.add_post("/api/alerts/rules", alerts.create_rule)
    r.add_get("/api/alerts/rules", alerts.list_rules)
    r.add_get("/api/alerts/rules/{id}", alerts.get_rule)
    r.add_put("/api/alerts/rules/{id}", alerts.update_rule)
    r.add_delete("/api/alerts/rules/{id}", alerts.delete_rule)
    r.add_get("/api/alerts/history", alerts.list_history)
    # tenant settings, retention on demand, the live stream
    r.add_get("/api/config", config.get_config)
    r.add_put("/api/config", config.put_config)
    r.add_post("/api/retention/run", retention.run_retention)
    r.add_get("/api/stream", sse.stream, allow_head=False)  # HEAD would start an endless stream
    # Grafana: the Tempo API subset (trace view, search, tag autocomplete)
    r.add_get("/tempo/api/echo", tempo.echo)
    r.add_get("/tempo/api/status/buildinfo", tempo.buildinfo)
    r.add_get("/tempo/api/traces/{traceId}", tempo.trace_by_id)
    r.add_get("/tempo/api/v2/traces/{traceId}", tempo.trace_by_id_v2)
    r.add_get("/tempo/api/search", tempo.search_traces)
    r.add_get("/tempo/api/search/tags", tempo.search_tags)
    r.add_get("/tempo/api/v2/search/tags", tempo.search_tags_v2)
    r.add_get("/tempo/api/search/tag/{tag}/values", tempo.search_tag_values)
    r.add_get("/tempo/api/v2/search/tag/{tag}/values", tempo.search_tag_values_v2)
    # Grafana: the simpod JSON data source (its queries are POSTs, but read-only)
    r.add_get("/grafana", grafana.health)
    r.add_get("/grafana/", grafana.health)
    r.add_post("/grafana/metrics", grafana.metrics)
    r.add_post("/grafana/metric-payload-options", grafana.metric_payload_options)
    r.add_post("/grafana/query", grafana.query)
    r.add_post("/grafana/variable", grafana.variable)
    r.add_post("/grafana/tag-keys", grafana.tag_keys)
    r.add_post("/grafana/tag-values", grafana.tag_values)
    # the collector's own metrics
    r.add_get("/metrics", health.metrics)
    # OTLP/HTTP: /v1/traces, /v1/logs, /v1/metrics (and 404/405 answers for the rest of /v1/)
    otlp_http.add_routes(app)
