"""JavaScript-compatible JSON (what ``JSON.parse`` reads, what ``JSON.stringify`` writes) and hash v2."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, TypeAlias

import orjson

__all__ = (
    "MAX_PAYLOAD_BYTES",
    "JsonError",
    "JsonValue",
    "dumps",
    "dumps_str",
    "event_hash",
    "loads",
    "nesting_depth_exceeds",
    "truncate_payload_json",
)

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None

MAX_PAYLOAD_BYTES: Final = 10240
"""A payload whose compact JSON is longer than this many UTF-8 bytes is truncated (events.md §5)."""

_PREVIEW_UTF16_UNITS: Final = 200
_MAX_SAFE_INTEGER: Final = 2**53
_MAX_ARRAY_INDEX: Final = 2**32 - 2
_CONTAINERS: Final = (dict, list, tuple)


class JsonError(ValueError):
    """The input is not JSON that ``JSON.parse`` accepts; the message can be shown to the client."""


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

# orjson keeps integers up to 64 bits exact, JavaScript rounds those beyond 2**53 (16 digits or
# more). Mapping every digit to "0" makes "is there a run of 16 digits?" one substring search,
# far cheaper than a regular expression. A run counts only where a JSON number can start and
# when no fraction or exponent follows, so long digit runs inside ids and decimals cost nothing.
_DIGITS_TO_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_SIXTEEN_DIGITS: Final = b"0" * 16
_BEFORE_A_NUMBER: Final = frozenset(b":[,- \t\n\r")
_AFTER_AN_INTEGER_PART: Final = frozenset(b".eE")


def _may_hold_big_int(raw: bytes) -> bool:
    """False when ``raw`` (JSON text) surely holds no integer literal of 16 or more digits."""
    zeros = raw.translate(_DIGITS_TO_ZERO)
    at = zeros.find(_SIXTEEN_DIGITS)
    while at != -1:
        end = at + len(_SIXTEEN_DIGITS)
        while end < len(zeros) and zeros[end] == 0x30:  # "0"
            end += 1
        if (at == 0 or raw[at - 1] in _BEFORE_A_NUMBER) and (end == len(raw) or raw[end] not in _AFTER_AN_INTEGER_PART):
            return True
        at = zeros.find(_SIXTEEN_DIGITS, end)
    return False


def _js_integer(n: int) -> int | float:
    """An integer as a JavaScript number: exact up to 2**53, the nearest double beyond."""
    return n if -_MAX_SAFE_INTEGER <= n <= _MAX_SAFE_INTEGER else float(n)


def _parse_int(text: str) -> int | float:
    if len(text) > 20:  # at least 10**19, and int() would meet its digit limit past 4300 digits
        return float(text)
    return _js_integer(int(text))


def _reject_constant(name: str) -> float:
    raise JsonError(f"{name} is not valid JSON")


_DECODER: Final = json.JSONDecoder(parse_int=_parse_int, parse_constant=_reject_constant)


def _round_big_ints(value: Any) -> Any:
    """Replace, in place, every int beyond 2**53 by the nearest double (orjson keeps 64-bit ints)."""
    if type(value) is int:
        return _js_integer(value)
    stack = [value]
    while stack:
        container = stack.pop()
        pairs: Iterable[tuple[Any, Any]]
        if isinstance(container, dict):
            pairs = container.items()
        elif isinstance(container, list):
            pairs = enumerate(container)
        else:
            continue
        for key, item in pairs:
            if type(item) is int:
                container[key] = _js_integer(item)
            elif isinstance(item, dict | list):
                stack.append(item)
    return value


def _error_message(err: json.JSONDecodeError) -> str:
    text = err.doc
    if not text.strip(" \t\n\r"):
        return "empty JSON document"
    if err.pos >= len(text):
        return "unexpected end of JSON input"
    at = len(text[: err.pos].encode("utf-8", "surrogatepass"))
    msg = err.msg.removesuffix(" at")
    if msg == "Expecting value":
        msg = "unexpected character"
    elif msg == "Extra data":
        msg = "unexpected data after the JSON value"
    else:
        msg = msg[:1].lower() + msg[1:]
    return f"{msg} at byte {at}"


def _loads_fallback(data: bytes | str) -> JsonValue:
    """The standard library parser, configured to accept exactly what ``JSON.parse`` accepts."""
    if isinstance(data, str):
        text = data
    else:
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonError(f"invalid UTF-8 at byte {exc.start}") from None
    try:
        value: JsonValue = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise JsonError(_error_message(exc)) from None
    except RecursionError:
        raise JsonError("JSON nesting too deep") from None
    return value


def loads(data: bytes | str) -> JsonValue:
    """Parse JSON text as JavaScript's ``JSON.parse`` would; raise ``JsonError`` when it would throw.

    Duplicate keys keep the last value at the first key's position; integers beyond 2**53 become
    the nearest float; lone surrogate escapes become lone surrogate characters; numbers too large
    for a double become infinity. Nesting deeper than about 1000 levels is refused.
    """
    try:
        value: JsonValue = orjson.loads(data)
    except orjson.JSONDecodeError:
        # orjson refuses lone surrogates, numbers that overflow a double and deep nesting, all of
        # which JavaScript accepts; the fallback sorts those from genuine errors.
        return _loads_fallback(data)
    if isinstance(value, _CONTAINERS):
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        if not _may_hold_big_int(raw):
            return value
    result: JsonValue = _round_big_ints(value)
    return result


def nesting_depth_exceeds(value: JsonValue, limit: int) -> bool:
    """True when objects and arrays nest more than ``limit`` levels deep (``[]`` is one level)."""
    level: list[Any] = [value] if isinstance(value, _CONTAINERS) else []
    depth = 0
    while level:  # one nesting level at a time, breadth first
        depth += 1
        if depth > limit:
            return True
        deeper = []
        for container in level:
            for child in container.values() if isinstance(container, dict) else container:
                if isinstance(child, _CONTAINERS):
                    deeper.append(child)
        level = deeper
    return False


# ---------------------------------------------------------------------------------------------
# Serialization
# ---------------------------------------------------------------------------------------------

# orjson writes what JSON.stringify writes (checked against Node.js on every code point and on
# millions of doubles) except: ints beyond 2**53 (refused under OPT_STRICT_INTEGER), lone
# surrogates (refused), array-index keys (JavaScript enumerates them first) and some floats:
# integral ones (1.0, -0.0 where JavaScript writes 1, 0) and those in [1e16, 1e21) or
# [1e-6, 1e-5), which orjson writes with an exponent and JavaScript in full. Each scan below begins
# with a literal, which the re engine finds quickly. In the compact output a key is always
# ``"...":``, so the key scan cannot miss one; strings may cause false positives.
_KEY_ENDING_IN_DIGIT: Final = re.compile(rb'":(?<=[0-9]":)')  # cheaper than the next: stops at keys only
_INDEX_KEY: Final = re.compile(rb'"[0-9]+":')
_INTEGRAL_FLOAT_HINT: Final = re.compile(rb"\.0[,\]}]")
_EXPONENT_HINT: Final = re.compile(rb"e(?:\+1[6-9]|\+20|-6)[,\]}]")
# A number token JavaScript writes differently, ending where the search range ends. Inside a
# container a number always follows one of ``: , [``.
_JS_DIFFERENT_NUMBER: Final = re.compile(rb"[:,\[](-?[0-9]+(?:\.0|(?:\.[0-9]+)?e(?:\+1[6-9]|\+20|-6)))\Z")

_ESCAPES: Final[dict[int, str]] = {
    **{code: f"\\u{code:04x}" for code in range(0x20)},
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}
_HEX64: Final = re.compile("[0-9a-f]{64}")
_NEEDS_ESCAPE: Final = re.compile('["\\\\\x00-\x1f\ud800-\udfff]')
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_ARRAY_INDEX: Final = re.compile(r"0|[1-9][0-9]{0,9}")


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _quote(s: str) -> str:
    if _NEEDS_ESCAPE.search(s) is None:
        return '"' + s + '"'
    if _SURROGATE.search(s) is not None:
        # A JavaScript string is UTF-16: a high surrogate followed by a low one is one character,
        # written raw; a surrogate without its partner is escaped (well-formed JSON.stringify).
        s = s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        return '"' + _SURROGATE.sub(_escape_surrogate, s.translate(_ESCAPES)) + '"'
    return '"' + s.translate(_ESCAPES) + '"'


def _format_float(x: float) -> str:
    """``Number.prototype.toString()`` for a double, ``null`` for NaN and infinities."""
    if not math.isfinite(x):
        return "null"
    if x == 0:
        return "0"
    r = float.__repr__(x)
    if 1e-4 <= abs(x) < 1e16:  # repr is positional here, with the same shortest digits as JS
        return r[:-2] if r.endswith(".0") else r
    sign = ""
    if r[0] == "-":
        sign, r = "-", r[1:]
    mantissa, _, exponent = r.partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    significant = digits.lstrip("0")
    # ECMA-262 Number::toString: value = s * 10**(n - k), s having k digits.
    n = len(int_part) + (int(exponent) if exponent else 0) - (len(digits) - len(significant))
    s = significant.rstrip("0")
    k = len(s)
    if k <= n <= 21:
        out = s + "0" * (n - k)
    elif 0 < n <= 21:
        out = s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * -n + s
    else:
        e = n - 1
        out = s[0] + ("." + s[1:] if k > 1 else "") + ("e+" if e >= 0 else "e-") + str(abs(e))
    return sign + out


def _format_int(n: int) -> str:
    if -_MAX_SAFE_INTEGER <= n <= _MAX_SAFE_INTEGER:
        return int.__repr__(n)
    try:
        return _format_float(float(n))
    except OverflowError:  # beyond the largest double: JavaScript's Infinity
        return "null"


def _is_array_index(key: str) -> bool:
    return _ARRAY_INDEX.fullmatch(key) is not None and int(key) <= _MAX_ARRAY_INDEX


def _ordered_items(obj: dict[Any, Any]) -> Iterable[tuple[str, Any]]:
    """An object's entries in JavaScript enumeration order: array indices ascending, then the rest."""
    index_keys = []
    for key in obj:
        if not isinstance(key, str):
            raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
        if key[:1].isdigit() and _is_array_index(key):
            index_keys.append(key)
    if not index_keys:
        return obj.items()
    index_keys.sort(key=int)
    first = set(index_keys)
    return [(key, obj[key]) for key in index_keys] + [(k, v) for k, v in obj.items() if k not in first]


