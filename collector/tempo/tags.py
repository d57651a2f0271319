"""Tag names and values for Grafana's autocomplete (v1 and v2), from the newest spans and the stored resources.

Span attributes come from a sample of the newest spans in the requested window (``SAMPLE_SPANS``);
resource attributes from every resource seen in it. Values are the scalar ones (strings, numbers,
booleans) of at most ``MAX_VALUE_CHARS`` characters, at most ``MAX_VALUES`` of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import orjson

from collector.mapping.otlp_model import KIND_NAMES, STATUS_NAMES, Span
from collector.tempo.codec import decode_stored
from collector.tempo.match import matches
from collector.tempo.traceql import INTRINSICS, Expr
from store.interface import Store
from store.spans import SpanScan

__all__ = ("INTRINSIC_TAGS", "SAMPLE_SPANS", "tag_names", "tag_values")

SAMPLE_SPANS: Final = 5000
MAX_VALUES: Final = 1000
MAX_VALUE_CHARS: Final = 1000
INTRINSIC_TAGS: Final = ("duration", "kind", "name", "rootName", "rootServiceName", "status", "statusMessage",
                         "traceDuration")
_RESOURCE_LIMIT: Final = 1000


async def _sample(store: Store, tenant: str, start_ns: int, end_ns: int) -> list[Span]:
    return decode_stored(await store.scan_spans(tenant, SpanScan(start_ns, end_ns, None, SAMPLE_SPANS)))


async def _resource_attrs(store: Store, tenant: str, start_ns: int) -> list[dict[str, Any]]:
    out = []
    for _, body in await store.list_span_resources(tenant, start_ns, _RESOURCE_LIMIT):
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("r"), dict):
            out.append(doc["r"])
    return out


async def tag_names(store: Store, tenant: str, start_ns: int, end_ns: int) -> dict[str, list[str]]:
    """``{"resource": [...], "span": [...], "intrinsic": [...]}``, names sorted."""
    spans = await _sample(store, tenant, start_ns, end_ns)
    span_keys = {k for s in spans for k in s.attributes}
    resource_keys = {k for attrs in await _resource_attrs(store, tenant, start_ns) for k in attrs}
    resource_keys.update(k for s in spans for k in s.resource.attributes)
    return {"resource": sorted(resource_keys), "span": sorted(span_keys), "intrinsic": list(INTRINSIC_TAGS)}


def _typed(value: Any) -> tuple[str, str] | None:
    if isinstance(value, bool):
        return "bool", "true" if value else "false"
    if isinstance(value, int):
        return "int", str(value)
    if isinstance(value, float):
        return "float", repr(value)
    if isinstance(value, str) and len(value) <= MAX_VALUE_CHARS:
        return "string", value
    return None


def _collect(values: Iterable[Any], out: dict[tuple[str, str], None]) -> None:
    for v in values:
        if len(out) >= MAX_VALUES:
            return
        typed = _typed(v)
        if typed is not None:
            out.setdefault(typed, None)


def split_tag(tag: str) -> tuple[str, str]:
    """A v2 tag (``.a``, ``span.a``, ``resource.a``, ``name``, ``span:name``) -> (scope, name); v1 tags are unscoped."""
    if tag in INTRINSICS:
        return "intrinsic", INTRINSICS[tag]
    for scope in ("span", "resource"):
        if tag.startswith(scope + "."):
            return scope, tag[len(scope) + 1:]
    return "any", tag.removeprefix(".")


async def tag_values(
    store: Store, tenant: str, tag: str, window: tuple[int, int], where: Expr = True,
) -> list[tuple[str, str]]:
    """(type, value) pairs of the tag in the (start, end) ns window, for spans matching ``where``."""
    start_ns, end_ns = window
    scope, name = split_tag(tag)
    if scope == "intrinsic" and name == "status":
        return [("keyword", n.lower()) for n in STATUS_NAMES]
    if scope == "intrinsic" and name == "kind":
        return [("keyword", n.lower()) for n in KIND_NAMES]
    spans = [s for s in await _sample(store, tenant, start_ns, end_ns) if where is True or matches(where, s)]
    found: dict[tuple[str, str], None] = {}
    if scope == "intrinsic":
        if name == "name":
            _collect((s.name for s in spans), found)
        elif name == "statusMessage":
            _collect((s.status_message for s in spans if s.status_message), found)
        elif name == "rootName":
            _collect((s.name for s in spans if not s.parent_span_id), found)
        elif name == "rootServiceName":
            _collect((s.resource.service_name for s in spans if not s.parent_span_id), found)
        return sorted(found)
    if scope in ("span", "any"):
        _collect((s.attributes[name] for s in spans if name in s.attributes), found)
    if scope in ("resource", "any"):
        _collect((s.resource.attributes[name] for s in spans if name in s.resource.attributes), found)
        if where is True:
            _collect((attrs[name] for attrs in await _resource_attrs(store, tenant, start_ns) if name in attrs), found)
    return sorted(found, key=lambda tv: (tv[1], tv[0]))
