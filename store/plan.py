"""Plan an insert: dedupe, chain, and session/agent state changes, computed once for every backend.

A backend reads what the plan needs (existing ids, session heads, agent rows) inside its write
transaction, calls ``plan_insert`` and writes the rows it returns. Keeping the rules here means
both dialects maintain counters and chains identically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from store.canonical import event_hash
from store.model import EventOutcome, NewEvent, from_fields

__all__ = (
    "EVENT_COLUMNS",
    "AgentState",
    "InsertPlan",
    "SessionState",
    "plan_insert",
)

# Column order of the tuples in ``InsertPlan.event_rows`` (both backends insert in this order).
EVENT_COLUMNS: tuple[str, ...] = (
    "tenant_id", "id", "seq", "timestamp", "ts", "session_id", "agent_id", "event_type",
    "severity", "payload", "metadata", "prev_hash", "hash", "source", "cost_usd",
    "input_tokens", "output_tokens", "duration_ms", "model", "provider", "tool_name",
    "cache_read_tokens", "cache_write_tokens",
)

_ERROR_SEVERITIES = frozenset({"error", "critical"})

EventRow = tuple[
    str, str, int, str, int, str, str, str, str, str, str, str | None, str, str | None,
    float | None, int | None, int | None, float | None, str | None, str | None, str | None,
    int | None, int | None,
]


@dataclass(slots=True)
class SessionState:
    """A session row as the plan sees it; ``exists`` says whether it is already stored."""

    tenant_id: str
    id: str
    agent_id: str
    agent_name: str | None
    started_at: str
    started_ts: int
    ended_at: str | None = None
    status: str = "active"
    event_count: int = 0
    tool_call_count: int = 0
    error_count: int = 0
    total_cost_usd: float = 0.0
    llm_call_count: int = 0
    total_input_tokens: int = 0
    total_output_tokens: int = 0
    tags: tuple[str, ...] = ()
    last_event_at: str | None = None
    last_event_ts: int | None = None
    chain_seq: int = -1
    chain_head: str | None = None
    exists: bool = False
    tags_changed: bool = False


@dataclass(slots=True)
class AgentState:
    tenant_id: str
    id: str
    name: str
    first_seen_at: str
    first_seen_ts: int
    last_seen_at: str
    last_seen_ts: int
    exists: bool = False


_outcome = from_fields(EventOutcome)


@dataclass(slots=True)
class InsertPlan:
    event_rows: list[EventRow] = field(default_factory=list)
    outcomes: list[EventOutcome] = field(default_factory=list)
    sessions: list[SessionState] = field(default_factory=list)
    agents: list[AgentState] = field(default_factory=list)
    inserted: int = 0
    duplicates: int = 0


def plan_insert(
    events: Sequence[NewEvent],
    *,
    existing: Mapping[tuple[str, str], str],
    sessions: Mapping[tuple[str, str], SessionState],
    agents: Mapping[tuple[str, str], AgentState],
) -> InsertPlan:
    """Decide, in input order, which events are stored and what every touched row becomes.

    ``existing`` maps (tenant, id) -> stored hash for the ids that are already stored;
    ``sessions`` / ``agents`` hold the stored rows (``exists=True``) of the touched keys.
    """
    plan = InsertPlan()
    seen: dict[tuple[str, str], str] = dict(existing)
    touched_sessions: dict[tuple[str, str], SessionState] = {}
    touched_agents: dict[tuple[str, str], AgentState] = {}
    rows = plan.event_rows
    outcomes = plan.outcomes

    for ev in events:
        key = (ev.tenant_id, ev.id)
        if ev.dedupe:
            stored_hash = seen.get(key)
            if stored_hash is not None:
                outcomes.append(_outcome((ev.id, stored_hash, True, ev.session_id)))
                plan.duplicates += 1
                continue

        skey = (ev.tenant_id, ev.session_id)
        session = touched_sessions.get(skey)
        if session is None:
            session = sessions.get(skey) or SessionState(
                tenant_id=ev.tenant_id, id=ev.session_id, agent_id=ev.agent_id, agent_name=None,
                started_at=ev.timestamp, started_ts=ev.ts_us,
            )
            touched_sessions[skey] = session

        seq = session.chain_seq + 1
        prev = session.chain_head
        digest = event_hash(
            event_id=ev.id, timestamp=ev.timestamp, session_id=ev.session_id, agent_id=ev.agent_id,
            event_type=ev.event_type, severity=ev.severity, payload_json=ev.payload_json,
            metadata_json=ev.metadata_json, prev_hash=prev,
        )
        session.chain_seq = seq
        session.chain_head = digest
        seen[key] = digest
        f = ev.facts
        rows.append((
            ev.tenant_id, ev.id, seq, ev.timestamp, ev.ts_us, ev.session_id, ev.agent_id,
            ev.event_type, ev.severity, ev.payload_json, ev.metadata_json, prev, digest,
            f.source, f.cost_usd, f.input_tokens, f.output_tokens, f.duration_ms, f.model,
            f.provider, f.tool_name, f.cache_read_tokens, f.cache_write_tokens,
        ))
        outcomes.append(_outcome((ev.id, digest, False, ev.session_id)))
        plan.inserted += 1
        _apply_to_session(session, ev)

        akey = (ev.tenant_id, ev.agent_id)
        agent = touched_agents.get(akey)
        if agent is None:
            agent = agents.get(akey) or AgentState(
                tenant_id=ev.tenant_id, id=ev.agent_id, name=ev.agent_id,
                first_seen_at=ev.timestamp, first_seen_ts=ev.ts_us,
                last_seen_at=ev.timestamp, last_seen_ts=ev.ts_us,
            )
            touched_agents[akey] = agent
        _apply_to_agent(agent, ev)

    plan.sessions = list(touched_sessions.values())
    plan.agents = list(touched_agents.values())
    return plan


def _apply_to_session(s: SessionState, ev: NewEvent) -> None:
    """events.md §8, for one inserted event."""
    f = ev.facts
    etype = ev.event_type
    s.event_count += 1
    if s.last_event_ts is None or ev.ts_us >= s.last_event_ts:
        s.last_event_ts = ev.ts_us
        s.last_event_at = ev.timestamp
    if ev.severity in _ERROR_SEVERITIES or etype == "tool_error":
        s.error_count += 1
    if etype == "tool_call":
        s.tool_call_count += 1
    elif etype == "session_started":
        if f.agent_name is not None:
            s.agent_name = f.agent_name
        if f.tags:
            s.tags = f.tags
            s.tags_changed = True
        s.status = "active"
        s.ended_at = None
    elif etype == "session_ended":
        s.ended_at = ev.timestamp
        s.status = "error" if f.end_reason == "error" else "completed"
    elif etype == "llm_response":
        s.llm_call_count += 1
        s.total_input_tokens += f.input_tokens or 0
        s.total_output_tokens += f.output_tokens or 0
    if f.cost_usd is not None:  # only cost_tracked and llm_response carry a cost fact
        s.total_cost_usd += f.cost_usd


def _apply_to_agent(a: AgentState, ev: NewEvent) -> None:
    """events.md §9: name from the first session_started agentName; times never move backwards."""
    if ev.event_type == "session_started" and ev.facts.agent_name and a.name == a.id:
        a.name = ev.facts.agent_name
    if ev.ts_us > a.last_seen_ts:
        a.last_seen_ts, a.last_seen_at = ev.ts_us, ev.timestamp
    if ev.ts_us < a.first_seen_ts:
        a.first_seen_ts, a.first_seen_at = ev.ts_us, ev.timestamp
