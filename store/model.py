"""Domain types shared by the store interface, both backends and the collector (stdlib only)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, NamedTuple, TypeVar, cast

__all__ = (
    "CLIENT_EVENT_TYPES",
    "EVENT_TYPES",
    "SERVER_ONLY_EVENT_TYPES",
    "SEVERITIES",
    "Agent",
    "AgentPatch",
    "AlertCondition",
    "AlertHistoryEntry",
    "AlertHistoryPage",
    "AlertRule",
    "AlertRuleInput",
    "AlertRulePatch",
    "AlertWindowStats",
    "AnalyticsBucket",
    "AnalyticsParams",
    "AnalyticsResult",
    "AnalyticsTotals",
    "ApiKey",
    "ChainVerification",
    "EventFacts",
    "EventOutcome",
    "EventPage",
    "EventQuery",
    "Granularity",
    "InsertResult",
    "NewEvent",
    "RetentionResult",
    "Session",
    "SessionPage",
    "SessionPatch",
    "SessionQuery",
    "Severity",
    "StorageStats",
    "StoredEvent",
    "VerifiedTimeline",
    "from_fields",
)

_Row = TypeVar("_Row", bound=tuple[Any, ...])


def from_fields(cls: type[_Row]) -> Callable[[Iterable[Any]], _Row]:
    """Make ``cls`` (a named tuple) from all its fields in C, for the per-event paths.

    ``cls(...)`` and ``cls._make`` run a Python-level function per row.
    """
    return cast("Callable[[Iterable[Any]], _Row]", partial(tuple.__new__, cls))

Severity = Literal["debug", "info", "warn", "error", "critical"]
SEVERITIES: tuple[str, ...] = ("debug", "info", "warn", "error", "critical")

# The 21 types a client may post to POST /api/events (events.md §2).
CLIENT_EVENT_TYPES: tuple[str, ...] = (
    "session_started", "session_ended", "tool_call", "tool_response", "tool_error",
    "approval_requested", "approval_granted", "approval_denied", "approval_expired",
    "form_submitted", "form_completed", "form_expired", "cost_tracked", "llm_call",
    "llm_response", "alert_triggered", "alert_resolved", "retrieval", "embedding",
    "chain_step", "custom",
)
# Produced only by the server's own receivers; rejected on POST /api/events.
SERVER_ONLY_EVENT_TYPES: tuple[str, ...] = (
    "error", "eval_result", "human_score", "feedback", "skill_activated",
)
EVENT_TYPES: tuple[str, ...] = CLIENT_EVENT_TYPES + SERVER_ONLY_EVENT_TYPES

SessionStatus = Literal["active", "completed", "error"]
Granularity = Literal["hour", "day", "week"]
AlertCondition = Literal[
    "error_rate_exceeds", "cost_exceeds", "latency_exceeds", "event_count_exceeds", "no_events_for",
]


# --------------------------------------------------------------------------- events


class EventFacts(NamedTuple):
    """Values pulled out of an event's payload/metadata once, at ingest.

    The store keeps them in their own columns so that session counters, analytics and
    filters never parse JSON text. Every field is ``None`` when the event does not carry it.
    (Named tuples, like ``NewEvent``: built once per ingested event, a tuple is cheap to make.)
    """

    source: str | None = None          # metadata.source ("otlp", "otlp_genai", "otlp_metric", ...)
    cost_usd: float | None = None      # payload.costUsd of cost_tracked / llm_response
    input_tokens: int | None = None    # llm_response usage.inputTokens, cost_tracked inputTokens
    output_tokens: int | None = None
    duration_ms: float | None = None   # tool_response/tool_error durationMs, llm_response latencyMs
    model: str | None = None
    provider: str | None = None
    tool_name: str | None = None
    agent_name: str | None = None      # session_started.payload.agentName
    tags: tuple[str, ...] | None = None  # session_started.payload.tags
    end_reason: str | None = None      # session_ended.payload.reason
    cache_read_tokens: int | None = None   # cost_tracked / llm_response: X, else usage.X (cacheReadTokens)
    cache_write_tokens: int | None = None  # likewise cacheWriteTokens


class NewEvent(NamedTuple):
    """A validated event ready to be appended to its session chain.

    ``payload_json`` and ``metadata_json`` are the exact canonical (JS ``JSON.stringify``)
    text that is hashed and stored. ``prev_hash``, ``hash`` and ``seq`` are assigned by the
    store inside the write transaction, because they depend on what is already stored.
    """

    tenant_id: str
    id: str
    # True when the id came from a client or was derived deterministically (OTLP): the store
    # must look for an existing event with that id. Fresh server ULIDs skip the lookup.
    dedupe: bool
    timestamp: str            # verbatim RFC 3339 text, hashed as is
    ts_us: int                # the same instant as unix microseconds (the normalized column)
    session_id: str
    agent_id: str
    event_type: str
    severity: str
    payload_json: str
    metadata_json: str
    facts: EventFacts = EventFacts()


class StoredEvent(NamedTuple):
    """An event as stored: the AgentLens event fields plus its chain position.

    A named tuple rather than a dataclass: reads build thousands of these per request and
    a tuple is built from a database row in one C call (``StoredEvent._make(row)``); the field
    order is the backends' SELECT column order.
    """

    id: str
    timestamp: str
    session_id: str
    agent_id: str
    event_type: str
    severity: str
    payload_json: str
    metadata_json: str
    prev_hash: str | None
    hash: str
    tenant_id: str
    seq: int
    ts_us: int


class EventOutcome(NamedTuple):
    """What happened to one event of an insert: stored, or recognised as a duplicate."""

    id: str
    hash: str
    duplicate: bool
    session_id: str


@dataclass(frozen=True, slots=True)
class InsertResult:
    """Outcomes in input order, and the sessions whose rows changed (for live updates)."""

    outcomes: tuple[EventOutcome, ...]
    inserted: int
    duplicates: int
    sessions_touched: tuple[tuple[str, str], ...] = ()   # (tenant_id, session_id)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickled by the SQLite writer process for every insert: outcomes as four columns cost one
        # call here and a C loop to rebuild, not a Python-level __new__ per event on each side.
        columns = tuple(zip(*self.outcomes, strict=True)) or ((), (), (), ())
        return _insert_result, (columns, self.inserted, self.duplicates, self.sessions_touched)


_new_outcome = from_fields(EventOutcome)


def _insert_result(
    columns: tuple[tuple[Any, ...], ...], inserted: int, duplicates: int, touched: tuple[tuple[str, str], ...],
) -> InsertResult:
    outcomes = tuple(map(_new_outcome, zip(*columns, strict=True)))
    return InsertResult(outcomes, inserted, duplicates, touched)


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters for ``query_events`` / ``count_events``; times are unix microseconds, inclusive."""

    session_id: str | None = None
    agent_id: str | None = None
    event_types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    from_us: int | None = None
    to_us: int | None = None
    search: str | None = None
    exclude_metrics: bool = False
    limit: int = 50
    offset: int = 0
    order: Literal["asc", "desc"] = "desc"