def _format_bool(value: bool) -> str:
    return "true" if value else "false"


def _format_null(_: None) -> str:
    return "null"


_SCALAR_FORMATTERS: Final[dict[type, Callable[[Any], str]]] = {
    str: _quote,
    int: _format_int,
    float: _format_float,
    bool: _format_bool,
    type(None): _format_null,
}


def _format_scalar(value: object) -> str:
    """A JSON scalar, its type being one of the above or a subclass of one (an IntEnum, say)."""
    for cls in type(value).__mro__:
        formatter = _SCALAR_FORMATTERS.get(cls)
        if formatter is not None:
            return formatter(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _dumps_slow(value: JsonValue) -> str:
    """``JSON.stringify(value)`` in plain Python, without recursion; the reference for ``dumps``."""
    if isinstance(value, dict):
        parts = ["{"]
        stack: list[tuple[Iterator[Any], bool]] = [(iter(_ordered_items(value)), True)]
    elif isinstance(value, list | tuple):
        parts = ["["]
        stack = [(iter(value), False)]
    else:
        return _format_scalar(value)
    emit = parts.append
    while stack:
        entries, is_object = stack[-1]  # resumed where it stopped to descend into a child
        for entry in entries:
            if parts[-1] != "{" and parts[-1] != "[":
                emit(",")
            if is_object:
                key, item = entry
                emit(_quote(key))
                emit(":")
            else:
                item = entry
            formatter = _SCALAR_FORMATTERS.get(type(item))
            if formatter is not None:
                emit(formatter(item))
            elif isinstance(item, dict):
                emit("{")
                stack.append((iter(_ordered_items(item)), True))
                break
            elif isinstance(item, list | tuple):
                emit("[")
                stack.append((iter(item), False))
                break
            else:
                emit(_format_scalar(item))
        else:
            stack.pop()
            emit("}" if is_object else "]")
    return "".join(parts)


def _js_number(token: bytes) -> bytes:
    if token.endswith(b".0"):  # orjson writes integral floats below 1e16 as their digits + ".0"
        digits = token[:-2]
        return b"0" if digits == b"-0" else digits
    return _format_float(float(token)).encode()


def _fix_numbers(out: bytes) -> bytes:
    """orjson's output with every number JavaScript writes differently rewritten JavaScript's way."""
    ends = [m.end() - 1 for m in _INTEGRAL_FLOAT_HINT.finditer(out)]
    ends += [m.end() - 1 for m in _EXPONENT_HINT.finditer(out)]
    ends.sort()
    # The same text with escaped backslashes and escaped quotes blanked out (orjson escapes a
    # quote as \" and a backslash as \\): the quotes left are string boundaries, so a number
    # token is real when an even number of them precede it, and a lookalike inside a string when odd.
    boundaries = out.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    quotes = 0
    counted = 0  # quotes in boundaries[:counted]
    pieces: list[bytes] = []
    copied = 0  # out[:copied] is in pieces
    for end in ends:
        # No token is longer than 24 bytes (-1.7976931348623157e+308): a bounded search keeps
        # hints inside long strings from making this quadratic.
        match = _JS_DIFFERENT_NUMBER.search(out, max(end - 32, 0), end)
        if match is None:
            continue
        start = match.start(1)
        quotes += boundaries.count(b'"', counted, start)
        counted = start
        if quotes % 2 == 0:
            pieces += (out[copied:start], _js_number(match.group(1)))
            copied = end
    if not pieces:
        return out
    pieces.append(out[copied:])
    return b"".join(pieces)


def dumps(value: JsonValue) -> str:
    """Exactly what JavaScript's ``JSON.stringify(value)`` returns (compact).

    Usually one orjson call and a few scans of its output; floats written differently are patched
    in place; anything else orjson cannot vouch for goes to the pure-Python serializer.
    """
    if isinstance(value, _CONTAINERS):
        try:
            out = orjson.dumps(value, option=orjson.OPT_STRICT_INTEGER)
        except orjson.JSONEncodeError:  # lone surrogates, ints beyond 2**53, deep nesting, ...
            return _dumps_slow(value)
        if _KEY_ENDING_IN_DIGIT.search(out) is None or _INDEX_KEY.search(out) is None:
            if _INTEGRAL_FLOAT_HINT.search(out) is not None or _EXPONENT_HINT.search(out) is not None:
                out = _fix_numbers(out)
            return out.decode()
    return _dumps_slow(value)


def dumps_str(s: str) -> str:
    """A JSON string literal exactly as ``JSON.stringify`` writes it."""
    return _quote(s)


# ---------------------------------------------------------------------------------------------
# Hash v2 and truncation
# ---------------------------------------------------------------------------------------------


def event_hash(
    *,
    event_id: str,
    timestamp: str,
    session_id: str,
    agent_id: str,
    event_type: str,
    severity: str,
    payload_json: str,
    metadata_json: str,
    prev_hash: str | None,
) -> str:
    """SHA-256 hex of the hash-v2 canonical string (events.md §6).

    ``payload_json`` and ``metadata_json`` must already be ``dumps`` output (after truncation).
    """
    try:
        # orjson escapes strings exactly as JSON.stringify does except lone surrogates, which it
        # refuses (TypeError): those take the pure-Python quoting below.
        head = orjson.dumps({
            "v": 2, "id": event_id, "timestamp": timestamp, "sessionId": session_id, "agentId": agent_id,
            "eventType": event_type, "severity": severity,
        })
    except TypeError:
        head = "".join((
            '{"v":2,"id":', _quote(event_id), ',"timestamp":', _quote(timestamp), ',"sessionId":',
            _quote(session_id), ',"agentId":', _quote(agent_id), ',"eventType":', _quote(event_type),
            ',"severity":', _quote(severity), "}",
        )).encode("utf-8", "surrogatepass")
    h = hashlib.sha256(head[:-1])
    h.update(b',"payload":')
    h.update(payload_json.encode("utf-8", "surrogatepass"))
    h.update(b',"metadata":')
    h.update(metadata_json.encode("utf-8", "surrogatepass"))
    h.update(b',"prevHash":')
    if prev_hash is None:
        h.update(b"null}")
    elif _HEX64.fullmatch(prev_hash):  # our own sha256 hex: nothing to escape
        h.update(b'"' + prev_hash.encode() + b'"}')
    else:
        h.update(_quote(prev_hash).encode("utf-8", "surrogatepass") + b"}")
    return h.hexdigest()


def truncate_payload_json(payload_json: str) -> str:
    """``payload_json`` itself up to ``MAX_PAYLOAD_BYTES`` UTF-8 bytes, else the truncation marker (§5)."""
    size = len(payload_json.encode("utf-8", "surrogatepass"))
    if size <= MAX_PAYLOAD_BYTES:
        return payload_json
    # The first 200 UTF-16 code units (200 code points hold at least that many); a surrogate
    # pair cut in half leaves a lone high surrogate, which dumps escapes as JavaScript does.
    head = payload_json[:_PREVIEW_UTF16_UNITS].encode("utf-16-le", "surrogatepass")
    preview = head[: 2 * _PREVIEW_UTF16_UNITS].decode("utf-16-le", "surrogatepass")
    return dumps(
        {
            "type": "_truncated",
            "data": {
                "_truncated": True,
                "originalSize": size,
                "maxSize": MAX_PAYLOAD_BYTES,
                "preview": preview + "...",
            },
        }
    )
