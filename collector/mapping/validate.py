"""Payload schemas of the 21 ingestible event types (upstream §1.4), checked table-driven and fast.

Zod semantics, reproduced without a schema library (this runs for every ingested event):

- ``str`` is a JSON string; ``min1`` a non-empty one;
- a number is a finite JSON number, never a boolean; ``int`` is an integral number within
  JavaScript's safe range (zod 4 ``.int()``);
- a record is a JSON object; an array is a JSON array;
- an optional field may be *absent*; JSON ``null`` is accepted only where the schema says
  nullable (``llm_response.completion``);
- the payload is validated, not transformed: unknown keys are allowed and kept.

Problems are appended to a caller-supplied list as ``(path, message)`` so that every problem
of a batch is reported at once; a path is built only when there is something to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from store.model import CLIENT_EVENT_TYPES

__all__ = (
    "MAX_SAFE_INTEGER",
    "PAYLOAD_SCHEMAS",
    "Errors",
    "Field",
    "expected",
    "fields_ok",
    "payload_errors",
    "quote",
    "report_fields",
    "type_name",
    "validate_payload",
)

Errors = list[tuple[str, str]]
# (key, required, kind, check)
Field = tuple[str, bool, int, "_Check"]

MAX_SAFE_INTEGER: Final = (1 << 53) - 1
_MISSING: Final = object()

_TYPE_NAMES: Final[dict[type, str]] = {
    str: "string", int: "number", float: "number", bool: "boolean",
    dict: "object", list: "array", type(None): "null",
}


def type_name(value: Any) -> str:
    """The JSON (zod) name of a value's type: string, number, boolean, object, array, null."""
    name = _TYPE_NAMES.get(type(value))
    if name is not None:
        return name
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def expected(what: str, value: Any) -> str:
    """``Expected string, received number``."""
    return f"Expected {what}, received {type_name(value)}"


def quote(text: str, limit: int = 64) -> str:
    """A received string for an error message, cut short so that no message echoes a huge value."""
    if len(text) > limit:
        text = text[:limit] + "…"
    return "'" + text.encode("utf-8", "backslashreplace").decode("utf-8") + "'"


# --------------------------------------------------------------------------- checks
#
# Every check has a fast boolean ``ok(value)`` that builds no strings, and a slow
# ``report(value, path, errs)`` that runs only when ``ok`` failed somewhere in the payload.
# Fields of an object carry a ``kind`` so that the common scalar kinds are tested inline,
# without a call.

_K_OTHER, _K_STR1, _K_NUM, _K_STR, _K_REC = range(5)


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


class _Check:
    __slots__ = ()
    kind: int = _K_OTHER

    def ok(self, v: Any) -> bool:
        raise NotImplementedError

    def report(self, v: Any, path: str, errs: Errors) -> None:
        raise NotImplementedError


class _Str(_Check):
    __slots__ = ()
    kind = _K_STR

    def ok(self, v: Any) -> bool:
        return type(v) is str

    def report(self, v: Any, path: str, errs: Errors) -> None:
        if type(v) is not str:
            errs.append((path, expected("string", v)))


class _Str1(_Check):
    __slots__ = ()
    kind = _K_STR1

    def ok(self, v: Any) -> bool:
        return type(v) is str and v != ""

    def report(self, v: Any, path: str, errs: Errors) -> None:
        if type(v) is not str:
            errs.append((path, expected("string", v)))
        elif not v:
            errs.append((path, "String must contain at least 1 character(s)"))


class _NullableStr(_Check):
    __slots__ = ()

    def ok(self, v: Any) -> bool:
        return v is None or type(v) is str

    def report(self, v: Any, path: str, errs: Errors) -> None:
        if not self.ok(v):
            errs.append((path, expected("string or null", v)))