@dataclass(frozen=True, slots=True)
class EventPage:
    events: tuple[StoredEvent, ...]
    total: int
    has_more: bool


# --------------------------------------------------------------------------- sessions, agents


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    agent_id: str
    agent_name: str | None
    started_at: str
    ended_at: str | None
    status: str
    idle: bool
    event_count: int
    tool_call_count: int
    error_count: int
    total_cost_usd: float
    llm_call_count: int
    total_input_tokens: int
    total_output_tokens: int
    tags: tuple[str, ...]
    tenant_id: str
    last_event_at: str | None = None


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """Filters for ``query_sessions``; ``statuses`` may include the derived ``idle``."""

    agent_id: str | None = None
    statuses: tuple[str, ...] = ()
    from_us: int | None = None
    to_us: int | None = None
    tags: tuple[str, ...] = ()
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class SessionPage:
    sessions: tuple[Session, ...]
    total: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class SessionPatch:
    """Fields for ``upsert_session``; ``None`` means "leave as is" (or default on insert)."""

    id: str
    agent_id: str | None = None
    agent_name: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    status: str | None = None
    event_count: int | None = None
    tool_call_count: int | None = None
    error_count: int | None = None
    total_cost_usd: float | None = None
    llm_call_count: int | None = None
    total_input_tokens: int | None = None
    total_output_tokens: int | None = None
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    name: str
    description: str | None
    first_seen_at: str
    last_seen_at: str
    session_count: int
    tenant_id: str


