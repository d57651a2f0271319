"""GET /api/openapi.json: the OpenAPI 3.0 description of every /api route, built from one table.

Adding a route: add its response/body schemas to ``SCHEMAS`` (if new) and one ``Op`` line to
``OPERATIONS``. Standard error responses (400/401/403/404/413/415/503 with the error envelope)
are added from the entry's flags, so an entry stays one or two lines. A test fails when an /api
route registered in the router is missing here, and the fuzz run validates every response
against this document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from collector import __version__
from collector.keys import KNOWN_SCOPES
from store.model import CLIENT_EVENT_TYPES, SEVERITIES

ALERT_CONDITIONS = ("error_rate_exceeds", "cost_exceeds", "latency_exceeds", "event_count_exceeds", "no_events_for")

__all__ = ("OPERATIONS", "SCHEMAS", "Op", "document", "openapi_json")

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
NSTR: Schema = {"type": "string", "nullable": True}
INT: Schema = {"type": "integer"}
NINT: Schema = {"type": "integer", "nullable": True}
NUM: Schema = {"type": "number"}
NNUM: Schema = {"type": "number", "nullable": True}
BOOL: Schema = {"type": "boolean"}
ANY: Schema = {}
OBJ: Schema = {"type": "object"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def arr(item: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": item, **extra}


def obj(props: dict[str, Schema], *required: str, **extra: Any) -> Schema:
    """An object with these properties; every property is required unless ``required`` names a subset."""
    return {"type": "object", "properties": props, "required": list(required or props), **extra}


def optional(props: dict[str, Schema], **extra: Any) -> Schema:
    """An object whose properties are all optional."""
    return {"type": "object", "properties": props, **extra}


SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {"error": STR, "status": INT, "details": arr(obj({"path": STR, "message": STR})), "hint": STR,
         "required": STR, "current": STR, "maxSize": INT},
        "error", "status",
    ),
    "Health": obj({"status": {"type": "string", "enum": ["ok", "degraded"]}, "version": STR,
                   "db": obj({"ok": BOOL, "latencyMs": {"type": "number", "nullable": True}})}),
    "IngestEvent": obj(
        {"sessionId": {"type": "string", "minLength": 1, "maxLength": 256},
         "agentId": {"type": "string", "minLength": 1, "maxLength": 256},
         "eventType": {"type": "string", "enum": list(CLIENT_EVENT_TYPES)},
         "severity": {"type": "string", "enum": list(SEVERITIES)},
         "payload": OBJ, "metadata": OBJ, "timestamp": STR,
         "id": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}},
        "sessionId", "agentId", "eventType", "payload",
    ),
    "IngestRequest": obj({"events": arr(ref("IngestEvent"), minItems=1, maxItems=1000)}),
    "IngestResult": obj({"ingested": INT, "duplicates": INT,
                         "events": arr(obj({"id": STR, "hash": STR, "duplicate": BOOL}, "id", "hash"))}),
    "Event": obj({"id": STR, "timestamp": STR, "sessionId": STR, "agentId": STR, "eventType": STR,
                  "severity": STR, "payload": ANY, "metadata": OBJ, "prevHash": NSTR, "hash": STR,
                  "tenantId": STR}),
    "EventPage": obj({"events": arr(ref("Event")), "total": INT, "hasMore": BOOL}),
    "Session": obj({"id": STR, "agentId": STR, "agentName": NSTR, "startedAt": STR, "endedAt": NSTR,
                    "status": {"type": "string", "enum": ["active", "completed", "error"]}, "idle": BOOL,
                    "eventCount": INT, "toolCallCount": INT, "errorCount": INT, "totalCostUsd": NUM,
                    "llmCallCount": INT, "totalInputTokens": INT, "totalOutputTokens": INT, "tags": arr(STR),
                    "tenantId": STR}),
    "SessionPage": {"oneOf": [obj({"sessions": arr(ref("Session")), "total": INT, "hasMore": BOOL}),
                              obj({"count": INT})]},
    "Timeline": obj({"events": arr(ref("Event")), "chainValid": BOOL, "chained": BOOL, "hasMore": BOOL,
                     "nextAfter": STR}, "events", "chainValid", "chained"),
    "Verification": obj({"valid": BOOL, "failedAtSeq": NINT, "reason": NSTR, "eventCount": INT, "anchored": BOOL}),
    "Agent": obj({"id": STR, "name": STR, "description": NSTR, "firstSeenAt": STR, "lastSeenAt": STR,
                  "sessionCount": INT, "tenantId": STR}),
    "AgentList": obj({"agents": arr(ref("Agent"))}),
    "Stats": obj({"totalEvents": INT, "totalSessions": INT, "totalAgents": INT, "oldestEvent": STR,
                  "newestEvent": STR, "storageSizeBytes": INT},
                 "totalEvents", "totalSessions", "totalAgents", "storageSizeBytes"),
    "KeyCreate": optional({"name": {"type": "string", "minLength": 1, "maxLength": 255},
                      "scopes": arr({"type": "string", "enum": list(KNOWN_SCOPES)}, minItems=1, maxItems=50),
                      "expiresInDays": {"type": "integer", "minimum": 1, "maximum": 36500},
                      "tenantId": {"type": "string", "minLength": 1, "maxLength": 128,
                                   "description": "honoured only while auth is disabled"}}),
    "ApiKey": obj({"id": STR, "name": STR, "scopes": arr(STR), "tenantId": STR, "createdAt": STR,
                   "lastUsedAt": NSTR, "revokedAt": NSTR, "expiresAt": NSTR}),
    "NewApiKey": obj({"id": STR, "key": {"type": "string", "pattern": "^als_[0-9a-f]{64}$"}, "name": STR,
                      "scopes": arr(STR), "tenantId": STR, "createdAt": STR, "lastUsedAt": NSTR,
                      "revokedAt": NSTR, "expiresAt": NSTR}),
    "ApiKeyList": obj({"keys": arr(ref("ApiKey"))}),
    "KeyRevoked": obj({"id": STR, "revoked": {"type": "boolean", "enum": [True]}}),
    "AlertScope": optional({"agentId": {"type": "string", "maxLength": 256},
                            "tags": arr({"type": "string", "maxLength": 256}, maxItems=100)}),
    "AlertRuleCreate": obj(
        {"name": {"type": "string", "minLength": 1, "maxLength": 200},
         "condition": {"type": "string", "enum": list(ALERT_CONDITIONS)},
         "threshold": {"type": "number", "minimum": 0}, "windowMinutes": {"type": "integer", "minimum": 1,
                                                                          "maximum": 43200},
         "enabled": BOOL, "scope": ref("AlertScope"),
         "notifyChannels": arr({"type": "string", "format": "uri", "maxLength": 2048}, maxItems=50)},
        "name", "condition", "threshold", "windowMinutes",
    ),
    "AlertRule": obj({"id": STR, "name": STR, "enabled": BOOL, "condition": STR, "threshold": NUM,
                      "windowMinutes": INT, "scope": ref("AlertScope"), "notifyChannels": arr(STR),
                      "createdAt": STR, "updatedAt": STR, "tenantId": STR}),
    "AlertRuleList": obj({"rules": arr(ref("AlertRule"))}),
    "AlertRuleDeleted": obj({"id": STR, "deleted": {"type": "boolean", "enum": [True]}}),
    "AlertHistoryPage": obj({"entries": arr(obj({"id": STR, "ruleId": STR, "triggeredAt": STR, "resolvedAt": NSTR,
                                                 "currentValue": NUM, "threshold": NUM, "message": STR,
                                                 "tenantId": STR})),
                             "total": INT, "hasMore": BOOL}),
    "Config": obj({"retentionDays": INT}),
    "ConfigUpdate": optional({"retentionDays": {"type": "integer", "minimum": 0, "maximum": 3650},
                              "agentGateUrl": {"type": "string", "maxLength": 2048},
                              "agentGateSecret": {"type": "string", "maxLength": 512},
                              "formBridgeUrl": {"type": "string", "maxLength": 2048},
                              "formBridgeSecret": {"type": "string", "maxLength": 512}},
                             additionalProperties=False),
    "ConfigSaved": obj({"ok": {"type": "boolean", "enum": [True]}, "retentionDays": INT}),
    "RetentionRun": obj({"tenantId": STR, "retentionDays": INT, "deletedCount": INT, "sessionsDeleted": INT,
                         "anchoredSessions": INT, "cutoff": NSTR, "skipped": BOOL, "durationMs": NUM}),
    "EventStream": {"type": "string", "description": "text/event-stream: event, session_update, alert, heartbeat"},
    # analytics (api.md §5): costs are cost_tracked + llm_response; percentiles null when nothing was timed
    "Analytics": obj({
        "buckets": arr(obj({"timestamp": STR, "eventCount": INT, "toolCallCount": INT, "errorCount": INT,
                            "avgLatencyMs": NUM, "totalCostUsd": NUM, "uniqueSessions": INT})),
        "totals": obj({"eventCount": INT, "toolCallCount": INT, "errorCount": INT, "avgLatencyMs": NUM,
                       "totalCostUsd": NUM, "uniqueSessions": INT, "uniqueAgents": INT}),
    }),
    "CostAnalytics": obj({
        "byAgent": arr(obj({"agentId": STR, "totalCostUsd": NUM, "totalInputTokens": INT, "totalOutputTokens": INT,
                            "totalTokens": INT, "cacheReadTokens": INT, "cacheWriteTokens": INT, "eventCount": INT})),
        "byModel": arr(obj({"model": STR, "totalCostUsd": NUM, "eventCount": INT})),
        "bySession": arr(obj({"sessionId": STR, "totalCostUsd": NUM, "eventCount": INT})),
        "byTool": arr(obj({"toolName": STR, "totalCostUsd": NUM, "eventCount": INT})),
        "overTime": arr(obj({"bucket": STR, "totalCostUsd": NUM, "eventCount": INT,
                             "byAgent": {"type": "object", "additionalProperties": NUM}})),
        "totals": obj({"totalCostUsd": NUM, "totalInputTokens": INT, "totalOutputTokens": INT, "totalTokens": INT}),
    }),
    "LlmAnalytics": obj({
        "summary": obj({"totalCalls": INT, "totalCostUsd": NUM, "totalInputTokens": INT, "totalOutputTokens": INT,
                        "avgLatencyMs": NUM, "avgCostPerCall": NUM, "p50LatencyMs": NNUM, "p95LatencyMs": NNUM}),
        "byModel": arr(obj({"provider": NSTR, "model": NSTR, "calls": INT, "costUsd": NUM, "inputTokens": INT,
                            "outputTokens": INT, "avgLatencyMs": NUM, "p50LatencyMs": NNUM, "p95LatencyMs": NNUM})),
        "byTime": arr(obj({"bucket": STR, "calls": INT, "costUsd": NUM, "inputTokens": INT, "outputTokens": INT,
                           "avgLatencyMs": NUM})),
    }),
    "ToolAnalytics": obj({"tools": arr(obj({"toolName": STR, "callCount": INT, "errorCount": INT, "errorRate": NUM,
                                            "avgDurationMs": NUM, "p50DurationMs": NNUM,
                                            "p95DurationMs": NNUM}))}),
    "AgentAnalytics": obj({"agents": arr(obj({"agentId": STR, "sessionCount": INT, "totalEvents": INT,
                                              "totalErrors": INT, "errorRate": NUM, "totalCostUsd": NUM,
                                              "avgDurationMs": NUM}))}),
}
# an update takes any subset of the create fields
SCHEMAS["AlertRuleUpdate"] = optional(SCHEMAS["AlertRuleCreate"]["properties"])


def query(name: str, schema: Schema = STR, description: str = "") -> Schema:
    out: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        out["description"] = description
    return out


LIMIT = query("limit", INT, "missing/0 -> 50, negative -> 1, above 500 -> 500")
OFFSET = query("offset", INT, "negative -> 0")
FROM = query("from", STR, "ISO 8601 or unix milliseconds, inclusive")
TO = query("to", STR, "ISO 8601 or unix milliseconds, inclusive")
EVENT_FILTERS = (
    query("sessionId"), query("agentId"), query("eventType", STR, "comma list"),
    query("severity", STR, "comma list"), FROM, TO, query("search", STR, "payload substring"),
    query("excludeMetrics", BOOL), LIMIT, OFFSET, query("order", {"type": "string", "enum": ["asc", "desc"]}),
)
ANALYTICS_FILTERS = (
    FROM, TO, query("range", {"type": "string", "enum": ["1h", "6h", "24h", "3d", "7d", "30d"]},
                    "used when 'from' is absent; default (and unknown values) 24h"),
    query("granularity", {"type": "string", "enum": ["hour", "day", "week"]}),
    query("agentId"), query("excludeMetrics", BOOL, "leave out events from OTLP metrics (default false)"),
)
SESSION_FILTERS = (
    query("agentId"), query("status", STR, "comma list of active, idle, completed, error"), FROM, TO,
    query("tags", STR, "comma list, any of"), LIMIT, OFFSET, query("countOnly", BOOL),
)


@dataclass(frozen=True, slots=True)
class Op:
    """One route. ``ok`` is the success schema name; ``body`` the JSON request body schema name."""

    method: str
    path: str
    summary: str
    ok: str | None
    status: int = 200
    params: tuple[Schema, ...] = ()
    body: str | None = None
    public: bool = False
    ingest: bool = False          # may answer 503 with Retry-After under overload
    bad_request: bool = False     # may answer 400 for invalid parameters
    conflict: bool = False        # may answer 409
    content_type: str = "application/json"
    fuzz: bool = True             # False: left out of the fuzz run (endless streams)


OPERATIONS: tuple[Op, ...] = (
    Op("GET", "/api/health", "Liveness and database check", "Health", public=True),
    Op("GET", "/api/openapi.json", "This document", None, public=True),
    Op("POST", "/api/events", "Ingest native AgentLens events", "IngestResult", 201, body="IngestRequest",
       ingest=True),
    Op("GET", "/api/events", "Query events", "EventPage", params=EVENT_FILTERS, bad_request=True),
    Op("GET", "/api/events/{id}", "One event", "Event"),
    Op("GET", "/api/sessions", "Query sessions", "SessionPage", params=SESSION_FILTERS, bad_request=True),
    Op("GET", "/api/sessions/{id}", "One session", "Session"),
    Op("GET", "/api/sessions/{id}/timeline", "A session's events in chain order", "Timeline",
       params=(query("limit", INT), query("after")), bad_request=True),
    Op("GET", "/api/sessions/{id}/verify", "Verify a session's hash chain", "Verification"),
    Op("GET", "/api/agents", "List agents", "AgentList"),
    Op("GET", "/api/agents/{id}", "One agent", "Agent"),
    Op("GET", "/api/stats", "Storage statistics for the caller's tenant", "Stats"),
    Op("GET", "/api/analytics", "Event counts, errors, tool latency and cost per hour/day/week", "Analytics",
       params=ANALYTICS_FILTERS, bad_request=True),
    Op("GET", "/api/analytics/costs", "Cost by agent, model, session, tool and over time", "CostAnalytics",
       params=ANALYTICS_FILTERS, bad_request=True),
    Op("GET", "/api/analytics/llm", "LLM calls, tokens, cost and latency (P50/P95) per model", "LlmAnalytics",
       params=(*ANALYTICS_FILTERS, query("model"), query("provider")), bad_request=True),
    Op("GET", "/api/analytics/tools", "Tool calls, errors and durations per tool", "ToolAnalytics",
       params=ANALYTICS_FILTERS, bad_request=True),
    Op("GET", "/api/analytics/agents", "Sessions, events, errors and cost per agent", "AgentAnalytics",
       params=ANALYTICS_FILTERS, bad_request=True),
    Op("POST", "/api/keys", "Create an API key (the raw key is shown once)", "NewApiKey", 201, body="KeyCreate"),
    Op("GET", "/api/keys", "List the tenant's API keys", "ApiKeyList"),
    Op("DELETE", "/api/keys/{id}", "Revoke an API key", "KeyRevoked", conflict=True),
    Op("POST", "/api/alerts/rules", "Create an alert rule", "AlertRule", 201, body="AlertRuleCreate"),
    Op("GET", "/api/alerts/rules", "List alert rules", "AlertRuleList"),
    Op("GET", "/api/alerts/rules/{id}", "One alert rule", "AlertRule"),
    Op("PUT", "/api/alerts/rules/{id}", "Change an alert rule", "AlertRule", body="AlertRuleUpdate"),
    Op("DELETE", "/api/alerts/rules/{id}", "Delete an alert rule (its history stays)", "AlertRuleDeleted"),
    Op("GET", "/api/alerts/history", "Alert history, newest first", "AlertHistoryPage",
       params=(query("ruleId"), LIMIT, OFFSET)),
    Op("GET", "/api/config", "The tenant's settings", "Config"),
    Op("PUT", "/api/config", "Store the tenant's settings (manage)", "ConfigSaved", body="ConfigUpdate"),
    Op("POST", "/api/retention/run", "Apply the tenant's retention now (manage)", "RetentionRun"),
    Op("GET", "/api/stream", "Live server-sent events of the tenant", "EventStream",
       params=(query("sessionId"), query("agentId"), query("eventType", STR, "comma list"),
               query("token", STR, "the API key, for EventSource clients that cannot send headers")),
       content_type="text/event-stream", fuzz=False),
)


def _error(description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


def _operation(op: Op) -> Schema:
    params = list(op.params)
    path_names = [seg[1:-1] for seg in op.path.split("/") if seg.startswith("{") and seg.endswith("}")]
    params += [{"name": n, "in": "path", "required": True, "schema": STR} for n in path_names]
    ok: Schema = {"description": op.summary}
    if op.ok is not None:
        ok["content"] = {op.content_type: {"schema": ref(op.ok)}}
    elif op.content_type == "application/json":
        ok["content"] = {"application/json": {"schema": OBJ}}
    responses: dict[str, Schema] = {str(op.status): ok}
    if op.bad_request or op.body:
        responses["400"] = _error("Invalid parameters or body")
    if not op.public:
        responses["401"] = _error("Authentication required, or an invalid, revoked or expired key")
        responses["403"] = _error("The key's role lacks the permission this route needs")
        responses["503"] = _error("Database unavailable or ingest overloaded (Retry-After)")
    if path_names:
        responses["404"] = _error("Not found (also for another tenant's ids)")
    if op.conflict:
        responses["409"] = _error("Conflict")
    if op.body:
        responses["408"] = _error("The body did not arrive in time")
        responses["413"] = _error("Body too large")
        responses["415"] = _error("Content-Type must be application/json")
    if op.path == "/api/health":
        responses["503"] = {"description": "Database not answering", "content": {"application/json": {
            "schema": ref("Health")}}}
    out: Schema = {"summary": op.summary, "operationId": f"{op.method.lower()}{op.path}", "responses": responses}
    if params:
        out["parameters"] = params
    if op.body:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(op.body)}}}
    if not op.public:
        out["security"] = [{"bearer": []}]
    if not op.fuzz:
        out["x-fuzz"] = False
    return out


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Schema]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.0.3",
        "info": {"title": "AgentLens Collector API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "als_<64 hex>"}},
        },
    }


_BODY = orjson.dumps(document())


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=_BODY, content_type="application/json")