class _Bool(_Check):
    __slots__ = ()

    def ok(self, v: Any) -> bool:
        return type(v) is bool

    def report(self, v: Any, path: str, errs: Errors) -> None:
        if type(v) is not bool:
            errs.append((path, expected("boolean", v)))


class _Record(_Check):
    __slots__ = ()
    kind = _K_REC

    def ok(self, v: Any) -> bool:
        return isinstance(v, dict)

    def report(self, v: Any, path: str, errs: Errors) -> None:
        if not isinstance(v, dict):
            errs.append((path, expected("object", v)))


def _number_problem(v: Any) -> str | None:
    t = type(v)
    if t is int:
        return None
    if t is float:
        # inf - inf and nan - nan are nan, which is unequal to everything
        return None if v - v == 0.0 else "Number must be finite"
    return expected("number", v)


class _Num(_Check):
    """A finite number, optionally ``>= minimum``, optionally integral and JS-safe."""

    __slots__ = ("integer", "kind", "minimum")

    def __init__(self, minimum: int | None = None, integer: bool = False) -> None:
        self.minimum = minimum
        self.integer = integer
        self.kind = _K_NUM if minimum is None and not integer else _K_OTHER

    def problem(self, v: Any) -> str | None:
        problem = _number_problem(v)
        if problem is not None:
            return problem
        if self.integer:
            if type(v) is float and not v.is_integer():
                return "Expected integer, received float"
            if v > MAX_SAFE_INTEGER:
                return f"Number must be less than or equal to {MAX_SAFE_INTEGER}"
        minimum = self.minimum
        if minimum is not None and v < minimum:
            if minimum == 0 or not self.integer:
                return f"Number must be greater than or equal to {minimum}"
            return f"Number must be greater than {minimum - 1}"
        return None

    def ok(self, v: Any) -> bool:
        t = type(v)
        if t is int and self.minimum is None and not self.integer:
            return True
        return self.problem(v) is None

    def report(self, v: Any, path: str, errs: Errors) -> None:
        problem = self.problem(v)
        if problem is not None:
            errs.append((path, problem))


class _Enum(_Check):
    __slots__ = ("allowed", "listing")

    def __init__(self, *values: str) -> None:
        self.allowed = frozenset(values)
        self.listing = " | ".join(f"'{value}'" for value in values)

    def ok(self, v: Any) -> bool:
        return type(v) is str and v in self.allowed

    def report(self, v: Any, path: str, errs: Errors) -> None:
        if type(v) is not str:
            errs.append((path, expected(self.listing, v)))
        elif v not in self.allowed:
            errs.append((path, f"Invalid enum value. Expected {self.listing}, received {quote(v)}"))


def fields_ok(obj: Mapping[str, Any], fields: tuple[Field, ...]) -> bool:
    """True when every listed field of ``obj`` is valid (other keys are ignored); builds no strings."""
    get = obj.get
    for name, required, kind, check in fields:
        v = get(name, _MISSING)
        if v is _MISSING:
            if required:
                return False
        elif kind == _K_STR1:
            if type(v) is not str or v == "":
                return False
        elif kind == _K_NUM:
            t = type(v)
            if t is not int and (t is not float or v - v != 0.0):
                return False
        elif kind == _K_STR:
            if type(v) is not str:
                return False
        elif kind == _K_REC:
            if not isinstance(v, dict):
                return False
        elif not check.ok(v):
            return False
    return True


def report_fields(obj: Mapping[str, Any], path: str, fields: tuple[Field, ...], errs: Errors) -> None:
    """Append every problem of the listed fields of ``obj`` (whose own path is ``path``)."""
    for name, required, _kind, check in fields:
        v = obj.get(name, _MISSING)
        if v is _MISSING:
            if required:
                errs.append((_join(path, name), "Required"))
        else:
            check.report(v, _join(path, name), errs)