@dataclass(frozen=True, slots=True)
class AgentPatch:
    id: str
    name: str | None = None
    description: str | None = None
    last_seen_at: str | None = None


@dataclass(frozen=True, slots=True)
class ChainVerification:
    """Result of walking one session chain in ``seq`` order (events.md §7)."""

    valid: bool
    failed_at_seq: int | None
    reason: str | None
    event_count: int
    anchored: bool


@dataclass(frozen=True, slots=True)
class VerifiedTimeline:
    """A session's events in time order with the verification of its chain, read in one snapshot.

    ``events`` is ``None`` when the session holds more events than the caller wanted in memory.
    """

    events: list[StoredEvent] | None
    verification: ChainVerification


# --------------------------------------------------------------------------- analytics


@dataclass(frozen=True, slots=True)
class AnalyticsParams:
    from_us: int
    to_us: int
    granularity: Granularity = "hour"
    agent_id: str | None = None
    exclude_metrics: bool = False


@dataclass(frozen=True, slots=True)
class AnalyticsBucket:
    timestamp: str
    event_count: int
    tool_call_count: int
    error_count: int
    avg_latency_ms: float
    total_cost_usd: float
    unique_sessions: int


@dataclass(frozen=True, slots=True)
class AnalyticsTotals:
    event_count: int
    tool_call_count: int
    error_count: int
    avg_latency_ms: float
    total_cost_usd: float
    unique_sessions: int
    unique_agents: int


@dataclass(frozen=True, slots=True)
class AnalyticsResult:
    buckets: tuple[AnalyticsBucket, ...]
    totals: AnalyticsTotals


@dataclass(frozen=True, slots=True)
class AlertWindowStats:
    """Aggregates an alert rule is evaluated on (OTLP metric events excluded)."""

    event_count: int
    error_count: int
    total_cost_usd: float
    avg_latency_ms: float


@dataclass(frozen=True, slots=True)
class StorageStats:
    total_events: int
    total_sessions: int
    total_agents: int
    oldest_event: str | None
    newest_event: str | None
    storage_size_bytes: int


# --------------------------------------------------------------------------- alerts


@dataclass(frozen=True, slots=True)
class AlertRuleInput:
    name: str
    condition: str
    threshold: float
    window_minutes: int
    enabled: bool = True
    scope_agent_id: str | None = None
    scope_tags: tuple[str, ...] | None = None
    notify_channels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertRulePatch:
    name: str | None = None
    condition: str | None = None
    threshold: float | None = None
    window_minutes: int | None = None
    enabled: bool | None = None
    # scope is replaced as a whole when ``scope_set`` is true
    scope_set: bool = False
    scope_agent_id: str | None = None
    scope_tags: tuple[str, ...] | None = None
    notify_channels: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class AlertRule:
    id: str
    name: str
    enabled: bool
    condition: str
    threshold: float
    window_minutes: int
    scope_agent_id: str | None
    scope_tags: tuple[str, ...] | None
    notify_channels: tuple[str, ...]
    created_at: str
    updated_at: str
    tenant_id: str


@dataclass(frozen=True, slots=True)
class AlertHistoryEntry:
    id: str
    rule_id: str
    triggered_at: str
    resolved_at: str | None
    current_value: float
    threshold: float
    message: str
    tenant_id: str


@dataclass(frozen=True, slots=True)
class AlertHistoryPage:
    entries: tuple[AlertHistoryEntry, ...]
    total: int
    has_more: bool


# --------------------------------------------------------------------------- keys, retention


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key record; the raw key is never stored, only ``key_hash`` (sha256 hex)."""

    id: str
    key_hash: str
    name: str
    scopes: tuple[str, ...]
    tenant_id: str
    created_at: int            # unix seconds
    last_used_at: int | None = None
    revoked_at: int | None = None
    expires_at: int | None = None


@dataclass(frozen=True, slots=True)
class RetentionResult:
    deleted_count: int
    sessions_deleted: int
    anchored_sessions: int
    cutoff_us: int
