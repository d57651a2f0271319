"""A random but reproducible event set, and brute-force analytics over its raw events (the tests' oracle)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from store.model import NewEvent
from store.timefmt import format_us, parse_rfc3339
from tests.store.builders import ev

__all__ = ("Ref", "bucket_key", "dataset", "percentile")

HOUR = 3_600_000_000
DAY = 24 * HOUR
START = parse_rfc3339("2026-11-23T00:00:00Z")       # a Monday
AGENTS = ("agent-a", "agent-b", "agent-c")
MODELS = (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4"))
TOOLS = ("search", "read_file", "shell")
COST_TYPES = ("cost_tracked", "llm_response")


def _event(rng: random.Random, session: str, agent: str, at: int, tenant: str) -> NewEvent:
    kind = rng.choices(("tool_call", "tool_response", "tool_error", "llm_response", "cost_tracked", "custom",
                        "metric", "error_custom"), (5, 5, 2, 6, 3, 3, 2, 1))[0]
    stamp = format_us(at)
    common: dict[str, Any] = {"at": stamp, "agent": agent, "tenant": tenant, "event_id": f"{session}-{at}"}
    tool = rng.choice(TOOLS)
    provider, model = rng.choice(MODELS)
    if kind == "tool_call":
        return ev(session, "tool_call", {"toolName": tool, "callId": "c", "arguments": {}}, **common)
    if kind in ("tool_response", "tool_error"):
        payload = {"callId": "c", "toolName": tool, "durationMs": rng.choice((0, 12.5, 40, 300, 1000 * rng.random()))}
        if kind == "tool_error":
            payload["error"] = "boom"
            return ev(session, "tool_error", payload, **common)
        return ev(session, "tool_response", {**payload, "result": "ok"}, **common)
    if kind == "llm_response":
        usage: dict[str, Any] = {"inputTokens": rng.randint(0, 5000), "outputTokens": rng.randint(0, 800)}
        usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
        if rng.random() < 0.4:
            usage["cacheReadTokens"] = rng.randint(0, 3000)
        if rng.random() < 0.2:
            usage["cacheWriteTokens"] = rng.randint(0, 900)
        return ev(session, "llm_response", {
            "callId": "l", "provider": provider, "model": model, "completion": "ok", "finishReason": "stop",
            "usage": usage, "costUsd": round(rng.random() / 20, 6), "latencyMs": rng.choice((5, 250, 2500.5, 9000)),
        }, severity=rng.choice(("info", "info", "info", "error")), **common)
    if kind == "cost_tracked":
        payload = {"provider": provider, "model": model, "inputTokens": rng.randint(0, 900),
                   "outputTokens": rng.randint(0, 90), "totalTokens": 0, "costUsd": round(rng.random() / 10, 6)}
        if rng.random() < 0.3:
            payload["cacheReadTokens"] = rng.randint(1, 500)
        if rng.random() < 0.2:
            payload["toolName"] = tool
        return ev(session, "cost_tracked", payload, **common)
    if kind == "metric":
        return ev(session, "custom", {"type": "otlp_metric", "data": {}}, metadata={"source": "otlp_metric"},
                  **common)
    severity = "critical" if kind == "error_custom" else rng.choice(("info", "debug", "warn"))
    return ev(session, "custom", {"type": "t", "data": {}}, severity=severity, **common)


def dataset(seed: int = 7, sessions: int = 14, tenant: str = "default") -> list[NewEvent]:
    """Sessions over ~3 days (some crossing hours and days), timestamps at random microseconds,
    some exactly on an hour or day boundary; session_started/ended framing most of them."""
    rng = random.Random(seed)
    out: list[NewEvent] = []
    for s in range(sessions):
        agent = AGENTS[s % len(AGENTS)]
        session = f"s{seed}-{s:02d}"
        at = START + rng.randrange(0, 3 * DAY)
        out.append(ev(session, "session_started", {"agentName": agent}, at=format_us(at), agent=agent, tenant=tenant,
                      event_id=f"{session}-start"))
        for _ in range(rng.randint(10, 60)):
            at += rng.choice((1, 999_999, rng.randrange(1, 20 * 60_000_000)))
            if rng.random() < 0.05:
                at += HOUR - at % HOUR      # exactly on the next hour
            out.append(_event(rng, session, agent, at, tenant))
        if s % 4:
            reason = "error" if s % 5 == 0 else "completed"
            out.append(ev(session, "session_ended", {"reason": reason}, at=format_us(at + 1), agent=agent,
                          tenant=tenant, event_id=f"{session}-end"))
    return out


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def bucket_key(ts: int, granularity: str) -> str:
    step = {"hour": HOUR, "day": DAY, "week": 7 * DAY}[granularity]
    offset = 4 * DAY if granularity == "week" else 0
    return format_us(ts - (ts - offset) % step)[:19] + "Z"


def _avg(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


class Ref:
    """Brute force over the raw events of one tenant."""

    def __init__(self, events: Iterable[NewEvent]) -> None:
        self.events = list(events)

    def select(self, from_us: int, to_us: int, *, agent: str | None = None, exclude_metrics: bool = False,
               types: Sequence[str] = (), where: Callable[[NewEvent], bool] | None = None) -> list[NewEvent]:
        return [e for e in self.events if from_us <= e.ts_us <= to_us and (agent is None or e.agent_id == agent)
                and not (exclude_metrics and e.facts.source == "otlp_metric")
                and (not types or e.event_type in types) and (where is None or where(e))]

    @staticmethod
    def is_error(e: NewEvent) -> bool:
        return e.severity in ("error", "critical") or e.event_type == "tool_error"

    def _counters(self, group: Sequence[NewEvent]) -> dict[str, Any]:
        latencies = [e.facts.duration_ms for e in group
                     if e.event_type == "tool_response" and e.facts.duration_ms is not None]
        return {
            "eventCount": len(group), "toolCallCount": sum(e.event_type == "tool_call" for e in group),
            "errorCount": sum(self.is_error(e) for e in group), "avgLatencyMs": _avg(latencies),
            "totalCostUsd": sum(e.facts.cost_usd or 0.0 for e in group if e.event_type in COST_TYPES),
            "uniqueSessions": len({e.session_id for e in group}),
        }

    def analytics(self, from_us: int, to_us: int, granularity: str, agent: str | None = None,
                  exclude_metrics: bool = False) -> dict[str, Any]:
        chosen = self.select(from_us, to_us, agent=agent, exclude_metrics=exclude_metrics)
        buckets: dict[str, list[NewEvent]] = {}
        for e in chosen:
            buckets.setdefault(bucket_key(e.ts_us, granularity), []).append(e)
        totals = self._counters(chosen)
        totals["uniqueAgents"] = len({e.agent_id for e in chosen})
        return {"buckets": [{"timestamp": k, **self._counters(v)} for k, v in sorted(buckets.items())],
                "totals": totals}

    # ------------------------------------------------------------------ the /api/analytics/* breakdowns

    def costs(self, lo: int, hi: int, granularity: str = "day") -> dict[str, Any]:
        chosen = self.select(lo, hi, types=COST_TYPES)
        by_agent: dict[str, list[NewEvent]] = {}
        by_model: dict[str, list[NewEvent]] = {}
        by_session: dict[str, list[NewEvent]] = {}
        over_time: dict[str, list[NewEvent]] = {}
        for e in chosen:
            by_agent.setdefault(e.agent_id, []).append(e)
            by_model.setdefault(e.facts.model or "unknown", []).append(e)
            by_session.setdefault(e.session_id, []).append(e)
            over_time.setdefault(bucket_key(e.ts_us, granularity), []).append(e)

        def cost(group: Iterable[NewEvent]) -> float:
            return sum(e.facts.cost_usd or 0.0 for e in group)

        def tokens(group: Sequence[NewEvent], name: str) -> int:
            return sum(getattr(e.facts, name) or 0 for e in group)

        tools: dict[str, list[NewEvent]] = {}
        for e in self.select(lo, hi, types=(*COST_TYPES, "tool_call", "tool_response", "tool_error"),
                             where=lambda e: bool(e.facts.tool_name)):
            tools.setdefault(e.facts.tool_name or "", []).append(e)
        agents = [{"agentId": a, "totalCostUsd": cost(g), "totalInputTokens": tokens(g, "input_tokens"),
                   "totalOutputTokens": tokens(g, "output_tokens"),
                   "totalTokens": tokens(g, "input_tokens") + tokens(g, "output_tokens"),
                   "cacheReadTokens": tokens(g, "cache_read_tokens"),
                   "cacheWriteTokens": tokens(g, "cache_write_tokens"), "eventCount": len(g)}
                  for a, g in by_agent.items()]
        models = [{"model": m, "totalCostUsd": cost(g), "eventCount": len(g)} for m, g in by_model.items()]
        sessions = [{"sessionId": s, "totalCostUsd": cost(g), "eventCount": len(g)} for s, g in by_session.items()]
        return {
            "byAgent": sorted(agents, key=lambda a: (-a["totalCostUsd"], a["agentId"])),
            "byModel": sorted(models, key=lambda m: (-m["totalCostUsd"], m["model"])),
            "bySession": sorted(sessions, key=lambda s: (-s["totalCostUsd"], s["sessionId"]))[:100],
            "byTool": sorted(({"toolName": t, "totalCostUsd": cost(g), "eventCount": len(g)} for t, g in tools.items()),
                             key=lambda t: (-t["totalCostUsd"], -t["eventCount"], t["toolName"])),
            "overTime": [{"bucket": b, "totalCostUsd": cost(g), "eventCount": len(g),
                          "byAgent": {a: cost(x for x in g if x.agent_id == a) for a in {x.agent_id for x in g}}}
                         for b, g in sorted(over_time.items())],
            "totals": {"totalCostUsd": cost(chosen), "totalInputTokens": tokens(chosen, "input_tokens"),
                       "totalOutputTokens": tokens(chosen, "output_tokens"),
                       "totalTokens": tokens(chosen, "input_tokens") + tokens(chosen, "output_tokens")},
        }

    def llm(self, lo: int, hi: int, granularity: str = "hour", **filters: str) -> dict[str, Any]:
        chosen = [e for e in self.select(lo, hi, types=("llm_response",), agent=filters.get("agent"))
                  if all(getattr(e.facts, k) == v for k, v in filters.items() if k in ("model", "provider"))]

        def row(group: Sequence[NewEvent]) -> dict[str, Any]:
            lat = [e.facts.duration_ms for e in group if e.facts.duration_ms is not None]
            return {"calls": len(group), "costUsd": sum(e.facts.cost_usd or 0.0 for e in group),
                    "inputTokens": sum(e.facts.input_tokens or 0 for e in group),
                    "outputTokens": sum(e.facts.output_tokens or 0 for e in group), "avgLatencyMs": _avg(lat)}

        by_model: dict[tuple[str | None, str | None], list[NewEvent]] = {}
        by_time: dict[str, list[NewEvent]] = {}
        for e in chosen:
            by_model.setdefault((e.facts.provider, e.facts.model), []).append(e)
            by_time.setdefault(bucket_key(e.ts_us, granularity), []).append(e)
        total = row(chosen)
        lat_all = [e.facts.duration_ms or 0.0 for e in chosen]
        models = []
        for (provider, model), g in by_model.items():
            lat = [e.facts.duration_ms or 0.0 for e in g]
            models.append({"provider": provider, "model": model, **row(g), "p50LatencyMs": percentile(lat, 0.5),
                           "p95LatencyMs": percentile(lat, 0.95)})
        return {
            "summary": {"totalCalls": total["calls"], "totalCostUsd": total["costUsd"],
                        "totalInputTokens": total["inputTokens"], "totalOutputTokens": total["outputTokens"],
                        "avgLatencyMs": total["avgLatencyMs"],
                        "avgCostPerCall": total["costUsd"] / total["calls"] if total["calls"] else 0.0,
                        "p50LatencyMs": percentile(lat_all, 0.5), "p95LatencyMs": percentile(lat_all, 0.95)},
            "byModel": sorted(models, key=lambda m: (-m["calls"], m["provider"] or "", m["model"] or "")),
            "byTime": [{"bucket": b, **row(g)} for b, g in sorted(by_time.items())],
        }

    def tools(self, lo: int, hi: int) -> dict[str, Any]:
        groups: dict[str, list[NewEvent]] = {}
        for e in self.select(lo, hi, types=("tool_call", "tool_response", "tool_error"),
                             where=lambda e: bool(e.facts.tool_name)):
            groups.setdefault(e.facts.tool_name or "", []).append(e)
        out = []
        for tool, g in groups.items():
            errors = sum(e.event_type == "tool_error" for e in g)
            timed = [e.facts.duration_ms for e in g
                     if e.event_type != "tool_call" and e.facts.duration_ms is not None]
            out.append({"toolName": tool, "callCount": len(g), "errorCount": errors, "errorRate": errors / len(g),
                        "avgDurationMs": _avg(timed), "p50DurationMs": percentile(timed, 0.5),
                        "p95DurationMs": percentile(timed, 0.95)})
        return {"tools": sorted(out, key=lambda t: (-t["callCount"], t["toolName"]))}
