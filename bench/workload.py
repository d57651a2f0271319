"""Realistic AgentLens event streams: many agents, scripted sessions of 10-1000 events, all types."""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from store.ids import MonotonicUlid
from store.timefmt import format_ms

__all__ = ("FinishedSession", "ReplayStream", "SessionPlan", "Workload")

_PROVIDERS = (
    ("openai", ("gpt-4o", "gpt-4o-mini", "o3-mini")),
    ("anthropic", ("claude-sonnet-4", "claude-3-5-haiku")),
    ("google", ("gemini-2.0-flash",)),
)
_TOOLS = (
    "web_search", "read_file", "write_file", "run_sql", "http_get", "send_email", "create_ticket",
    "lookup_customer", "calculator", "vector_search", "shell", "calendar_create",
)
_AGENT_KINDS = ("support", "research", "coding", "billing", "triage", "sales", "ops", "qa")
_TAGS = ("prod", "staging", "eu", "us", "beta", "batch", "interactive", "vip", "nightly", "canary")
_ERRORS = (
    "TimeoutError: upstream did not answer within 30000 ms",
    "HTTP 429 Too Many Requests: rate limit exceeded, retry after 20s",
    "PermissionError: [Errno 13] Permission denied: '/srv/data/report.csv'",
    "sqlite3.OperationalError: no such column: customer_tier",
)
_SDK_META = ({"sdk": "agentlens-python/0.4.2"}, {"sdk": "agentlens-ts/1.3.0", "runtime": "node-20"})

_WORDS_SEED = 7919


def _vocabulary(rng: random.Random, n: int = 1500) -> list[str]:
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    weights = [13, 9, 8, 8, 7, 7, 6, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1]
    return ["".join(rng.choices(letters, weights, k=rng.randint(2, 10))) for _ in range(n)]


@dataclass(slots=True)
class SessionPlan:
    """One session being emitted: its script position and what it will do next."""

    id: str
    agent_id: str
    agent_name: str
    length: int            # events this session will have in total
    ends: bool             # whether its last event is session_ended
    emitted: int = 0
    pending: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)  # (type, payload, severity)
    turn: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class FinishedSession:
    id: str
    agent_id: str
    length: int
    ended: bool


