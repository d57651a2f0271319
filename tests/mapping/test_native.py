"""POST /api/events bodies -> NewEvents: envelope rules, defaults, timestamps, ids, ordering, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.mapping import native
from collector.mapping.errors import InvalidJson, MappingError, ValidationFailed
from collector.mapping.native import MAX_NESTING_DEPTH, parse_ingest_body
from collector.timefmt import format_ms, parse_rfc3339
from store import canonical
from store.model import SERVER_ONLY_EVENT_TYPES, NewEvent

NOW_US = 1_795_773_600_123_456  # 2026-11-27T10:00:00.123456Z
ULID_CHARS = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sessionId": "s1",
        "agentId": "agent-1",
        "eventType": "tool_call",
        "payload": {"toolName": "search", "callId": "c1", "arguments": {"q": "x"}},
    }
    base.update(fields)
    return base


def custom(**fields: Any) -> dict[str, Any]:
    return event(**{"eventType": "custom", "payload": {"type": "t", "data": {}}, **fields})


def body(*events: Any) -> bytes:
    return json.dumps({"events": list(events)}).encode()


class Counter:
    """Deterministic, increasing ids, so that minting order is visible."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"srv-{self.n:04d}"


def parse(raw: bytes, mint_id: Callable[[], str] | None = None, tenant: str = "tenant-a") -> list[NewEvent]:
    if mint_id is None:
        return parse_ingest_body(raw, tenant=tenant, now_us=lambda: NOW_US)
    return parse_ingest_body(raw, tenant=tenant, now_us=lambda: NOW_US,
                             mint_ids=lambda n: [mint_id() for _ in range(n)])


def problems(raw: bytes) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as info:
        parse(raw)
    assert info.value.message == "Validation failed"
    assert isinstance(info.value, MappingError)
    return info.value.details


def problem_paths(raw: bytes) -> list[str]:
    return [path for path, _ in problems(raw)]


