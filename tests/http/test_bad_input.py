"""POST /api/events under hostile bodies: every one answers a clear 4xx and nothing stored changes."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import orjson
from aiohttp.test_utils import TestClient

from tests.support import custom_event

Client = TestClient[Any, Any]
JSON = "application/json"


def body(*events: Any) -> bytes:
    return orjson.dumps({"events": list(events)})


def ev(**changes: Any) -> dict[str, Any]:
    """A valid event with fields replaced (a value of ``...`` removes the field)."""
    event = custom_event("victim", 0)
    for key, value in changes.items():
        if value is ...:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def nested(levels: int) -> dict[str, Any]:
    inner: dict[str, Any] = {}
    for _ in range(levels - 1):
        inner = {"a": inner}
    return inner


VALID = orjson.dumps(ev())[:-1]  # an event object without its closing brace, for byte-level edits

# (name, body bytes, content type, extra headers, expected status)
CASES: list[tuple[str, bytes, str, dict[str, str], int]] = [
    ("truncated JSON", b'{"events": [', JSON, {}, 400),
    ("empty body", b"", JSON, {}, 400),
    ("JSON null", b"null", JSON, {}, 400),
    ("top-level array", b"[]", JSON, {}, 400),
    ("top-level string", b'"events"', JSON, {}, 400),
    ("events is a string", b'{"events": "all"}', JSON, {}, 400),
    ("events is an object", b'{"events": {}}', JSON, {}, 400),
    ("events is empty", b'{"events": []}', JSON, {}, 400),
    ("1,001 events", body(*[ev()] * 1001), JSON, {}, 400),
    ("an event that is a number", body(7), JSON, {}, 400),
    ("missing sessionId", body(ev(sessionId=...)), JSON, {}, 400),
    ("numeric sessionId", body(ev(sessionId=12)), JSON, {}, 400),
    ("empty sessionId", body(ev(sessionId="")), JSON, {}, 400),
    ("257-character sessionId", body(ev(sessionId="s" * 257)), JSON, {}, 400),
    ("NUL in sessionId", body(ev(sessionId="a\x00b")), JSON, {}, 400),
    ("lone surrogate in agentId", b'{"events": [{"sessionId": "s", "agentId": "\\ud800", "eventType": "custom",'
                                  b' "payload": {"type": "t", "data": {}}}]}', JSON, {}, 400),
    ("missing agentId", body(ev(agentId=...)), JSON, {}, 400),
    ("unknown eventType", body(ev(eventType="drop_tables")), JSON, {}, 400),
    ("server-only eventType", body(ev(eventType="eval_result")), JSON, {}, 400),
    ("eventType is a list", body(ev(eventType=["custom"])), JSON, {}, 400),
    ("unknown severity", body(ev(severity="fatal")), JSON, {}, 400),
    ("missing payload", body(ev(payload=...)), JSON, {}, 400),
    ("payload is an array", body(ev(payload=[1, 2])), JSON, {}, 400),
    ("payload against its schema", body(ev(eventType="tool_call", payload={"toolName": 5})), JSON, {}, 400),
    ("payload nested 65 levels", body(ev(payload=nested(65))), JSON, {}, 400),
    ("metadata is a string", body(ev(metadata="x")), JSON, {}, 400),
    ("metadata nested 65 levels", body(ev(metadata=nested(65))), JSON, {}, 400),
    ("timestamp in words", body(ev(timestamp="yesterday")), JSON, {}, 400),
    ("timestamp as a number", body(ev(timestamp=1764237600000)), JSON, {}, 400),
    ("timestamp 31 February", body(ev(timestamp="2026-02-31T10:00:00Z")), JSON, {}, 400),
    ("client id with spaces and quotes", body(ev(id="a b'; DROP TABLE events;--")), JSON, {}, 400),
    ("client id of 129 characters", body(ev(id="x" * 129)), JSON, {}, 400),
    ("client id as a number", body(ev(id=42)), JSON, {}, 400),
    ("one bad event among valid ones", body(ev(), ev(), ev(eventType="nope"), ev()), JSON, {}, 400),
    ("invalid UTF-8", b'{"events": [{"sessionId": "\xff\xfe", "agentId": "a", "eventType": "custom",'
                      b' "payload": {"type": "t", "data": {}}}]}', JSON, {}, 400),
    ("NaN literal", VALID.replace(b'"data":{"i":0}', b'"data":{"i":NaN}') + b"}", JSON, {}, 400),
    ("number beyond double range", VALID.replace(b'"data":{"i":0}', b'"data":{"i":1e400}') + b"}", JSON, {}, 400),
    ("trailing garbage", body(ev()) + b" {}", JSON, {}, 400),
    ("byte order mark", b"\xef\xbb\xbf" + body(ev()), JSON, {}, 400),
    ("text/plain", body(ev()), "text/plain", {}, 415),
    ("form encoded", b"events=1", "application/x-www-form-urlencoded", {}, 415),
    ("no content type", body(ev()), "", {}, 415),
    ("11 MiB body", b'{"events": [], "pad": "' + b"x" * (11 * 1024 * 1024) + b'"}', JSON, {}, 413),
    ("gzip bomb", gzip.compress(b'{"events": [], "pad": "' + b"x" * (64 * 1024 * 1024) + b'"}'), JSON,
     {"Content-Encoding": "gzip"}, 413),
    ("gzip header on a plain body", body(ev()), JSON, {"Content-Encoding": "gzip"}, 400),
    ("truncated gzip", gzip.compress(body(*[ev(payload={"type": "t", "data": {"i": i}}) for i in range(300)]))[:-40],
     JSON, {"Content-Encoding": "gzip"}, 400),
    ("unknown content coding", body(ev()), JSON, {"Content-Encoding": "snappy"}, 415),
    ("corrupt deflate", zlib.compress(body(ev()))[:-7] + b"garbage", JSON, {"Content-Encoding": "deflate"}, 400),
]


async def snapshot(client: Client) -> tuple[Any, ...]:
    """Everything a reader could see change: events, sessions, agents and the totals."""
    out = []
    for path in ("/api/events?limit=500", "/api/sessions?limit=500", "/api/agents", "/api/stats"):
        resp = await client.get(path)
        assert resp.status == 200, path
        out.append(await resp.json())
    return tuple(out)


def test_the_battery_is_large_and_distinct() -> None:
    assert len(CASES) >= 30
    assert len({name for name, *_ in CASES}) == len(CASES)
    assert len({payload for _, payload, *_ in CASES}) >= len(CASES) - 3  # content-type cases reuse a body


async def test_every_hostile_body_gets_a_clear_4xx_and_changes_nothing(client: Client) -> None:
    seeded = await client.post("/api/events", json={"events": [custom_event("victim", i) for i in range(3)]})
    assert seeded.status == 201
    before = await snapshot(client)

    problems: list[str] = []
    for name, payload, content_type, headers, expected in CASES:
        sent = {**headers, "Content-Type": content_type} if content_type else headers
        resp = await client.post("/api/events", data=payload, headers=sent, skip_auto_headers=["Content-Type"])
        answer = await resp.read()
        try:
            envelope = orjson.loads(answer)
        except orjson.JSONDecodeError:
            problems.append(f"{name}: {resp.status} with a body that is not JSON: {answer[:80]!r}")
            continue
        if resp.status != expected:
            problems.append(f"{name}: expected {expected}, got {resp.status} {envelope}")
        elif not (isinstance(envelope.get("error"), str) and envelope["error"] and envelope["status"] == expected):
            problems.append(f"{name}: no clear error envelope: {envelope}")
        elif expected == 400 and not ("details" in envelope or "hint" in envelope or len(envelope["error"]) >= 20):
            problems.append(f"{name}: a 400 should name the problem: {envelope}")
    assert not problems, "\n".join(problems)
    assert await snapshot(client) == before
