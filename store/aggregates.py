"""Aggregation primitives over events (types, bucket math, hourly rollup rows) shared by both backends.

Backends answer aggregations from two hourly rollups maintained in the ingest transaction
(``rollup_sessions_hourly``: per agent and session; ``rollup_events_hourly``: per agent, type,
model, provider and tool) for every whole hour of the range, and from the events themselves for
the partial hours at its edges (or for everything when buckets are not whole hours). The
functions here decide that split and build the rollup rows, once for both dialects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Literal

from store.model import EventQuery, Granularity
from store.plan import EVENT_COLUMNS

__all__ = (
    "HOUR_US",
    "WEEK_OFFSET_US",
    "AgentSessionStats",
    "Buckets",
    "Dimension",
    "EventAgg",
    "EventAggQuery",
    "PercentileQuery",
    "PercentileRow",
    "SessionAgg",
    "SessionAggQuery",
    "SessionCost",
    "bucket_start",
    "event_split",
    "format_bucket",
    "interpolate",
    "percentile_rank",
    "rollup_countable",
    "rollup_rows",
    "span_cutoff_ns",
    "split_range",
)

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
WEEK_US = 7 * DAY_US
# 1970-01-01 was a Thursday: ISO weeks (Monday 00:00Z) start 4 days after the epoch, modulo 7 days
WEEK_OFFSET_US = 4 * DAY_US
_GRANULARITY_STEP = {"hour": HOUR_US, "day": DAY_US, "week": WEEK_US}

Dimension = Literal["agent_id", "model", "provider", "tool_name", "event_type"]


@dataclass(frozen=True, slots=True)
class Buckets:
    """How time is cut: calendar ``granularity``, or fixed ``step_us`` from the epoch; neither: one bucket."""

    granularity: Granularity | None = None
    step_us: int | None = None

    def step_and_offset(self) -> tuple[int, int] | None:
        if self.granularity is not None:
            return _GRANULARITY_STEP[self.granularity], WEEK_OFFSET_US if self.granularity == "week" else 0
        if self.step_us is not None:
            return self.step_us, 0
        return None

    @property
    def whole_hours(self) -> bool:
        """Whether every bucket boundary falls on an hour (the hourly rollups can serve them)."""
        so = self.step_and_offset()
        return so is None or (so[0] % HOUR_US == 0 and so[1] % HOUR_US == 0)


def bucket_start(ts_us: int, buckets: Buckets) -> int | None:
    so = buckets.step_and_offset()
    if so is None:
        return None
    step, offset = so
    return ts_us - (ts_us - offset) % step   # Python's % floors: right before 1970 too


def format_bucket(bucket_us: int) -> str:
    """``YYYY-MM-DDTHH:00:00Z`` (minutes and seconds kept for sub-hour steps)."""
    from store.timefmt import format_ms

    return format_ms(bucket_us)[:19] + "Z"


def split_range(from_us: int, to_us: int, buckets: Buckets) -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
    """``([hour_from, hour_to) served by the rollups or None, [inclusive raw event ranges]])``."""
    if from_us > to_us:
        return None, []
    first = -((-from_us) // HOUR_US) * HOUR_US          # ceil to the hour
    end = ((to_us + 1) // HOUR_US) * HOUR_US             # floor of the exclusive end
    if not buckets.whole_hours or first >= end:
        return None, [(from_us, to_us)]
    raw = []
    if from_us < first:
        raw.append((from_us, first - 1))
    if end <= to_us:
        raw.append((end, to_us))
    return (first, end), raw


def event_split(query: EventAggQuery) -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
    """Like ``split_range`` for an event aggregation; per-agent questions read only the events
    (the type rollup has no agent dimension)."""
    if query.agent_id is not None or "agent_id" in query.group_by:
        return None, [(query.from_us, query.to_us)] if query.from_us <= query.to_us else []
    return split_range(query.from_us, query.to_us, query.buckets)


# ------------------------------------------------------------------ queries and their rows


@dataclass(frozen=True, slots=True)
class EventAggQuery:
    """Sums over events in ``[from_us, to_us]`` per bucket and per ``group_by`` values."""

    from_us: int
    to_us: int
    buckets: Buckets = field(default_factory=Buckets)
    group_by: tuple[Dimension, ...] = ()
    event_types: tuple[str, ...] = ()
    agent_id: str | None = None
    model: str | None = None
    provider: str | None = None
    tool_name: str | None = None
    has_tool_name: bool = False       # only events that name a tool
    exclude_metrics: bool = False


@dataclass(frozen=True, slots=True)
class EventAgg:
    bucket_us: int | None
    keys: tuple[str | None, ...]      # values of ``group_by`` (None: the events carry none)
    event_count: int
    error_count: int
    cost_usd: float
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    duration_sum: float               # durationMs (tools) / latencyMs (llm_response)
    duration_count: int


@dataclass(frozen=True, slots=True)
class SessionAggQuery:
    """Counters of /api/analytics and distinct sessions/agents per bucket (optionally per agent)."""

    from_us: int
    to_us: int
    buckets: Buckets = field(default_factory=Buckets)
    by_agent: bool = False
    agent_id: str | None = None
    exclude_metrics: bool = False


@dataclass(frozen=True, slots=True)
class SessionAgg:
    bucket_us: int | None
    agent_id: str | None
    sessions: int
    agents: int
    event_count: int
    tool_call_count: int
    error_count: int
    latency_sum: float                # tool_response durationMs
    latency_count: int
    cost_usd: float                   # cost_tracked + llm_response
    cost_count: int
    input_tokens: int = 0             # of cost_tracked + llm_response events
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True, slots=True)
class SessionCost:
    session_id: str
    cost_usd: float
    cost_count: int


@dataclass(frozen=True, slots=True)
class PercentileQuery:
    """Exact percentiles (linear interpolation between closest ranks) of ``duration_ms``."""

    from_us: int
    to_us: int
    event_types: tuple[str, ...]
    percentiles: tuple[float, ...] = (0.5, 0.95)     # fractions in [0, 1]
    buckets: Buckets = field(default_factory=Buckets)
    group_by: tuple[Dimension, ...] = ()
    agent_id: str | None = None
    model: str | None = None
    provider: str | None = None
    tool_name: str | None = None
    exclude_metrics: bool = False


@dataclass(frozen=True, slots=True)
class PercentileRow:
    bucket_us: int | None
    keys: tuple[str | None, ...]
    count: int
    values: tuple[float, ...]         # in the order of ``percentiles``


@dataclass(frozen=True, slots=True)
class AgentSessionStats:
    """Sessions of one agent started in a range (the sessions table, as upstream)."""

    agent_id: str
    session_count: int
    event_count: int
    error_count: int
    cost_usd: float
    ended_count: int
    duration_sum_ms: float


def percentile_rank(n: int, p: float) -> tuple[int, float]:
    """(index of the lower neighbour, fraction towards the upper one) for ``n`` sorted values."""
    rank = (n - 1) * p
    low = int(rank)
    return low, rank - low


def interpolate(low: float, high: float | None, fraction: float) -> float:
    return low if high is None or fraction == 0 else low + (high - low) * fraction


# ------------------------------------------------------------------ rollup rows


_I = {name: i for i, name in enumerate(EVENT_COLUMNS)}
_TENANT, _TS, _SESSION, _AGENT = _I["tenant_id"], _I["ts"], _I["session_id"], _I["agent_id"]
_TYPE, _SEV, _SOURCE, _COST = _I["event_type"], _I["severity"], _I["source"], _I["cost_usd"]
_IN, _OUT, _DUR = _I["input_tokens"], _I["output_tokens"], _I["duration_ms"]
_MODEL, _PROVIDER, _TOOL = _I["model"], _I["provider"], _I["tool_name"]
_CREAD, _CWRITE = _I["cache_read_tokens"], _I["cache_write_tokens"]
_COST_TYPES = frozenset({"cost_tracked", "llm_response"})
_ERROR_SEVERITIES = frozenset({"error", "critical"})

# (tenant, hour, agent, session, metric, events, tool calls, errors, latency sum, latency count, cost sum,
#  cost events, input, output, cache read, cache write tokens)
SessionRollupRow = tuple[str, int, str, str, int, int, int, int, float, int, float, int, int, int, int, int]
# (tenant, hour, type, model, provider, tool, metric, events, errors, cost, input, output, cache read,
#  cache write, duration sum, duration count)
TypeRollupRow = tuple[str, int, str, str, str, str, int, int, int, float, int, int, int, int, float, int]


_FIELDS = itemgetter(_TENANT, _TS, _AGENT, _SESSION, _TYPE, _SEV, _SOURCE, _COST, _IN, _OUT, _DUR, _MODEL, _PROVIDER,
                     _TOOL, _CREAD, _CWRITE)


def rollup_rows(rows: Sequence[Sequence[Any]]) -> tuple[list[SessionRollupRow], list[TypeRollupRow]]:
    """The increments of both hourly rollups for these inserted event rows, sorted by key.

    Sorted keys give every writer the same lock order on PostgreSQL (no deadlocks). This runs in
    every ingest transaction: keep it lean (about 2 us per event).
    """
    sessions: dict[tuple[Any, ...], list[Any]] = {}
    types: dict[tuple[Any, ...], list[Any]] = {}
    cost_types, error_severities, fields = _COST_TYPES, _ERROR_SEVERITIES, _FIELDS
    for r in rows:
        (tenant, ts, agent, session, etype, severity, source, cost, tin, tout, dur, model, provider, tool, cread,
         cwrite) = fields(r)
        hour = ts - ts % HOUR_US
        metric = 1 if source == "otlp_metric" else 0
        error = 1 if (etype == "tool_error" or severity in error_severities) else 0
        skey = (tenant, hour, agent, session, metric)
        s = sessions.get(skey)
        if s is None:
            s = sessions[skey] = [0, 0, 0, 0.0, 0, 0.0, 0, 0, 0, 0, 0]
        s[0] += 1
        s[2] += error
        tkey = (tenant, hour, etype, model or "", provider or "", tool or "", metric)
        t = types.get(tkey)
        if t is None:
            t = types[tkey] = [0, 0, 0.0, 0, 0, 0, 0, 0.0, 0]
        t[0] += 1
        t[1] += error
        if dur is not None:
            t[7] += dur
            t[8] += 1
        if etype == "tool_call":
            s[1] += 1
        elif etype == "tool_response":
            if dur is not None:
                s[3] += dur
                s[4] += 1
        elif etype in cost_types:
            cost, tin, tout, cread, cwrite = cost or 0.0, tin or 0, tout or 0, cread or 0, cwrite or 0
            s[5] += cost
            s[6] += 1
            s[7] += tin
            s[8] += tout
            s[9] += cread
            s[10] += cwrite
            t[2] += cost
            t[3] += tin
            t[4] += tout
            t[5] += cread
            t[6] += cwrite
    session_rows: list[SessionRollupRow] = [(*k, *v) for k, v in sorted(sessions.items())]
    type_rows: list[TypeRollupRow] = [(*k, *v) for k, v in sorted(types.items())]
    return session_rows, type_rows


_INT64_MAX = (1 << 63) - 1


def span_cutoff_ns(cutoff_us: int) -> int:
    """The retention cutoff in span nanoseconds, clamped to a 64-bit column (far-future cutoffs)."""
    return min(cutoff_us * 1000, _INT64_MAX)


def rollup_countable(q: EventQuery) -> bool:
    """Whether ``count_events(q)`` can be summed from the hourly per-type rollup.

    True when the only filters are event types and ``exclude_metrics``: the rollup holds exact
    counts per (hour, type, metric-or-not), kept in the ingest transaction and by retention, so
    the total of a million events costs a few thousand rollup rows instead of a million index
    entries.
    """
    return not (q.session_id or q.agent_id or q.severities or q.search or q.from_us is not None
                or q.to_us is not None)