class _Object(_Check):
    __slots__ = ("fields",)

    def __init__(self, *fields: Field) -> None:
        self.fields = fields

    def ok(self, v: Any) -> bool:
        return isinstance(v, dict) and fields_ok(v, self.fields)

    def report(self, v: Any, path: str, errs: Errors) -> None:
        if isinstance(v, dict):
            report_fields(v, path, self.fields, errs)
        else:
            errs.append((path, expected("object", v)))


class _Array(_Check):
    __slots__ = ("item", "min_items")

    def __init__(self, item: _Check, min_items: int = 0) -> None:
        self.item = item
        self.min_items = min_items

    def ok(self, v: Any) -> bool:
        if type(v) is not list or len(v) < self.min_items:
            return False
        return all(map(self.item.ok, v))

    def report(self, v: Any, path: str, errs: Errors) -> None:
        if type(v) is not list:
            errs.append((path, expected("array", v)))
            return
        if len(v) < self.min_items:
            errs.append((path, f"Array must contain at least {self.min_items} element(s)"))
        item = self.item
        for index, element in enumerate(v):
            if not item.ok(element):
                item.report(element, f"{path}.{index}", errs)


class _StrOrRecords(_Check):
    """``string | Array<record>`` (LlmMessage.content)."""

    __slots__ = ()
    _records = _Array(_Record())

    def ok(self, v: Any) -> bool:
        return type(v) is str or self._records.ok(v)

    def report(self, v: Any, path: str, errs: Errors) -> None:
        if type(v) is list:
            self._records.report(v, path, errs)
        elif type(v) is not str:
            errs.append((path, expected("string or array", v)))


_str = _Str()
_str1 = _Str1()
_num = _Num()
_num_ge0 = _Num(minimum=0)
_int_ge0 = _Num(minimum=0, integer=True)
_int_gt0 = _Num(minimum=1, integer=True)
_bool = _Bool()
_record = _Record()
_str_array = _Array(_str)


def _req(name: str, check: _Check) -> Field:
    return (name, True, check.kind, check)


def _opt(name: str, check: _Check) -> Field:
    return (name, False, check.kind, check)


# --------------------------------------------------------------------------- the table (§1.4)

_tool_call_item = _Object(_req("id", _str), _req("name", _str), _req("arguments", _record))

_llm_message = _Object(
    _req("role", _Enum("system", "user", "assistant", "tool")),
    _req("content", _StrOrRecords()),
    _opt("toolCallId", _str),
    _opt("toolCalls", _Array(_tool_call_item)),
)

_approval_decision: Final[tuple[Field, ...]] = (
    _req("requestId", _str1), _req("action", _str1), _req("decidedBy", _str1), _opt("reason", _str),
)

