"""Tempo search: candidate spans from the store (newest first, SQL prefilter), exact evaluation, Tempo's JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from collector.mapping.otlp_model import Resource, Scope, Span
from collector.tempo.codec import attributes_json, decode_stored
from collector.tempo.match import (
    ROOT_NOT_RECEIVED,
    TraceInfo,
    fields_of,
    leaves,
    matches,
    needs_trace,
    pushdown,
    trace_info,
    trace_matches,
)
from collector.tempo.traceql import Field, Query
from store.interface import Store
from store.spans import INT64_MAX, SpanScan

__all__ = ("MAX_INSPECTED_SPANS", "SearchRequest", "search")

PAGE: Final = 500
# a search stops after looking at this many candidate spans (reported in metrics.inspectedSpans)
MAX_INSPECTED_SPANS: Final = 200_000


@dataclass(frozen=True, slots=True)
class SearchRequest:
    query: Query
    limit: int = 20
    spss: int = 3
    start_ns: int = 0
    end_ns: int = INT64_MAX


@dataclass(slots=True)
class _Found:
    trace_id: str
    spans: list[Span]
    info: TraceInfo
    matched: list[Span]


class _Search:
    """One search's state: traces found and rejected, decoded resources, spans inspected."""

    def __init__(self, store: Store, tenant: str, req: SearchRequest) -> None:
        self.store, self.tenant, self.req = store, tenant, req
        self.resources: dict[str, tuple[Resource, Scope]] = {}
        self.found: dict[str, _Found] = {}
        self.rejected: set[str] = set()
        self.inspected = 0

    async def run(self) -> None:
        req = self.req
        where = pushdown(req.query)
        spanset_leaves = leaves(req.query)
        trace_level = needs_trace(req.query)
        before: tuple[int, str, str] | None = None
        while len(self.found) < req.limit and self.inspected < MAX_INSPECTED_SPANS:
            page = await self.store.scan_spans(self.tenant, SpanScan(req.start_ns, req.end_ns, where, PAGE, before))
            if not page:
                return
            self.inspected += len(page)
            before = (page[-1].start_ns, page[-1].trace_id, page[-1].span_id)
            fresh = [r for r in page if r.trace_id not in self.found and r.trace_id not in self.rejected]
            if trace_level:  # trace intrinsics (rootServiceName, traceDuration): judge whole traces
                hits = list(dict.fromkeys(r.trace_id for r in fresh))
            else:  # a trace is a candidate once one of its spans matches a spanset filter on its own
                hits = list(dict.fromkeys(s.trace_id for s in decode_stored(fresh, self.resources)
                                          if any(matches(leaf, s) for leaf in spanset_leaves)))
            i = 0
            while i < len(hits) and len(self.found) < req.limit:
                need = req.limit - len(self.found)
                await self._evaluate(hits[i:i + need])
                i += need
            if len(page) < PAGE:
                return

    async def _evaluate(self, candidates: Sequence[str]) -> None:
        """Fetch whole candidate traces and keep those the query matches."""
        rows = await self.store.get_trace_spans(self.tenant, candidates)
        by_trace: dict[str, list[Span]] = {}
        for s in decode_stored(rows, self.resources):
            by_trace.setdefault(s.trace_id, []).append(s)
        for trace_id in candidates:
            spans = by_trace.get(trace_id, [])
            info = trace_info(spans)
            matched = trace_matches(self.req.query, spans, info) if spans else None
            if matched is None:
                self.rejected.add(trace_id)
            else:
                self.found[trace_id] = _Found(trace_id, spans, info, matched)


async def search(store: Store, tenant: str, req: SearchRequest) -> dict[str, Any]:
    """``{"traces": [...], "metrics": {...}}`` as Tempo's /api/search answers (nanoseconds as strings)."""
    run = _Search(store, tenant, req)
    await run.run()
    traces = sorted(run.found.values(), key=lambda f: (-f.info.start_ns, f.trace_id))[:req.limit]
    shown = [f for f in fields_of(req.query) if f.scope != "intrinsic"]
    return {
        "traces": [_trace_json(f, req.spss, shown) for f in traces],
        "metrics": {"inspectedTraces": len(run.found) + len(run.rejected), "inspectedSpans": run.inspected,
                    "inspectedBytes": "0", "completedJobs": 1, "totalJobs": 1},
    }


def _value(field: Field, span: Span) -> Any:
    if field.scope == "span":
        return span.attributes.get(field.name)
    if field.scope == "resource":
        return span.resource.attributes.get(field.name)
    value = span.attributes.get(field.name)
    return span.resource.attributes.get(field.name) if value is None else value


def _span_json(span: Span, shown: Sequence[Field]) -> dict[str, Any]:
    attrs = {f.name: v for f in shown if (v := _value(f, span)) is not None}
    doc: dict[str, Any] = {
        "spanID": span.span_id, "name": span.name, "startTimeUnixNano": str(span.start_time_unix_nano),
        "durationNanos": str(max(0, span.end_time_unix_nano - span.start_time_unix_nano)),
    }
    if attrs:
        doc["attributes"] = attributes_json(attrs)
    return doc


def _trace_json(f: _Found, spss: int, shown: Sequence[Field]) -> dict[str, Any]:
    spanset = {"spans": [_span_json(s, shown) for s in f.matched[:spss]], "matched": len(f.matched)}
    stats: dict[str, dict[str, int]] = {}
    for s in f.spans:
        entry = stats.setdefault(s.resource.service_name or "", {"spanCount": 0})
        entry["spanCount"] += 1
        if s.status_code == 2:
            entry["errorCount"] = entry.get("errorCount", 0) + 1
    return {
        "traceID": f.trace_id,
        "rootServiceName": f.info.root_service if f.info.root_service is not None else ROOT_NOT_RECEIVED,
        "rootTraceName": f.info.root_name or "",
        "startTimeUnixNano": str(f.info.start_ns),
        "durationMs": f.info.duration_ns // 1_000_000,
        "spanSet": spanset,
        "spanSets": [spanset],
        "serviceStats": stats,
    }