def nested(levels: int) -> dict[str, Any]:
    """An object ``levels`` levels deep (``{}`` is one level)."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


# --------------------------------------------------------------------------- happy path


def test_a_single_event_with_defaults() -> None:
    [out] = parse(body(event()))
    assert out.tenant_id == "tenant-a"
    assert len(out.id) == 26 and set(out.id) <= ULID_CHARS
    assert out.dedupe is False
    assert out.session_id == "s1" and out.agent_id == "agent-1"
    assert out.event_type == "tool_call"
    assert out.severity == "info"
    assert out.metadata_json == "{}"
    assert out.payload_json == '{"toolName":"search","callId":"c1","arguments":{"q":"x"}}'
    assert out.timestamp == "2026-11-27T10:00:00.123Z" == format_ms(NOW_US)
    assert out.ts_us == 1_795_773_600_123_000 == parse_rfc3339(out.timestamp)
    assert out.facts.tool_name == "search"


def test_explicit_fields_are_kept() -> None:
    [out] = parse(body(event(severity="critical", metadata={"env": "prod", "n": 1.0},
                             timestamp="2026-11-27T10:00:00Z")))
    assert out.severity == "critical"
    assert out.metadata_json == '{"env":"prod","n":1}'
    assert out.timestamp == "2026-11-27T10:00:00Z"


@pytest.mark.parametrize("severity", ["debug", "info", "warn", "error", "critical"])
def test_every_severity(severity: str) -> None:
    assert parse(body(event(severity=severity)))[0].severity == severity


def test_payload_is_validated_not_transformed() -> None:
    payload = {"2": "b", "toolName": "t", "callId": "c", "arguments": {}, "extra": {"x": [1, None]}, "1": "a"}
    [out] = parse(body(event(payload=payload)))
    # JS key order: array-index keys first (canonical JSON), every extra key kept
    assert out.payload_json == '{"1":"a","2":"b","toolName":"t","callId":"c","arguments":{},"extra":{"x":[1,null]}}'


def test_unknown_top_level_keys_are_dropped() -> None:
    raw = body(event(hash="f" * 64, prevHash="0" * 64, tenantId="other", seq=7, foo={"bar": 1}))
    [out] = parse(raw, tenant="mine")
    assert out.tenant_id == "mine"
    assert out.id != "f" * 64 and len(out.id) == 26 and out.dedupe is False
    assert "bar" not in out.payload_json and "bar" not in out.metadata_json


@pytest.mark.parametrize("event_type", ["retrieval", "embedding", "chain_step"])
def test_newer_types_are_accepted(event_type: str) -> None:
    payloads = {
        "retrieval": {"query": "q", "topK": 3},
        "embedding": {"model": "m", "inputCount": 2, "dimensions": 8},
        "chain_step": {"name": "plan", "durationMs": 1},
    }
    [out] = parse(body(event(eventType=event_type, payload=payloads[event_type])))
    assert out.event_type == event_type


def test_reserved_metadata_keys_are_stripped() -> None:
    metadata = {
        "verifiedAgentId": "forged", "env": "prod", "verifiedAgentMethod": "agentgate_token",
        "verifiedOnBehalfOf": "someone", "nested": {"verifiedAgentId": "kept, not top level"},
    }
    [out] = parse(body(event(metadata=metadata)))
    assert out.metadata_json == '{"env":"prod","nested":{"verifiedAgentId":"kept, not top level"}}'
    [only] = parse(body(event(metadata={"verifiedAgentId": "x"})))
    assert only.metadata_json == "{}"


def test_a_batch_of_1000_is_accepted() -> None:
    out = parse(body(*[event(sessionId=f"s{i % 7}") for i in range(1000)]))
    assert len(out) == 1000
    assert len({e.id for e in out}) == 1000


# --------------------------------------------------------------------------- invalid JSON, envelope


@pytest.mark.parametrize("raw", [b"", b"   ", b"{", b'{"events": [}', b"nope", b"\xff\xfe", b'{"a":1} x', b"NaN"])
def test_invalid_json(raw: bytes) -> None:
    with pytest.raises(InvalidJson) as info:
        parse(raw)
    assert info.value.message == "Invalid JSON body"
    assert info.value.reason
    assert str(info.value).startswith("Invalid JSON body: ")
    assert isinstance(info.value, MappingError)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[]", "Expected an object with an events array, received array"),
        (b"null", "Expected an object with an events array, received null"),
        (b'"events"', "Expected an object with an events array, received string"),
        (b"{}", "Required"),
        (b'{"event": []}', "Required"),
        (b'{"events": null}', "Expected array, received null"),
        (b'{"events": {"0": {}}}', "Expected array, received object"),
        (b'{"events": []}', "Array must contain at least 1 element(s)"),
    ],
)
def test_envelope_problems_are_reported_at_events(raw: bytes, message: str) -> None:
    assert problems(raw) == [("events", message)]


def test_more_than_1000_events() -> None:
    assert problems(body(*[event()] * 1001)) == [("events", "Array must contain at most 1000 element(s)")]


def test_events_must_be_objects() -> None:
    assert problems(body(event(), 3, None, [], "x")) == [
        ("events.1", "Expected object, received number"),
        ("events.2", "Expected object, received null"),
        ("events.3", "Expected object, received array"),
        ("events.4", "Expected object, received string"),
    ]


# --------------------------------------------------------------------------- per-event fields


def test_required_event_fields() -> None:
    assert problems(body({})) == [
        ("events.0.sessionId", "Required"),
        ("events.0.agentId", "Required"),
        ("events.0.eventType", "Required"),
        ("events.0.payload", "Required"),
    ]


@pytest.mark.parametrize("field", ["sessionId", "agentId"])
def test_session_and_agent_ids(field: str) -> None:
    assert parse(body(event(**{field: "x" * 256})))
    assert parse(body(event(**{field: "é" * 256})))  # counted in code points
    assert parse(body(event(**{field: "😀" * 256})))
    assert problems(body(event(**{field: "x" * 257}))) == [
        (f"events.0.{field}", "String must contain at most 256 character(s)")
    ]
    assert problems(body(event(**{field: ""}))) == [
        (f"events.0.{field}", "String must contain at least 1 character(s)")
    ]
    assert problems(body(event(**{field: 5}))) == [(f"events.0.{field}", "Expected string, received number")]
    assert problems(body(event(**{field: None}))) == [(f"events.0.{field}", "Expected string, received null")]


@pytest.mark.parametrize("field", ["sessionId", "agentId"])
def test_nul_and_lone_surrogates_in_keys_are_rejected(field: str) -> None:
    nul = "String must not contain NUL (U+0000) characters"
    lone = "String must not contain unpaired surrogates (invalid UTF-16)"
    assert problems(body(event(**{field: "a\x00b"}))) == [(f"events.0.{field}", nul)]
    assert problems(body(event(**{field: "a\ud800"}))) == [(f"events.0.{field}", lone)]
    assert problems(body(event(**{field: "\udc00z"}))) == [(f"events.0.{field}", lone)]
    # a correctly paired escape is one astral character, which is fine
    raw = body(event(**{field: "\ud83d\ude00"}))
    assert b"\\ud83d\\ude00" in raw
    [out] = parse(raw)
    assert getattr(out, "session_id" if field == "sessionId" else "agent_id") == "😀"


def test_lone_surrogates_and_nul_inside_the_payload_are_fine() -> None:
    [out] = parse(body(custom(payload={"type": "a\ud800", "data": {"k\x00": "v"}})))
    assert out.payload_json == '{"type":"a\\ud800","data":{"k\\u0000":"v"}}'


def test_event_types() -> None:
    [(path, message)] = problems(body(event(eventType="tool_called")))
    assert path == "events.0.eventType"
    assert message.startswith("Invalid enum value. Expected 'session_started' | 'session_ended'")
    assert message.endswith("'custom', received 'tool_called'")
    assert problems(body(event(eventType=None)))[0][1].endswith("received null")


@pytest.mark.parametrize("event_type", SERVER_ONLY_EVENT_TYPES)
def test_server_only_types_are_rejected(event_type: str) -> None:
    assert problems(body(event(eventType=event_type, payload={}))) == [
        ("events.0.eventType", f"'{event_type}' is a server-only event type and cannot be ingested")
    ]


def test_severity() -> None:
    assert problems(body(event(severity="fatal"))) == [(
        "events.0.severity",
        "Invalid enum value. Expected 'debug' | 'info' | 'warn' | 'error' | 'critical', received 'fatal'",
    )]
    # optional means absent: null is not the default
    assert problems(body(event(severity=None))) == [
        ("events.0.severity", "Expected 'debug' | 'info' | 'warn' | 'error' | 'critical', received null")
    ]
    assert problem_paths(body(event(severity="INFO"))) == ["events.0.severity"]


def test_payload_must_be_an_object() -> None:
    assert problems(body(event(payload=[]))) == [("events.0.payload", "Expected object, received array")]
    assert problems(body(event(payload=None))) == [("events.0.payload", "Expected object, received null")]


def test_payload_schema_errors_carry_the_full_path() -> None:
    llm = {
        "callId": "l", "provider": "p", "model": "m", "completion": None, "finishReason": "stop",
        "usage": {"outputTokens": 1, "totalTokens": 1}, "costUsd": 0, "latencyMs": 1,
    }
    raw = body(event(), event(), event(), event(eventType="llm_response", payload=llm),
               event(payload={"callId": "c", "arguments": {}}))
    assert problems(raw) == [
        ("events.3.payload.usage.inputTokens", "Required"),
        ("events.4.payload.toolName", "Required"),
    ]


def test_metadata() -> None:
    assert problems(body(event(metadata=None))) == [("events.0.metadata", "Expected object, received null")]
    assert problems(body(event(metadata=["a"]))) == [("events.0.metadata", "Expected object, received array")]
    assert problems(body(event(metadata="x"))) == [("events.0.metadata", "Expected object, received string")]


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("text", "us"),
    [
        ("2026-11-27T10:00:00Z", 1_795_773_600_000_000),
        ("2026-11-27T10:00:00.5Z", 1_795_773_600_500_000),
        ("2026-11-27T10:00:00.123Z", 1_795_773_600_123_000),
        ("2026-11-27T10:00:00.123456Z", 1_795_773_600_123_456),
        ("2026-11-27T10:00:00.123456789Z", 1_795_773_600_123_456),
        ("2026-11-27T12:00:00.5+02:00", 1_795_773_600_500_000),
        ("2026-11-27T10:00:00+00:00", 1_795_773_600_000_000),
        ("2026-11-27T05:30:00-04:30", 1_795_773_600_000_000),
        ("2026-11-27t10:00:00z", 1_795_773_600_000_000),
        ("2028-02-29T00:00:00Z", 1_835_395_200_000_000),
    ],
)
def test_accepted_timestamps_are_kept_verbatim(text: str, us: int) -> None:
    [out] = parse(body(event(timestamp=text)))
    assert out.timestamp == text
    assert out.ts_us == us


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-27 10:00:00",
        "2026-11-27T10:00:00",
        "2026-11-27T10:00Z",
        "2026-11-27",
        "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-11-27T24:00:00Z",
        "2026-11-27T10:60:00Z",
        "2026-11-27T10:00:00.Z",
        "2026-11-27T10:00:00+0200",
        "2026-11-27T10:00:00+24:00",
        "1795773600000",
        "",
        " 2026-11-27T10:00:00Z",
        "2026-11-27T10:00:00Z\x00",
        "２０２６-11-27T10:00:00Z",
        "\u0662\u0660\u0662\u0666-11-27T10:00:00Z",  # Arabic-Indic digits
        "2026-11-27T10:00:00Z\ud800",
    ],
)
def test_rejected_timestamps(text: str) -> None:
    [(path, message)] = problems(body(event(timestamp=text)))
    assert path == "events.0.timestamp"
    assert message.startswith("Invalid datetime")


@pytest.mark.parametrize(("value", "kind"), [(None, "null"), (1795773600000, "number"), ({}, "object")])
def test_timestamp_must_be_a_string(value: Any, kind: str) -> None:
    assert problems(body(event(timestamp=value))) == [("events.0.timestamp", f"Expected string, received {kind}")]


def test_server_time_is_read_once_per_body() -> None:
    calls: list[int] = []

    def clock() -> int:
        calls.append(1)
        return NOW_US + len(calls) * 1000

    out = parse_ingest_body(body(event(), event(timestamp="2026-01-01T00:00:00Z"), event()),
                            tenant="t", now_us=clock)
    assert len(calls) == 1
    assert {e.timestamp for e in out if not e.timestamp.startswith("2026-01-01")} == {"2026-11-27T10:00:00.124Z"}
    assert parse_ingest_body(body(event(timestamp="2026-01-01T00:00:00Z")), tenant="t", now_us=clock)
    assert len(calls) == 1  # not read when every event has a timestamp


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize("client_id", ["a", "A-Z_a.z:0-9", "x" * 128, "01JD0000000000000000000000", "..", "-"])
def test_client_ids(client_id: str) -> None:
    mint = Counter()
    [out] = parse(body(event(id=client_id)), mint_id=mint)
    assert out.id == client_id
    assert out.dedupe is True
    assert mint.n == 0


@pytest.mark.parametrize(
    "client_id", ["", "x" * 129, "a b", "a/b", "é", "a\x00", "a\ud800", "a\n", "😀", "a+b", "a,b", "\uff21"],
)
def test_client_id_charset(client_id: str) -> None:
    assert problems(body(event(id=client_id))) == [
        ("events.0.id", "Must be 1 to 128 characters from A-Z a-z 0-9 . _ : -")
    ]


@pytest.mark.parametrize(("value", "kind"), [(None, "null"), (12, "number"), (["a"], "array")])
def test_client_id_must_be_a_string(value: Any, kind: str) -> None:
    assert problems(body(event(id=value))) == [("events.0.id", f"Expected string, received {kind}")]


def test_minted_ids_are_monotonic_ulids() -> None:
    out = parse(body(*[event(sessionId=f"s{i % 3}") for i in range(50)]))
    ids = [e.id for e in out]
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert all(e.dedupe is False for e in out)


# --------------------------------------------------------------------------- ordering


def test_sessions_in_first_appearance_order_each_sorted_by_instant() -> None:
    raw = body(
        custom(sessionId="b", timestamp="2026-11-27T10:00:03Z", agentId="b3"),
        custom(sessionId="a", timestamp="2026-11-27T10:00:02Z", agentId="a2"),
        custom(sessionId="b", timestamp="2026-11-27T10:00:01Z", agentId="b1"),
        custom(sessionId="c", timestamp="2026-11-27T09:00:00Z", agentId="c0"),
        custom(sessionId="a", timestamp="2026-11-27T10:00:01Z", agentId="a1"),
        custom(sessionId="b", timestamp="2026-11-27T10:00:02Z", agentId="b2"),
    )
    out = parse(raw, mint_id=Counter())
    assert [e.agent_id for e in out] == ["b1", "b2", "b3", "a1", "a2", "c0"]
    # ids are minted in processing order, so they increase along every chain
    assert [e.id for e in out] == [f"srv-{i:04d}" for i in range(1, 7)]


def test_sort_uses_the_instant_not_the_text() -> None:
    raw = body(
        custom(timestamp="2026-11-27T10:00:00.5Z", agentId="half"),
        custom(timestamp="2026-11-27T10:00:00Z", agentId="zero"),  # sorts after ".5Z" as text
        custom(timestamp="2026-11-27T11:00:00.2+02:00", agentId="earliest"),  # 09:00:00.2Z
    )
    assert [e.agent_id for e in parse(raw)] == ["earliest", "zero", "half"]


def test_ties_keep_request_order() -> None:
    same = "2026-11-27T10:00:00Z"
    raw = body(*[custom(timestamp=same, agentId=f"n{i}") for i in range(5)],
               custom(timestamp="2026-11-27T12:00:00+02:00", agentId="n5"))  # the same instant
    assert [e.agent_id for e in parse(raw)] == [f"n{i}" for i in range(6)]


def test_server_time_events_sort_with_client_timestamps() -> None:
    raw = body(
        custom(agentId="later", timestamp="2026-11-27T10:00:01Z"),
        custom(agentId="server"),  # NOW_US -> 10:00:00.123Z
        custom(agentId="earlier", timestamp="2026-11-27T10:00:00Z"),
    )
    assert [e.agent_id for e in parse(raw)] == ["earlier", "server", "later"]


def test_client_and_server_ids_mixed() -> None:
    raw = body(
        custom(agentId="x", timestamp="2026-11-27T10:00:02Z"),
        custom(agentId="y", timestamp="2026-11-27T10:00:01Z", id="client-1"),
        custom(agentId="z", timestamp="2026-11-27T10:00:03Z"),
    )
    out = parse(raw, mint_id=Counter())
    assert [(e.agent_id, e.id, e.dedupe) for e in out] == [
        ("y", "client-1", True), ("x", "srv-0001", False), ("z", "srv-0002", False),
    ]


# --------------------------------------------------------------------------- nesting depth


@pytest.mark.parametrize("field", ["payload", "metadata"])
def test_nesting_depth_64_is_accepted_65_rejected(field: str) -> None:
    def with_depth(levels: int) -> dict[str, Any]:
        if field == "payload":
            return custom(payload={"type": "t", "data": nested(levels - 1)})
        return custom(metadata=nested(levels))

    assert MAX_NESTING_DEPTH == 64
    assert parse(body(with_depth(64)))
    assert problems(body(event(), with_depth(65))) == [(f"events.1.{field}", "Nesting deeper than 64 levels")]


def test_arrays_count_as_levels_too() -> None:
    deep: Any = []
    for _ in range(62):
        deep = [deep]  # 63 levels
    assert parse(body(custom(payload={"type": "t", "data": {}, "x": deep})))  # 1 + 63 levels
    assert problem_paths(body(custom(payload={"type": "t", "data": {}, "x": [deep]}))) == ["events.0.payload"]


def test_very_deep_bodies_do_not_crash() -> None:
    raw = b'{"events":[' + b"[" * 5000 + b"]" * 5000 + b"]}"
    with pytest.raises(MappingError):
        parse(raw)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=2), children, max_size=3),
    max_leaves=40,
)


@given(value=st.dictionaries(st.text(max_size=2), _json, max_size=4), limit=st.integers(0, 8))
def test_depth_check_agrees_with_canonical(value: dict[str, Any], limit: int) -> None:
    assert native._deeper_than(value, limit) == canonical.nesting_depth_exceeds(value, limit)


# --------------------------------------------------------------------------- collecting everything


def test_every_problem_of_every_event_is_reported_in_order() -> None:
    raw = body(
        event(),
        {"sessionId": "", "agentId": 1, "eventType": "eval_result", "payload": [], "severity": "loud",
         "metadata": 2, "timestamp": "yesterday", "id": "has space"},
        event(payload={"toolName": "t"}),
        "junk",
    )
    assert problem_paths(raw) == [
        "events.1.sessionId",
        "events.1.agentId",
        "events.1.eventType",
        "events.1.severity",
        "events.1.payload",
        "events.1.metadata",
        "events.1.timestamp",
        "events.1.id",
        "events.2.payload.callId",
        "events.2.payload.arguments",
        "events.3",
    ]


def test_validation_failed_str_summarizes() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(body({}))
    assert str(info.value) == (
        "Validation failed: events.0.sessionId: Required; events.0.agentId: Required; "
        "events.0.eventType: Required (+1 more)"
    )


def test_nothing_is_minted_when_validation_fails() -> None:
    mint = Counter()
    with pytest.raises(ValidationFailed):
        parse(body(event(), event(sessionId="")), mint_id=mint)
    assert mint.n == 0
