"""Alert rule CRUD and alert history (api.md §6, upstream §5.9), bodies validated like upstream's zod schemas."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from aiohttp import web
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StringConstraints, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from collector.api.bodies import js_int, read_json, storable_text, validate
from collector.api.serialize import alert_history_json, alert_rule_json
from collector.appkeys import store_key
from collector.httputil import ApiError, json_response, parse_limit, parse_offset, tenant_of
from collector.jobs.webhooks import AddressRefused, check_webhook_url
from store.model import AlertRuleInput, AlertRulePatch

__all__ = ("create_rule", "delete_rule", "get_rule", "list_history", "list_rules", "update_rule")

MAX_NOTIFY_CHANNELS = 50
MAX_URL_CHARS = 2048
MAX_SCOPE_TAGS = 100

_STRICT = ConfigDict(strict=True)


def _webhook_url(value: str) -> str:
    """Only http(s) URLs can be delivered (private addresses are judged at delivery time)."""
    try:
        check_webhook_url(value, allow_private=True)
    except AddressRefused:
        raise ValueError("Invalid url") from None
    return value


Condition = Literal["error_rate_exceeds", "cost_exceeds", "latency_exceeds", "event_count_exceeds", "no_events_for"]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(storable_text)]
Threshold = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Window = Annotated[int, BeforeValidator(js_int), Field(ge=1, le=43200)]
Text = Annotated[str, StringConstraints(max_length=256), AfterValidator(storable_text)]
Url = Annotated[
    str, StringConstraints(max_length=MAX_URL_CHARS), AfterValidator(storable_text), AfterValidator(_webhook_url),
]


class ScopeBody(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    agentId: Text
    tags: Annotated[list[Text], Field(max_length=MAX_SCOPE_TAGS)]


class CreateBody(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    name: Name
    condition: Condition
    threshold: Threshold
    windowMinutes: Window
    enabled: NotRequired[bool]
    scope: NotRequired[ScopeBody]
    notifyChannels: NotRequired[Annotated[list[Url], Field(max_length=MAX_NOTIFY_CHANNELS)]]


class UpdateBody(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    name: Name
    condition: Condition
    threshold: Threshold
    windowMinutes: Window
    enabled: bool
    scope: ScopeBody
    notifyChannels: Annotated[list[Url], Field(max_length=MAX_NOTIFY_CHANNELS)]


_CREATE = TypeAdapter(CreateBody)
_UPDATE = TypeAdapter(UpdateBody)


def _scope(scope: ScopeBody) -> tuple[str | None, tuple[str, ...] | None]:
    """An empty agentId or tag list means "no restriction" (upstream tests ``if (agentId)``)."""
    agent = scope.get("agentId") or None
    tags = tuple(dict.fromkeys(scope.get("tags") or ())) or None
    return agent, tags


def _not_found() -> ApiError:
    return ApiError(404, "Alert rule not found")


def _rule_id(request: web.Request) -> str:
    """The id from the path; one no rule can have (NUL, broken UTF-16) is simply not found."""
    rule_id = request.match_info["id"]
    try:
        storable_text(rule_id)
    except ValueError:
        raise _not_found() from None
    return rule_id


async def create_rule(request: web.Request) -> web.Response:
    tenant = tenant_of(request)
    body = validate(_CREATE, await read_json(request))
    agent, tags = _scope(body.get("scope", {}))
    rule = await request.app[store_key].create_alert_rule(tenant, AlertRuleInput(
        name=body["name"], condition=body["condition"], threshold=body["threshold"],
        window_minutes=body["windowMinutes"], enabled=body.get("enabled", True), scope_agent_id=agent,
        scope_tags=tags, notify_channels=tuple(body.get("notifyChannels", ())),
    ))
    return json_response(alert_rule_json(rule), status=201)


async def list_rules(request: web.Request) -> web.Response:
    rules = await request.app[store_key].list_alert_rules(tenant_of(request))
    return json_response({"rules": [alert_rule_json(r) for r in rules]})


async def get_rule(request: web.Request) -> web.Response:
    rule = await request.app[store_key].get_alert_rule(tenant_of(request), _rule_id(request))
    if rule is None:
        raise _not_found()
    return json_response(alert_rule_json(rule))


async def update_rule(request: web.Request) -> web.Response:
    tenant = tenant_of(request)
    body = validate(_UPDATE, await read_json(request))
    fields: dict[str, Any] = {}
    if "scope" in body:
        agent, tags = _scope(body["scope"])
        fields.update(scope_set=True, scope_agent_id=agent, scope_tags=tags)
    if "notifyChannels" in body:
        fields["notify_channels"] = tuple(body["notifyChannels"])
    patch = AlertRulePatch(
        name=body.get("name"), condition=body.get("condition"), threshold=body.get("threshold"),
        window_minutes=body.get("windowMinutes"), enabled=body.get("enabled"), **fields,
    )
    # NotFound("Alert rule not found") from the store becomes the 404 in the error middleware.
    rule = await request.app[store_key].update_alert_rule(tenant, _rule_id(request), patch)
    return json_response(alert_rule_json(rule))


async def delete_rule(request: web.Request) -> web.Response:
    rule_id = _rule_id(request)
    await request.app[store_key].delete_alert_rule(tenant_of(request), rule_id)
    return json_response({"id": rule_id, "deleted": True})


async def list_history(request: web.Request) -> web.Response:
    qs = request.query
    rule_id = qs.get("ruleId") or None
    if rule_id is not None:
        try:
            storable_text(rule_id)
        except ValueError:
            return json_response({"entries": [], "total": 0, "hasMore": False})   # no rule has such an id
    page = await request.app[store_key].list_alert_history(
        tenant_of(request), rule_id=rule_id, limit=parse_limit(qs.get("limit")), offset=parse_offset(qs.get("offset")),
    )
    return json_response({
        "entries": [alert_history_json(h) for h in page.entries], "total": page.total, "hasMore": page.has_more,
    })