class Workload:
    """A deterministic event source (for one client stream, or for the seeder).

    ``take(n, start_us, end_us)`` returns ``n`` native ingest events (dicts ready for JSON)
    whose timestamps are spread over ``(start_us, end_us]``, drawn from ``concurrent`` sessions
    that interleave in bursts. A session's events always come out in order, so sending the
    batches in order keeps every chain in order. Heavy text is generated once into pools at
    construction, so producing an event costs a few microseconds.
    """

    def __init__(
        self, seed: int, *, stream: str, agents: int = 100, concurrent: int = 8, client_id_fraction: float = 0.3,
        long_session_every: int = 0, min_length: int = 10, max_length: int = 1000,
    ) -> None:
        self.rng = random.Random(seed)
        self.stream = stream
        self.client_id_fraction = client_id_fraction
        self.long_session_every = long_session_every
        self.min_length, self.max_length = min_length, max_length
        self.agents = [(f"{_AGENT_KINDS[i % len(_AGENT_KINDS)]}-agent-{i:03d}",
                        f"{_AGENT_KINDS[i % len(_AGENT_KINDS)].title()} agent #{i}") for i in range(agents)]
        self.finished: list[FinishedSession] = []
        self.sessions_started = 0
        self._ulid = MonotonicUlid()
        self._pools(random.Random(_WORDS_SEED))
        self.active = [self._new_session() for _ in range(concurrent)]

    # ------------------------------------------------------------------ text pools

    def _pools(self, rng: random.Random) -> None:
        words = _vocabulary(rng)

        def text(lo: int, hi: int) -> str:
            target = rng.randint(lo, hi)
            out: list[str] = []
            size = 0
            while size < target:
                w = rng.choice(words)
                out.append(w)
                size += len(w) + 1
            s = " ".join(out)
            return s[0].upper() + s[1:] + "."

        self.system_prompts = [text(150, 600) for _ in range(40)]
        self.user_texts = [text(60, 1100) for _ in range(400)]
        self.completions = [text(80, 1000) for _ in range(400)]
        self.results = [text(60, 1200) for _ in range(300)]
        self.short = [text(20, 120) for _ in range(300)]

    # ------------------------------------------------------------------ sessions

    def _new_session(self) -> SessionPlan:
        rng = self.rng
        self.sessions_started += 1
        agent_id, agent_name = rng.choice(self.agents)
        if self.long_session_every and self.sessions_started % self.long_session_every == 0:
            length = self.max_length
        else:
            # log-uniform between min and max: many short sessions, a long tail of long ones
            length = int(self.min_length * math.exp(rng.random() * math.log(self.max_length / self.min_length)))
        ends = rng.random() < 0.75
        sid = f"ses_{self.stream}_{rng.getrandbits(64):016x}"
        return SessionPlan(sid, agent_id, agent_name, max(length, 2), ends)

    def _script(self, s: SessionPlan) -> tuple[str, dict[str, Any], str]:
        """The next (type, payload, severity) of a session."""
        rng = self.rng
        remaining = s.length - s.emitted
        if s.emitted == 0:
            return "session_started", {
                "agentName": s.agent_name, "agentVersion": f"1.{rng.randint(0, 9)}.{rng.randint(0, 30)}",
                "mcpClientInfo": {"name": "agentlens-mcp", "version": "0.9.1"},
                "tags": rng.sample(_TAGS, rng.randint(1, 3)),
            }, "info"
        if remaining == 1 and s.ends:
            reason = rng.choices(("completed", "error", "timeout", "manual"), (80, 12, 5, 3))[0]
            return "session_ended", {
                "reason": reason, "summary": rng.choice(self.short), "totalToolCalls": s.turn,
                "totalDurationMs": rng.randint(2_000, 3_600_000),
            }, "error" if reason == "error" else "info"
        if not s.pending:
            s.pending = self._turn(s)
        return s.pending.pop(0)

    def _turn(self, s: SessionPlan) -> list[tuple[str, dict[str, Any], str]]:
        """One agent step: maybe retrieval, an LLM round trip with its cost, maybe a tool call."""
        rng = self.rng
        s.turn += 1
        out: list[tuple[str, dict[str, Any], str]] = []
        roll = rng.random()
        if roll < 0.08:
            out.append(("retrieval", {
                "query": rng.choice(self.short), "retrieverName": "pgvector-docs", "topK": 8,
                "resultCount": rng.randint(0, 8), "durationMs": round(rng.uniform(5, 120), 2),
                "documents": [{"id": f"doc-{rng.randint(1, 99999)}", "score": round(rng.random(), 4)}
                              for _ in range(rng.randint(2, 8))],
            }, "info"))
        elif roll < 0.12:
            out.append(("embedding", {
                "model": "text-embedding-3-small", "inputCount": rng.randint(1, 64), "dimensions": 1536,
                "durationMs": round(rng.uniform(20, 400), 2),
            }, "debug"))
        elif roll < 0.20:
            out.append(("chain_step", {
                "name": rng.choice(("plan", "reflect", "summarize", "route")), "stepType": "llm",
                "durationMs": round(rng.uniform(1, 900), 1), "input": rng.choice(self.short),
            }, "debug"))
        provider, models = rng.choice(_PROVIDERS)
        model = rng.choice(models)
        call_id = f"call_{rng.getrandbits(48):012x}"
        messages: list[dict[str, Any]] = [{"role": "user", "content": rng.choice(self.user_texts)}]
        if rng.random() < 0.3:
            messages.append({"role": "assistant", "content": rng.choice(self.short)})
            messages.append({"role": "user", "content": rng.choice(self.short)})
        llm_call: dict[str, Any] = {
            "callId": call_id, "provider": provider, "model": model, "messages": messages,
            "systemPrompt": rng.choice(self.system_prompts),
            "parameters": {"temperature": rng.choice((0, 0.2, 0.7)), "maxTokens": rng.choice((512, 1024, 4096))},
        }
        if rng.random() < 0.3:
            llm_call["tools"] = [{"name": t, "description": rng.choice(self.short)} for t in rng.sample(_TOOLS, 3)]
        out.append(("llm_call", llm_call, "info"))
        inp, outp = rng.randint(200, 12_000), rng.randint(20, 1_500)
        cost = round(inp * 2.5e-6 + outp * 1e-5, 6)
        tool = rng.random() < 0.55
        tool_name = rng.choice(_TOOLS)
        tool_call_id = f"tc_{rng.getrandbits(48):012x}"
        response: dict[str, Any] = {
            "callId": call_id, "provider": provider, "model": model,
            "completion": None if tool and rng.random() < 0.5 else rng.choice(self.completions),
            "finishReason": "tool_calls" if tool else "stop",
            "usage": {"inputTokens": inp, "outputTokens": outp, "totalTokens": inp + outp,
                      "cacheReadTokens": rng.choice((0, 0, 1024))},
            "costUsd": cost, "latencyMs": rng.randint(300, 9_000),
        }
        if tool:
            response["toolCalls"] = [
                {"id": tool_call_id, "name": tool_name, "arguments": {"q": rng.choice(self.short)}},
            ]
        out.append(("llm_response", response, "info"))
        if rng.random() < 0.5:
            out.append(("cost_tracked", {
                "provider": provider, "model": model, "inputTokens": inp, "outputTokens": outp,
                "totalTokens": inp + outp, "costUsd": cost, "trigger": "llm_response",
            }, "info"))
        if tool:
            out.append(("tool_call", {
                "toolName": tool_name, "callId": tool_call_id, "serverName": "mcp-tools",
                "arguments": {"query": rng.choice(self.short), "limit": rng.randint(1, 50),
                              "options": {"timeoutMs": 30_000, "cache": rng.random() < 0.5}},
            }, "info"))
            duration = round(rng.uniform(2, 4_000), 1)
            if rng.random() < 0.07:
                s.errors += 1
                out.append(("tool_error", {
                    "callId": tool_call_id, "toolName": tool_name, "error": rng.choice(_ERRORS),
                    "errorCode": "E_TOOL", "durationMs": duration,
                }, "error"))
            else:
                out.append(("tool_response", {
                    "callId": tool_call_id, "toolName": tool_name, "durationMs": duration,
                    "result": {"ok": True, "content": rng.choice(self.results)},
                }, "info"))
        roll = rng.random()
        if roll < 0.03:
            req = f"apr_{rng.getrandbits(40):010x}"
            action = rng.choice(("refund.create", "email.send", "deploy.production"))
            out.append(("approval_requested", {
                "requestId": req, "action": action, "urgency": rng.choice(("low", "high")),
                "params": {"amount": rng.randint(5, 900), "currency": "EUR", "note": rng.choice(self.short)},
            }, "info"))
            decision = rng.choices(("approval_granted", "approval_denied", "approval_expired"), (80, 15, 5))[0]
            out.append((decision, {"requestId": req, "action": action, "decidedBy": "ops@example.com",
                                   "reason": rng.choice(self.short)}, "info"))
        elif roll < 0.05:
            sub = f"sub_{rng.getrandbits(40):010x}"
            out.append(("form_submitted", {"submissionId": sub, "formId": "intake-v2", "formName": "Customer intake",
                                           "fieldCount": rng.randint(3, 20)}, "info"))
            out.append(("form_completed", {"submissionId": sub, "formId": "intake-v2", "completedBy": "agent",
                                           "durationMs": rng.randint(1_000, 90_000)}, "info"))
        elif roll < 0.15:
            out.append(("custom", {"type": rng.choice(("checkpoint", "memory_write", "user_feedback")), "data": {
                "note": rng.choice(self.short), "step": s.turn, "score": round(rng.random(), 3),
                "items": [rng.choice(self.short) for _ in range(rng.randint(1, 4))],
            }}, "info"))
        elif roll < 0.152:
            out.append(("alert_triggered", {
                "alertRuleId": "rule-cost", "alertName": "Cost per session", "condition": "cost_exceeds",
                "currentValue": 12.5, "threshold": 10, "message": "Session cost above $10",
            }, "warn"))
        return out

    # ------------------------------------------------------------------ batches

    def _next_event(self, s: SessionPlan) -> tuple[str, dict[str, Any], str]:
        kind, payload, severity = self._script(s)
        s.emitted += 1
        return kind, payload, severity

    def events(self, n: int) -> Iterator[tuple[SessionPlan, str, dict[str, Any], str]]:
        """``n`` (session, type, payload, severity) in emission order: bursts from random active sessions."""
        rng = self.rng
        produced = 0
        while produced < n:
            i = rng.randrange(len(self.active))
            s = self.active[i]
            for _ in range(min(rng.randint(1, 6), n - produced)):
                kind, payload, severity = self._next_event(s)
                produced += 1
                yield s, kind, payload, severity
                if s.emitted >= s.length:
                    self.finished.append(FinishedSession(s.id, s.agent_id, s.length, s.ends))
                    self.active[i] = self._new_session()
                    break

    def take(self, n: int, start_us: int, end_us: int, *, client_ids: bool | None = None) -> list[dict[str, Any]]:
        """``n`` ingest events with timestamps evenly spread over ``(start_us, end_us]``."""
        if client_ids is None:
            client_ids = self.rng.random() < self.client_id_fraction
        step = max(end_us - start_us, n) / n
        out: list[dict[str, Any]] = []
        append = out.append
        for k, (s, kind, payload, severity) in enumerate(self.events(n)):
            ts_us = start_us + int(step * (k + 1))
            event: dict[str, Any] = {
                "sessionId": s.id, "agentId": s.agent_id, "eventType": kind, "severity": severity,
                "timestamp": format_ms(ts_us), "payload": payload,
            }
            if k % 2 == 0:
                event["metadata"] = _SDK_META[(k // 2) % 2]
            if client_ids:
                event["id"] = self._ulid(ts_us // 1000)
            append(event)
        return out


_TS_MARK = "@@TS@@"
_ID_MARK = "@@ID@@"
_CYCLE_MARK = "@@CYCLE@@"
_SLOT = re.compile(rb"@@(TS|ID)@@")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class ReplayStream:
    """Request bodies for a live client: pre-rendered batches replayed with fresh values.

    Rendering a batch from scratch costs ~2 ms of client CPU, which on a 2-core machine would be
    taken from the server under test. So ``batches`` bodies are rendered once into templates
    and ``next_body`` fills in, per event, a timestamp spread over the time since the previous
    call (real time, so ``ts`` grows like in production), a time-ordered client id where the
    template has one, and a cycle number in every session id so that each replay of the pool
    makes new sessions. Cost: ~0.1 ms per 100-event body.
    """

    def __init__(
        self, workload: Workload, *, batches: int, batch_size: int, clock: Callable[[], int], tag: int = 0,
    ) -> None:
        self.batch_size = batch_size
        self._tag = f"{tag % 10_000:04d}"
        self._clock = clock
        self._templates: list[list[bytes]] = []
        for _ in range(batches):
            events = workload.take(batch_size, 0, batch_size)
            for e in events:
                e["timestamp"] = _TS_MARK
                e["sessionId"] = f"{e['sessionId']}_{_CYCLE_MARK}"
                if "id" in e:
                    e["id"] = _ID_MARK
            self._templates.append(_SLOT.split(orjson.dumps({"events": events})))
        self._next = 0
        self._cycle = 0
        self._last_us = clock()
        self._counter = 0
        self._prefix_sec = -1
        self._prefix = ""
        self.sent_events = 0

    def _stamp(self, us: int) -> str:
        sec, ms = divmod(us // 1000, 1000)
        if sec != self._prefix_sec:
            self._prefix_sec = sec
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
        return f"{self._prefix}{ms:03d}Z"

    def _client_id(self, ms: int) -> str:
        self._counter += 1
        chars = []
        for _ in range(10):
            chars.append(_CROCKFORD[ms & 31])
            ms >>= 5
        return "".join(reversed(chars)) + self._tag + f"{self._counter:012d}"

    def next_body(self) -> bytes:
        parts = self._templates[self._next]
        self._next += 1
        if self._next == len(self._templates):
            self._next = 0
            self._cycle += 1
        now = max(self._clock(), self._last_us + self.batch_size)
        start, self._last_us = self._last_us, now
        step = (now - start) / self.batch_size
        out = [parts[0]]
        k = 0
        ms = 0
        for i in range(1, len(parts), 2):
            if parts[i] == b"TS":
                k += 1
                us = start + int(step * k)
                ms = us // 1000
                out.append(self._stamp(us).encode())
            else:
                out.append(self._client_id(ms).encode())
            out.append(parts[i + 1])
        self.sent_events += self.batch_size
        return b"".join(out).replace(_CYCLE_MARK.encode(), b"%06d" % self._cycle)
