"""store.canonical: JSON.parse/JSON.stringify compatibility, hash v2 and truncation, against the shared vectors."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import canonical
from store.canonical import (
    MAX_PAYLOAD_BYTES,
    JsonError,
    JsonValue,
    dumps,
    dumps_str,
    event_hash,
    loads,
    nesting_depth_exceeds,
    truncate_payload_json,
)

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"


def _jsonl(name: str) -> list[dict[str, Any]]:
    # Split on "\n" only: the vectors contain U+2028, which str.splitlines() would split on.
    lines = (VECTORS / name).read_text(encoding="utf-8").split("\n")
    return [json.loads(line) for line in lines if line]


HASH_VECTORS = _jsonl("hash_v2.jsonl")
TRUNCATE_VECTORS = _jsonl("truncate.jsonl")


def _hash_of(event: dict[str, Any]) -> str:
    return event_hash(
        event_id=event["id"],
        timestamp=event["timestamp"],
        session_id=event["sessionId"],
        agent_id=event["agentId"],
        event_type=event["eventType"],
        severity=event["severity"],
        payload_json=dumps(event["payload"]),
        metadata_json=dumps(event["metadata"]),
        prev_hash=event["prevHash"],
    )


# --- reference vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize("vector", HASH_VECTORS, ids=[v["name"] for v in HASH_VECTORS])
def test_hash_v2_vector(vector: dict[str, Any]) -> None:
    for wire in (vector["wire"], vector["wire"].encode("utf-8")):
        event = loads(wire)
        assert isinstance(event, dict)
        canonical_string = dumps(
            {
                "v": 2,
                "id": event["id"],
                "timestamp": event["timestamp"],
                "sessionId": event["sessionId"],
                "agentId": event["agentId"],
                "eventType": event["eventType"],
                "severity": event["severity"],
                "payload": event["payload"],
                "metadata": event["metadata"],
                "prevHash": event["prevHash"],
            }
        )
        assert canonical_string == vector["canonical"]
        assert hashlib.sha256(canonical_string.encode("utf-8")).hexdigest() == vector["hash"]
        assert _hash_of(event) == vector["hash"]


def test_hash_vectors_are_all_read() -> None:
    assert len(HASH_VECTORS) == 36
    assert len(TRUNCATE_VECTORS) == 7


@pytest.mark.parametrize("vector", TRUNCATE_VECTORS, ids=[str(v["payloadBytes"]) for v in TRUNCATE_VECTORS])
def test_truncate_vector(vector: dict[str, Any]) -> None:
    payload_json = dumps(loads(vector["payload"]))
    assert len(payload_json.encode("utf-8")) == vector["payloadBytes"]
    assert truncate_payload_json(payload_json) == vector["result"]


def test_truncation_boundary() -> None:
    kept = '{"a":"' + "x" * (MAX_PAYLOAD_BYTES - 8) + '"}'
    assert len(kept.encode()) == MAX_PAYLOAD_BYTES
    assert truncate_payload_json(kept) is kept
    cut = loads(truncate_payload_json(kept[:-2] + 'x"}'))
    assert cut == {
        "type": "_truncated",
        "data": {
            "_truncated": True,
            "originalSize": MAX_PAYLOAD_BYTES + 1,
            "maxSize": MAX_PAYLOAD_BYTES,
            "preview": ('{"a":"' + "x" * 194) + "...",
        },
    }


def test_chain_vector() -> None:
    events = loads((VECTORS / "chain.json").read_bytes())
    assert isinstance(events, list)
    assert len(events) == 5
    previous = None
    for event in events:
        assert isinstance(event, dict)
        assert event["prevHash"] == previous
        assert _hash_of(event) == event["hash"]
        previous = event["hash"]


# --- numbers -------------------------------------------------------------------------------------

# Each right-hand side is what Node.js writes for JSON.stringify([x]), minus the brackets.
JS_NUMBERS: list[tuple[int | float, str]] = [
    (1.0, "1"),
    (-0.0, "0"),
    (0.0, "0"),
    (100.0, "100"),
    (-2.5, "-2.5"),
    (0.1, "0.1"),
    (0.30000000000000004, "0.30000000000000004"),
    (123.456, "123.456"),
    (1 / 3, "0.3333333333333333"),
    (0.000275, "0.000275"),
    (0.00001, "0.00001"),
    (1.5e-5, "0.000015"),
    (1e-6, "0.000001"),
    (1.1e-6, "0.0000011"),
    (1e-7, "1e-7"),
    (5e-7, "5e-7"),
    (-1e-7, "-1e-7"),
    (1e-10, "1e-10"),
    (1.23e-18, "1.23e-18"),
    (5e-324, "5e-324"),
    (2.2250738585072014e-308, "2.2250738585072014e-308"),
    (1e15, "1000000000000000"),
    (1e16, "10000000000000000"),
    (1e20, "100000000000000000000"),
    (123456789012345680000.0, "123456789012345680000"),
    (999999999999999900000.0, "999999999999999900000"),
    (1e21, "1e+21"),
    (1.2345678901234568e29, "1.2345678901234568e+29"),
    (1e100, "1e+100"),
    (1.5e300, "1.5e+300"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (math.nan, "null"),
    (math.inf, "null"),
    (-math.inf, "null"),
    (0, "0"),
    (-7, "-7"),
    (4294967296, "4294967296"),
    (2**53 - 1, "9007199254740991"),
    (2**53, "9007199254740992"),
    (2**53 + 1, "9007199254740992"),
    (2**53 + 2, "9007199254740994"),
    (-(2**53) - 1, "-9007199254740992"),
    (2**63, "9223372036854776000"),
    (2**64, "18446744073709552000"),
    (12345678901234567890, "12345678901234567000"),
    (10**21, "1e+21"),
    (10**400, "null"),
    (-(10**400), "null"),
]


@pytest.mark.parametrize(("number", "expected"), JS_NUMBERS, ids=[e for _, e in JS_NUMBERS])
def test_number_formatting(number: int | float, expected: str) -> None:
    assert dumps(number) == expected
    assert dumps([number]) == f"[{expected}]"
    assert dumps({"k": number, "s": "1.0,e+16]"}) == f'{{"k":{expected},"s":"1.0,e+16]"}}'
    assert dumps(["a", number, [number]]) == f'["a",{expected},[{expected}]]'


def test_literals() -> None:
    assert dumps([True, False, None]) == "[true,false,null]"
    assert dumps(True) == "true"
    assert dumps(None) == "null"


def test_number_lookalikes_inside_strings_are_left_alone() -> None:
    value: JsonValue = {
        "a": 'x":1.0,"',
        "b": 1.0,
        "c": "\\",
        "d": [2.0, '\\\\":3.0]', -0.0],
        "e": '"',
        "f": 1e16,
        "g": ":1e+16}",
        "h": "y" * 40 + "5.0,",
        "i": [1.0, "z" * 40 + ":1.0]", 3.0],
    }
    expected = (
        r'{"a":"x\":1.0,\"","b":1,"c":"\\","d":[2,"\\\\\":3.0]",0],"e":"\"",'
        r'"f":10000000000000000,"g":":1e+16}",'
        f'"h":"{"y" * 40}5.0,","i":[1,"{"z" * 40}:1.0]",3]}}'
    )
    assert dumps(value) == expected
    assert canonical._dumps_slow(value) == expected


def test_typical_payload_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(value: object) -> str:
        raise AssertionError("slow path taken")

    monkeypatch.setattr(canonical, "_dumps_slow", refuse)
    payload: JsonValue = {
        "callId": "span1",
        "model": "gpt-4o",
        "completion": "Paris, 1.0, e-6]",
        "usage": {"inputTokens": 42, "outputTokens": 17},
        "costUsd": 0.000275,
        "temperature": 1.0,
        "p95": 2.5e-6,
        "tags": ["x", 1e16],
    }
    assert dumps(payload) == (
        '{"callId":"span1","model":"gpt-4o","completion":"Paris, 1.0, e-6]",'
        '"usage":{"inputTokens":42,"outputTokens":17},"costUsd":0.000275,"temperature":1,'
        '"p95":0.0000025,"tags":["x",10000000000000000]}'
    )


# --- keys ----------------------------------------------------------------------------------------


def test_array_index_keys_come_first_at_every_level() -> None:
    value = loads(
        '{"b":1,"2":{"z":1,"10":2,"9":3},"1":[{"5":"x","y":"z"}],"01":0,"-1":0,'
        '"4294967294":0,"4294967295":0,"1.5":0," 1":0,"1e3":0}'
    )
    expected = (
        '{"1":[{"5":"x","y":"z"}],"2":{"9":3,"10":2,"z":1},"4294967294":0,"b":1,"01":0,'
        '"-1":0,"4294967295":0,"1.5":0," 1":0,"1e3":0}'
    )
    assert dumps(value) == expected
    assert canonical._dumps_slow(value) == expected


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(TypeError):
        dumps({1: "x"})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        canonical._dumps_slow({1: "x"})  # type: ignore[dict-item]


def test_duplicate_keys_last_value_at_first_position() -> None:
    text = '{"a":1,"b":{"x":1,"x":2},"a":3,"2":0,"2":1}'
    value = loads(text)
    assert isinstance(value, dict)
    assert list(value) == ["a", "b", "2"]
    assert value == {"a": 3, "b": {"x": 2}, "2": 1}
    assert dumps(value) == '{"2":1,"a":3,"b":{"x":2}}'
    # The same through the standard-library fallback (a lone surrogate sends it there).
    fallback = loads('{"a":1,"s":"\\ud800","a":2}')
    assert isinstance(fallback, dict)
    assert list(fallback.items()) == [("a", 2), ("s", "\ud800")]


# --- strings -------------------------------------------------------------------------------------


def test_string_escapes() -> None:
    raw = 'a\x00\x01\x1f\x7f\u2028\u2029\b\f\n\r\t"\\/é😀'
    expected = '"a\\u0000\\u0001\\u001f\x7f\u2028\u2029\\b\\f\\n\\r\\t\\"\\\\/é😀"'
    assert dumps_str(raw) == expected
    assert dumps([raw]) == f"[{expected}]"
    assert canonical._dumps_slow([raw]) == f"[{expected}]"
    assert dumps_str("01JD0000000000000000000001") == '"01JD0000000000000000000001"'


def test_lone_surrogates() -> None:
    assert loads('"\\ud800"') == "\ud800"
    assert loads(b'["\\udc00x","\\ud83d\\ude00","\\ude00\\ud83d"]') == ["\udc00x", "😀", "\ude00\ud83d"]
    assert loads('"\ud800"') == "\ud800"  # a str may hold a raw lone surrogate, as a JS string can
    # A high surrogate followed by a low one is one JavaScript character, even as two code points.
    value: JsonValue = ["\ud800", "\udc00x", "😀", "\ude00\ud83d", "\ud83d\ude00"]
    expected = '["\\ud800","\\udc00x","😀","\\ude00\\ud83d","😀"]'
    assert dumps(value) == expected
    assert dumps_str("a\udfffb") == '"a\\udfffb"'


# --- parsing -------------------------------------------------------------------------------------


def test_integers_beyond_2_53_become_the_nearest_double() -> None:
    assert loads("9007199254740992") == 2**53
    assert type(loads("9007199254740992")) is int
    assert loads("9007199254740993") == 9007199254740992.0
    assert type(loads("9007199254740993")) is float
    value = loads(
        b"[9007199254740993, -9007199254740993, 9007199254740991, 18446744073709551615,\n"
        b' 123456789012345678901234567890, {"a": \t 9007199254740995}]'
    )
    assert value == [2.0**53, -(2.0**53), 2**53 - 1, 2.0**64, 1.2345678901234568e29, {"a": 9007199254740996.0}]
    assert isinstance(value, list)
    assert [type(v) for v in value[:5]] == [float, float, int, float, float]
    assert loads('["\\ud800", 9007199254740993]') == ["\ud800", 2.0**53]  # the fallback path too
    assert loads('{"id":"12345678901234567890","n":1}') == {"id": "12345678901234567890", "n": 1}
    assert loads("1" * 5000) == math.inf
    assert dumps(loads("[1e400,-1e400,1e-400]")) == "[null,null,0]"


@pytest.mark.parametrize(("text", "walk"), [
    (b'{"id":"01M8F74BC50000000000000001","n":1}', False),   # digits inside a string
    (b'{"x":0.12345678901234567,"y":1.5}', False),            # a long fraction
    (b'[12345678901234567.5, 1234567890123456e3]', False),    # integer parts of floats
    (b'{"x":[1,\n 12345678901234567]}', True),
    (b'[-12345678901234567]', True),
    (b"12345678901234567", True),
])
def test_only_a_long_integer_literal_costs_the_rounding_walk(text: bytes, walk: bool) -> None:
    from store.canonical import _may_hold_big_int

    assert _may_hold_big_int(text) is walk
    assert loads(text) == json.loads(text, parse_int=lambda t: int(t) if abs(int(t)) <= 2**53 else float(t))


INVALID_JSON = [
    b"",
    b" \n\t",
    b"NaN",
    b"[NaN]",
    b"Infinity",
    b"[-Infinity]",
    b"[1,]",
    b'{"a":1,}',
    b"01",
    b"1.",
    b".5",
    b"+1",
    b"[1] x",
    b"[1]\x00",
    b"\xef\xbb\xbf[1]",
    b"{'a':1}",
    b'"\t"',
    b"[1",
    b'{"a"',
    b'"\\x"',
    b'"\\u12"',
    b"tru",
    b"[1 2]",
    b"\xff",
    b'"\xed\xa0\x80"',
    b'{"a":"\xc3"}',
    b"\xc0\xaf",
    b"[" * 5000 + b"]" * 5000,
]


@pytest.mark.parametrize("data", INVALID_JSON, ids=[repr(d[:12]) for d in INVALID_JSON])
def test_invalid_json_is_refused(data: bytes) -> None:
    with pytest.raises(JsonError):
        loads(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    with pytest.raises(JsonError):
        loads(text)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty JSON document"),
        (b"  ", "empty JSON document"),
        (b"[1", "unexpected end of JSON input"),
        (b"[1,]", "unexpected character at byte 3"),
        ('["é",x]'.encode(), "unexpected character at byte 6"),  # character 5
        (b"[1] x", "unexpected data after the JSON value at byte 4"),
        (b'{"a":"\xc3"}', "invalid UTF-8 at byte 6"),
        (b"[NaN]", "NaN is not valid JSON"),
    ],
)
def test_error_messages(data: bytes, message: str) -> None:
    with pytest.raises(JsonError) as caught:
        loads(data)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_whitespace_and_scalars() -> None:
    assert loads(' \t\r\n{"a" : [ 1 , 2 ] } \n') == {"a": [1, 2]}
    assert loads('"x"') == "x"
    assert loads("-0") == 0
    assert loads("1E2") == 100.0
    assert loads(b"null") is None


# --- depth ---------------------------------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = []
    for level in range(depth - 1):
        value = [value] if level % 2 else {"k": value}
    return value


def test_nesting_depth() -> None:
    assert not nesting_depth_exceeds(1, 0)
    assert not nesting_depth_exceeds("x", 0)
    assert nesting_depth_exceeds([], 0)
    assert not nesting_depth_exceeds([], 1)
    value: JsonValue = {"a": [{"b": []}], "c": 1}
    assert not nesting_depth_exceeds(value, 4)
    assert nesting_depth_exceeds(value, 3)
    deep = _nested(100_000)
    assert nesting_depth_exceeds(deep, 64)
    assert not nesting_depth_exceeds(deep, 100_000)
    assert nesting_depth_exceeds(deep, 99_999)


def test_deep_values_serialize_without_recursion() -> None:
    deep: Any = []
    for _ in range(20_000):
        deep = [deep]
    assert dumps(deep) == "[" * 20_001 + "]" * 20_001


# --- properties ----------------------------------------------------------------------------------

_TRICKY = [*'"\\:,[]{}.0123456789e+- x\x00\x1f\x7f\u2028é😀', "\ud83d", "\ude00", "\ud800"]
# Fragments of orjson output that the fast path patches, to appear inside strings as well.
_LOOKALIKES = [":1.0,", ",2.0]", "[3.0}", ":1e+16,", ",-0.0]", ":5e-6}", '\\"', "\\\\", '":', '{"', "x" * 40]
_texts = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=8),  # surrogates included
    st.text(st.sampled_from(_TRICKY), max_size=10),
    st.lists(st.sampled_from(_LOOKALIKES + _TRICKY), max_size=6).map("".join),
)
_keys = st.one_of(
    _texts,
    st.sampled_from(["0", "1", "2", "9", "10", "01", "-1", "1.5", "4294967294", "4294967295"]),
    st.integers(0, 2**33).map(str),
)
_floats = st.one_of(
    st.floats(),
    st.integers(-(2**60), 2**60).map(float),
    st.floats(1e-7, 1e-5),
    st.floats(1e15, 1e22),
    st.sampled_from([0.0, -0.0, 1.0, 1e16, 1e21, 1e-6, 1e-7, 123456789012345680000.0]),
)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.integers(), _floats, _texts)
json_values = st.recursive(
    _scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(_keys, children, max_size=5)),
    max_leaves=30,
)


@settings(max_examples=400)
@given(json_values)
def test_fast_path_matches_slow_path(value: Any) -> None:
    assert dumps(value) == canonical._dumps_slow(value)


@settings(max_examples=200)
@given(json_values)
def test_stringify_parse_stringify_is_stable(value: Any) -> None:
    text = dumps(value)
    again = loads(text)
    assert dumps(again) == text
    assert repr(loads(text.encode("utf-8"))) == repr(again)  # bytes and str parse alike
    # orjson's result (with its int fix-up) equals what the standard-library fallback builds.
    assert repr(again) == repr(canonical._loads_fallback(text))


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
@settings(max_examples=5, deadline=None)
@given(st.lists(json_values, min_size=50, max_size=50))
def test_matches_node_json_stringify(values: list[Any]) -> None:
    finite = [v for v in values if "NaN" not in json.dumps(v) and "Infinity" not in json.dumps(v)]
    # ensure_ascii writes lone surrogates as \udxxx escapes, which JSON.parse reads back as such.
    lines = "\n".join(json.dumps(v) for v in finite)
    script = (
        'const lines = require("fs").readFileSync(0, "utf8").split("\\n").filter((l) => l);'
        'process.stdout.write(lines.map((l) => JSON.stringify(JSON.parse(l))).join("\\n"));'
    )
    done = subprocess.run(["node", "-e", script], input=lines.encode(), capture_output=True, check=True)
    expected = done.stdout.decode("utf-8").split("\n") if finite else []
    assert [dumps(v) for v in finite] == expected
    assert [dumps(loads(json.dumps(v))) for v in finite] == expected