PAYLOAD_SCHEMAS: Final[Mapping[str, tuple[Field, ...]]] = {
    "tool_call": (
        _req("toolName", _str1), _req("callId", _str1), _req("arguments", _record),
        _opt("serverName", _str),
    ),
    "tool_response": (
        # ``result`` is z.unknown(): anything, and it may be absent.
        _req("callId", _str1), _req("toolName", _str1), _req("durationMs", _num),
    ),
    "tool_error": (
        _req("callId", _str1), _req("toolName", _str1), _req("error", _str),
        _opt("errorCode", _str), _req("durationMs", _num),
    ),
    "session_started": (
        _opt("agentName", _str), _opt("agentVersion", _str), _opt("mcpClientInfo", _record),
        _opt("tags", _str_array),
    ),
    "session_ended": (
        _req("reason", _Enum("completed", "error", "timeout", "manual")), _opt("summary", _str),
        _opt("totalToolCalls", _num), _opt("totalDurationMs", _num),
    ),
    "approval_requested": (
        _req("requestId", _str1), _req("action", _str1), _req("params", _record), _req("urgency", _str),
    ),
    "approval_granted": _approval_decision,
    "approval_denied": _approval_decision,
    "approval_expired": _approval_decision,
    "form_submitted": (
        _req("submissionId", _str1), _req("formId", _str1), _opt("formName", _str),
        _req("fieldCount", _num),
    ),
    "form_completed": (
        _req("submissionId", _str1), _req("formId", _str1), _req("completedBy", _str1),
        _req("durationMs", _num),
    ),
    "form_expired": (
        _req("submissionId", _str1), _req("formId", _str1), _req("expiredAfterMs", _num),
    ),
    "cost_tracked": (
        _req("provider", _str1), _req("model", _str1), _req("inputTokens", _num),
        _req("outputTokens", _num), _req("totalTokens", _num), _req("costUsd", _num),
        _opt("trigger", _str),
    ),
    "llm_call": (
        _req("callId", _str1), _req("provider", _str1), _req("model", _str1),
        _req("messages", _Array(_llm_message, min_items=1)),
        _opt("systemPrompt", _str),
        _opt("parameters", _Object(  # plus any extra key (zod .catchall(unknown))
            _opt("temperature", _num), _opt("maxTokens", _num), _opt("topP", _num),
            _opt("stopSequences", _str_array),
        )),
        _opt("tools", _Array(_Object(
            _req("name", _str), _opt("description", _str), _opt("parameters", _record),
        ))),
        _opt("redacted", _bool),
    ),
    "llm_response": (
        _req("callId", _str1), _req("provider", _str1), _req("model", _str1),
        _req("completion", _NullableStr()),
        _opt("toolCalls", _Array(_tool_call_item)),
        _req("finishReason", _str1),
        _req("usage", _Object(
            _req("inputTokens", _num), _req("outputTokens", _num), _req("totalTokens", _num),
            _opt("thinkingTokens", _num), _opt("cacheReadTokens", _num), _opt("cacheWriteTokens", _num),
        )),
        _req("costUsd", _num), _req("latencyMs", _num), _opt("redacted", _bool),
    ),
    "alert_triggered": (
        _req("alertRuleId", _str1), _req("alertName", _str1), _req("condition", _str),
        _req("currentValue", _num), _req("threshold", _num), _req("message", _str),
    ),
    "alert_resolved": (
        _req("alertRuleId", _str1), _req("alertName", _str1), _opt("resolvedBy", _str),
    ),
    "retrieval": (
        _req("query", _str), _opt("retrieverName", _str), _opt("topK", _int_ge0),
        _opt("resultCount", _int_ge0), _opt("durationMs", _num_ge0),
    ),
    "embedding": (
        _req("model", _str), _req("inputCount", _int_ge0), _opt("dimensions", _int_gt0),
        _opt("durationMs", _num_ge0),
    ),
    "chain_step": (
        _req("name", _str), _opt("stepType", _str), _opt("durationMs", _num_ge0),
    ),
    "custom": (
        _req("type", _str), _req("data", _record),
    ),
}

if set(PAYLOAD_SCHEMAS) != set(CLIENT_EVENT_TYPES):  # pragma: no cover - a table typo
    raise RuntimeError("PAYLOAD_SCHEMAS must cover exactly the client event types")


def validate_payload(
    event_type: str, payload: Mapping[str, Any], errs: Errors, path: str = "payload",
) -> None:
    """Append every problem of ``payload`` (an object) against its type's schema to ``errs``.

    ``event_type`` must be one of the 21 ingestible types (``KeyError`` otherwise); ``path``
    is the payload's own path, e.g. ``events.3.payload``.
    """
    fields = PAYLOAD_SCHEMAS[event_type]
    if not fields_ok(payload, fields):
        report_fields(payload, path, fields, errs)


def payload_errors(event_type: str, payload: Any, path: str = "payload") -> Errors:
    """All problems of one payload (which may be any JSON value) as a new list."""
    errs: Errors = []
    if isinstance(payload, dict):
        validate_payload(event_type, payload, errs, path)
    else:
        errs.append((path, expected("object", payload)))
    return errs
