"""The async store contract every backend implements; its docstrings are the contract."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from store.aggregates import (
    AgentSessionStats,
    EventAgg,
    EventAggQuery,
    PercentileQuery,
    PercentileRow,
    SessionAgg,
    SessionAggQuery,
    SessionCost,
)
from store.model import (
    Agent,
    AgentPatch,
    AlertHistoryEntry,
    AlertHistoryPage,
    AlertRule,
    AlertRuleInput,
    AlertRulePatch,
    AlertWindowStats,
    AnalyticsParams,
    AnalyticsResult,
    ApiKey,
    ChainVerification,
    EventPage,
    EventQuery,
    InsertResult,
    NewEvent,
    RetentionResult,
    Session,
    SessionPage,
    SessionPatch,
    SessionQuery,
    StorageStats,
    StoredEvent,
    VerifiedTimeline,
)
from store.spans import NewSpan, SpanScan, StoredSpan

__all__ = ("CommitCallback", "Store")

# (tenant, ids of events committed by another process)
CommitCallback = Callable[[str, Sequence[str]], Awaitable[None]]


class Store(Protocol):
    """Everything the collector reads and writes.

    Tenancy: every read and every mutation of tenant data takes ``tenant`` and touches only
    that tenant's rows; an id that belongs to another tenant behaves exactly like an unknown
    id. The only tenant-less methods are the ones that exist to discover tenants or keys
    (``list_tenants``, ``find_api_key``, ``count_api_keys``) and whole-database maintenance.

    Errors: methods raise only ``store.errors`` types. ``NotFound``/``Conflict``/``InvalidInput``
    are permanent; ``Unavailable`` and ``StoreClosed`` are retryable.

    Times: ``*_us`` arguments are unix microseconds; ranges are inclusive at both ends.
    """

    dialect: str

    # ------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Close every connection. Idempotent; later calls raise ``StoreClosed``."""

    async def ping(self) -> float:
        """Run a trivial query; return its latency in milliseconds or raise ``Unavailable``."""

    # ------------------------------------------------------------------ writes

    async def insert_events(self, events: Sequence[NewEvent], spans: Sequence[NewSpan] = ()) -> InsertResult:
        """Append events to their session chains in one transaction.

        Atomic: either every event is handled or nothing changes. Durable on return.
        Order: events are appended in the given order; per ``(tenant, session)`` each new
        event gets ``seq = previous seq + 1`` and ``prev_hash`` = the previous event's hash
        (``None`` and ``seq = 0`` for the first event of a session), then its hash.
        Idempotent for ids: an event whose ``(tenant, id)`` already exists, or appeared
        earlier in the same call, is a duplicate: it is not stored, not chained and changes
        no counter; its outcome carries the stored event's hash.
        Sessions and agents are created and their counters maintained in the same
        transaction, for inserted events only (events.md §8-9).
        Concurrent callers (even in other processes) appending to the same session are
        serialized so the chain stays linear.
        The hourly analytics rollups are incremented for the inserted events, and ``spans`` are
        stored, in the same transaction; a span whose ``(tenant, trace, span)`` is already stored
        is left unchanged, and so is a stored resource record.
        """

    async def upsert_session(self, tenant: str, patch: SessionPatch) -> Session:
        """Create the session or update the given fields; returns the stored row."""

    async def upsert_agent(self, tenant: str, patch: AgentPatch) -> Agent:
        """Create the agent or update the given fields; returns the stored row."""

    # ------------------------------------------------------------------ events

    async def query_events(self, tenant: str, query: EventQuery) -> EventPage:
        """Filtered page of events ordered by (time, id) in ``query.order``.

        ``limit`` is used as given (callers clamp it); ``total`` counts every match.
        """

    async def count_events(self, tenant: str, query: EventQuery) -> int:
        """Number of events matching the filters of ``query`` (limit/offset ignored)."""

    async def get_event(self, tenant: str, event_id: str) -> StoredEvent | None:
        """The event, or ``None`` when it does not exist for this tenant."""

    async def get_events_by_ids(self, tenant: str, event_ids: Sequence[str]) -> list[StoredEvent]:
        """The events with these ids that exist for the tenant, ordered by (time, id)."""

    async def get_session_timeline(
        self, tenant: str, session_id: str, *, limit: int | None = None, after: str | None = None,
    ) -> list[StoredEvent]:
        """Events of one session ordered by (time asc, id asc).

        ``after`` is an event id: only events strictly after it in that order are returned
        (an unknown id gives an empty list). ``limit=None`` returns all of them.
        """

    def iter_session_timeline(
        self, tenant: str, session_id: str, *, chunk_size: int = 1000,
    ) -> AsyncIterator[list[StoredEvent]]:
        """The whole timeline in chunks, never holding more than one chunk in memory."""

    async def get_verified_timeline(
        self, tenant: str, session_id: str, *, max_events: int,
    ) -> VerifiedTimeline | None:
        """Verify the session's chain and, when it holds at most ``max_events`` events, return them
        in time order from the same snapshot (one read serves both). ``None`` when unknown.
        """

    async def verify_session(self, tenant: str, session_id: str) -> ChainVerification | None:
        """Walk the session chain in ``seq`` order recomputing every hash.

        A chain whose head was deleted by retention must start right after a recorded anchor
        (``anchored=True``). Reads in bounded chunks. ``None`` when the session is unknown.
        """

    # ------------------------------------------------------------------ sessions, agents

    async def query_sessions(self, tenant: str, query: SessionQuery) -> SessionPage:
        """Sessions ordered by ``startedAt`` desc (ties by id desc); ``idle`` is derived."""

    async def count_sessions(self, tenant: str, query: SessionQuery) -> int:
        """Number of sessions matching the filters of ``query``."""

    async def get_session(self, tenant: str, session_id: str) -> Session | None:
        """The session with ``idle`` derived, or ``None``."""

    async def list_agents(self, tenant: str) -> list[Agent]:
        """All agents ordered by ``lastSeenAt`` desc; ``sessionCount`` counted from sessions."""

    async def get_agent(self, tenant: str, agent_id: str) -> Agent | None:
        """The agent, or ``None``."""

    # ------------------------------------------------------------------ analytics, stats

    async def get_analytics(self, tenant: str, params: AnalyticsParams) -> AnalyticsResult:
        """Bucketed counts over ``[from_us, to_us]``; empty buckets are omitted."""

    async def aggregate_sessions(self, tenant: str, query: SessionAggQuery) -> list[SessionAgg]:
        """Event counters and distinct sessions/agents per bucket (and agent), buckets ascending.

        Whole hours come from the hourly rollup, the partial hours at the range's edges from the
        events; buckets (and groups) without events are omitted.
        """

    async def aggregate_events(self, tenant: str, query: EventAggQuery) -> list[EventAgg]:
        """Sums per bucket and ``group_by`` values (ascending); groups without events are omitted."""

    async def top_sessions_by_cost(self, tenant: str, query: SessionAggQuery, limit: int) -> list[SessionCost]:
        """Sessions with cost events (cost_tracked, llm_response) in the range, by cost desc then id."""

    async def duration_percentiles(self, tenant: str, query: PercentileQuery) -> list[PercentileRow]:
        """Exact percentiles of ``duration_ms`` per bucket and group (events with a duration only)."""

    async def agent_session_stats(self, tenant: str, from_us: int, to_us: int) -> list[AgentSessionStats]:
        """Per agent: sessions started in the range and their counters (by session count desc)."""

    # ------------------------------------------------------------------ spans (Tempo API)

    async def scan_spans(self, tenant: str, scan: SpanScan) -> list[StoredSpan]:
        """Spans started in the scan's range matching its filter, newest first (keyset pages)."""

    async def get_trace_spans(self, tenant: str, trace_ids: Sequence[str]) -> list[StoredSpan]:
        """Every stored span of these traces, ordered by (trace, start, span id)."""

    async def list_span_resources(self, tenant: str, since_ns: int, limit: int) -> list[tuple[str, str]]:
        """(key, resource json) of resources seen with spans started at or after ``since_ns``, newest first."""

    async def get_trace_events(
        self, tenant: str, session_ids: Sequence[str], from_us: int, to_us: int, limit: int,
    ) -> list[StoredEvent]:
        """Events of these sessions in ``[from_us, to_us]`` that did not come from a span (time order)."""

    async def get_alert_window_stats(
        self, tenant: str, from_us: int, to_us: int, *, agent_id: str | None, tags: Sequence[str] | None,
    ) -> AlertWindowStats:
        """Aggregates for alert evaluation, OTLP metric events excluded.

        ``tags`` (any-of) restricts to events of sessions carrying one of them.
        """

    async def get_stats(self, tenant: str) -> StorageStats:
        """Tenant counts, oldest/newest event timestamp, and the database size in bytes."""

    # ------------------------------------------------------------------ alert rules and history

    async def create_alert_rule(self, tenant: str, rule: AlertRuleInput) -> AlertRule:
        """Store a new rule with a fresh id and ``createdAt = updatedAt = now``."""

    async def update_alert_rule(self, tenant: str, rule_id: str, patch: AlertRulePatch) -> AlertRule:
        """Apply the patch and bump ``updatedAt``; ``NotFound`` when the rule does not exist."""

    async def delete_alert_rule(self, tenant: str, rule_id: str) -> None:
        """Delete the rule, keeping its history; ``NotFound`` when it does not exist."""

    async def list_alert_rules(self, tenant: str) -> list[AlertRule]:
        """Every rule of the tenant in creation order."""

    async def get_alert_rule(self, tenant: str, rule_id: str) -> AlertRule | None:
        """The rule, or ``None``."""

    async def insert_alert_history(self, tenant: str, entry: AlertHistoryEntry) -> None:
        """Record one firing."""

    async def resolve_alert_history(self, tenant: str, entry_id: str, resolved_at: str) -> None:
        """Set ``resolvedAt`` on an open entry; ``NotFound`` when it does not exist."""

    async def list_alert_history(
        self, tenant: str, *, rule_id: str | None = None, limit: int = 50, offset: int = 0,
    ) -> AlertHistoryPage:
        """History entries newest first (``triggeredAt`` desc, id desc)."""

    # ------------------------------------------------------------------ api keys and settings

    async def create_api_key(self, key: ApiKey) -> None:
        """Store a key record (hash only). ``Conflict`` if the id or hash already exists."""

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The key with this sha256 hash, revoked or not, or ``None``; the one tenant-less lookup."""

    async def list_api_keys(self, tenant: str | None) -> list[ApiKey]:
        """Keys of one tenant (``None``: of every tenant), oldest first."""

    async def revoke_api_key(self, tenant: str | None, key_id: str, when: int) -> ApiKey:
        """Set ``revokedAt``; ``NotFound`` if unknown for the tenant, ``Conflict`` if already revoked."""

    async def touch_api_key(self, key_id: str, when: int) -> None:
        """Record ``lastUsedAt`` (best effort)."""

    async def count_api_keys(self) -> int:
        """Number of keys that are neither revoked nor expired, over all tenants."""

    async def get_settings(self, tenant: str) -> dict[str, str]:
        """The tenant's stored settings (``config_kv``) as raw text values."""

    async def put_settings(self, tenant: str, values: Mapping[str, str]) -> None:
        """Store settings for the tenant, replacing the given keys only."""

    # ------------------------------------------------------------------ many replicas

    async def listen_commits(self, callback: CommitCallback) -> Callable[[], Awaitable[None]]:
        """Call ``callback(tenant, event_ids)`` for events committed by OTHER processes on this database.

        PostgreSQL fans out with LISTEN/NOTIFY; SQLite (one process per file) never calls back.
        Returns an async function that stops listening.
        """

    async def is_leader(self, name: str) -> bool:
        """Whether this process holds (or just took) the leadership named ``name``.

        Scheduled jobs run only on the leader. PostgreSQL: a session-level advisory lock on a
        dedicated connection, lost when that connection dies so another process takes over.
        SQLite: always true.
        """

    # ------------------------------------------------------------------ maintenance

    async def list_tenants(self) -> list[str]:
        """Every tenant that owns events, sessions, rules or keys."""

    async def apply_retention(self, tenant: str, cutoff_us: int, *, batch_size: int = 5000) -> RetentionResult:
        """Delete the tenant's events with time <= ``cutoff_us`` and sessions left empty.

        Deletes in transactions of at most ``batch_size`` events so ingest keeps flowing.
        Before a chain loses its head, an anchor records the last deleted hash and seq, so
        the rest of the chain still verifies. The only code path that deletes events.
        """

    async def record_retention_run(
        self, *, started_at: str, cutoff: str, results: Sequence[tuple[str, RetentionResult]], duration_ms: float,
    ) -> None:
        """Write the audit row of one retention run (per-tenant counts included)."""

    async def list_retention_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest retention audit rows first: ``{startedAt, cutoff, deletedCount, sessionsDeleted,
        anchoredSessions, durationMs, tenants: [{tenantId, deletedCount, sessionsDeleted, anchoredSessions}]}``.
        """
