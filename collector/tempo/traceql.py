"""The TraceQL subset Grafana's search emits: parse it (or the legacy tags) into a small AST; refuse the rest.

Supported: spanset filters ``{ ... }`` combined with ``&&`` / ``||`` (a trace matches when each
required spanset has a span), inside them conditions joined by ``&&`` / ``||`` with parentheses;
fields ``span.<attr>``, ``resource.<attr>``, ``.<attr>`` (span, else resource) and the intrinsics
``name status statusMessage duration kind rootServiceName rootName traceDuration`` (also in their
``span:`` / ``trace:`` spellings); operators ``= != > >= < <= =~ !~``; values: strings ("..." or
`...`), numbers, durations (``300ms``, ``1.5s``), ``true``/``false``, ``nil``, status and kind
names. Anything else raises ``Unsupported`` (or ``TraceQLError`` for plain syntax errors) with a
message that names it. Regular expressions are fully anchored (as in Tempo >= 2.7 and Prometheus).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

__all__ = (
    "INTRINSICS",
    "And",
    "Cond",
    "Duration",
    "Enum",
    "Expr",
    "Field",
    "Nil",
    "Or",
    "Query",
    "SpansetAnd",
    "SpansetOr",
    "TraceQLError",
    "Unsupported",
    "Value",
    "parse_duration",
    "parse_legacy",
    "parse_traceql",
)


class TraceQLError(ValueError):
    """The query is not valid TraceQL."""


class Unsupported(TraceQLError):
    """Valid TraceQL (as far as we can tell) outside the subset we serve."""


@dataclass(frozen=True, slots=True)
class Duration:
    ns: int


@dataclass(frozen=True, slots=True)
class Enum:
    name: str          # ok | error | unset | server | client | internal | producer | consumer | unspecified


@dataclass(frozen=True, slots=True)
class Nil:
    pass


Value = str | int | float | bool | Duration | Enum | Nil


@dataclass(frozen=True, slots=True)
class Field:
    scope: Literal["span", "resource", "any", "intrinsic"]
    name: str


@dataclass(frozen=True, slots=True)
class Cond:
    field: Field
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


Expr = Cond | And | Or | bool


@dataclass(frozen=True, slots=True)
class SpansetAnd:
    items: tuple[Query, ...]


@dataclass(frozen=True, slots=True)
class SpansetOr:
    items: tuple[Query, ...]


# a single spanset is its filter expression
Query = Expr | SpansetAnd | SpansetOr
_T = TypeVar("_T", Expr, Query)

INTRINSICS: Final = {
    "name": "name", "span:name": "name",
    "status": "status", "span:status": "status",
    "statusMessage": "statusMessage", "span:statusMessage": "statusMessage",
    "duration": "duration", "span:duration": "duration",
    "kind": "kind", "span:kind": "kind",
    "rootServiceName": "rootServiceName", "trace:rootService": "rootServiceName",
    "rootName": "rootName", "trace:rootName": "rootName",
    "traceDuration": "traceDuration", "trace:duration": "traceDuration",
}
_ENUMS: Final = frozenset({"ok", "error", "unset", "unspecified", "internal", "server", "client", "producer",
                           "consumer"})
_UNITS: Final = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
                 "h": 3_600_000_000_000}
_COMPARISONS: Final = frozenset({"=", "!=", ">", ">=", "<", "<=", "=~", "!~"})
_STRUCTURAL: Final = frozenset({">>", "<<", ">", "<", "~", "!>>", "!<<", "!>", "!<", "!~", "&>>", "&<<", "&>", "&<",
                                "&~"})
_ARITHMETIC: Final = frozenset({"+", "-", "*", "/", "%", "^"})
_UNSUPPORTED_SCOPES: Final = ("event", "link", "instrumentation", "parent")

_TOKEN: Final = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<num>-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:(?:ns|us|µs|ms|s|m|h)(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))*)?(?![\w.]))
  | (?P<op>&&|\|\||!>>|!<<|&>>|&<<|>>|<<|=~|!~|!=|>=|<=|&>|&<|&~|!>|!<|[{}()=<>~!|+\-*/%^,&])
  | (?P<word>[^\s{}()=!<>~&|"`,+*/%^]+)
""", re.VERBOSE)
_DURATION: Final = re.compile(r"(-?\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """A Go-style duration (``1h30m``, ``1.5s``, ``100ms``) in nanoseconds; ``TraceQLError`` otherwise."""
    text = text.strip()
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if m is None:
            raise TraceQLError(f"invalid duration {text!r}: use a number with a unit such as 300ms, 1.5s, 2m")
        total += float(m[1]) * _UNITS[m[2]]
        pos = m.end()
    if not text:
        raise TraceQLError("empty duration")
    return int(total)


def _tokens(q: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(q):
        m = _TOKEN.match(q, pos)
        if m is None:
            raise TraceQLError(f"unexpected character {q[pos]!r} at position {pos + 1}")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group()))
        pos = m.end()
    return out


MAX_QUERY_CHARS: Final = 16_384
MAX_DEPTH: Final = 64


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_QUERY_CHARS:
            raise TraceQLError(f"query longer than {MAX_QUERY_CHARS} characters")
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def nest(self, tok: tuple[str, str]) -> None:
        if tok[1] in ("(", "{"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise TraceQLError(f"more than {MAX_DEPTH} nested parentheses or braces")

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise TraceQLError("unexpected end of query")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok[1] != text:
            raise TraceQLError(f"expected {text!r}, found {tok[1]!r}")

    # ---------------------------------------------------------------- spanset level

    def query(self) -> Query:
        q = self.spanset_or()
        tok = self.peek()
        if tok is not None:
            self._refuse_after_spanset(tok)
            raise TraceQLError(f"unexpected {tok[1]!r} after the spanset")
        return q

    def _refuse_after_spanset(self, tok: tuple[str, str]) -> None:
        if tok[1] == "|":
            raise Unsupported("pipelines ('| ...': aggregates such as count() or avg(), select(), by(), "
                              "metrics functions) are not supported; use spanset filters { ... } only")
        if tok[1] in _STRUCTURAL:
            raise Unsupported(f"structural operators ('{tok[1]}') are not supported; combine spansets with && or ||")

    def joined(self, op: str, operand: Callable[[], _T], node: Callable[[tuple[_T, ...]], _T]) -> _T:
        """One or more ``operand``s separated by ``op``; several are wrapped in ``node``."""
        items = [operand()]
        while (tok := self.peek()) is not None and tok[1] == op:
            self.take()
            items.append(operand())
        return items[0] if len(items) == 1 else node(tuple(items))

    def spanset_or(self) -> Query:
        return self.joined("||", self.spanset_and, SpansetOr)

    def spanset_and(self) -> Query:
        return self.joined("&&", self.spanset_term, SpansetAnd)

    def spanset_term(self) -> Query:
        tok = self.take()
        self.nest(tok)
        if tok[1] == "(":
            inner = self.spanset_or()
            self.expect(")")
            self.depth -= 1
            return inner
        if tok[1] == "{":
            if (nxt := self.peek()) is not None and nxt[1] == "}":
                self.take()
                self.depth -= 1
                return True
            expr = self.expr_or()
            end = self.take()
            if end[1] != "}":
                self._refuse_inside(end)
                raise TraceQLError(f"expected '}}', found {end[1]!r}")
            self.depth -= 1
            return expr
        if tok[0] == "word" and (nxt := self.peek()) is not None and nxt[1] == "(":
            raise Unsupported(f"functions ('{tok[1]}()') are not supported; use spanset filters {{ ... }} only")
        self._refuse_after_spanset(tok)
        raise TraceQLError(f"expected a spanset '{{ ... }}', found {tok[1]!r}")

    # ---------------------------------------------------------------- inside a spanset

    def _refuse_inside(self, tok: tuple[str, str]) -> None:
        if tok[1] in _ARITHMETIC:
            raise Unsupported(f"arithmetic ('{tok[1]}') is not supported in conditions")
        if tok[1] == "!":
            raise Unsupported("negation ('!') is not supported; use != or !~")
        if tok[1] == "|":
            raise Unsupported("pipelines ('|') are not supported")

    def expr_or(self) -> Expr:
        return self.joined("||", self.expr_and, Or)

    def expr_and(self) -> Expr:
        return self.joined("&&", self.unary, And)

    def unary(self) -> Expr:
        tok = self.take()
        self.nest(tok)
        if tok[1] == "(":
            inner = self.expr_or()
            self.expect(")")
            self.depth -= 1
            return inner
        if tok[0] == "word" and tok[1] in ("true", "false") and (
            (nxt := self.peek()) is None or nxt[1] in ("&&", "||", ")", "}")
        ):
            return tok[1] == "true"
        self._refuse_inside(tok)
        field = self.field(tok)
        op_tok = self.take()
        if op_tok[1] not in _COMPARISONS:
            self._refuse_inside(op_tok)
            raise TraceQLError(f"expected a comparison (= != > >= < <= =~ !~) after {tok[1]!r}, found {op_tok[1]!r}")
        value = self.value()
        if (nxt := self.peek()) is not None and nxt[1] in _ARITHMETIC:
            self._refuse_inside(nxt)
        cond = Cond(field, op_tok[1], value)
        _check(cond)
        return cond

    def field(self, tok: tuple[str, str]) -> Field:
        kind, text = tok
        if kind != "word":
            raise TraceQLError(f"expected an attribute or intrinsic, found {text!r}")
        if text in INTRINSICS:
            return Field("intrinsic", INTRINSICS[text])
        for scope in ("span", "resource"):
            if text.startswith(scope + "."):
                return Field("span" if scope == "span" else "resource", self._name(text[len(scope) + 1:]))
        if text.startswith("."):
            return Field("any", self._name(text[1:]))
        head = re.split(r"[.:]", text, maxsplit=1)[0]
        if head in _UNSUPPORTED_SCOPES or head in ("span", "trace", "event", "link", "instrumentation"):
            raise Unsupported(f"'{text}' is not supported: use span., resource., unscoped .attributes or the "
                              "intrinsics name, status, statusMessage, duration, kind, rootServiceName, rootName, "
                              "traceDuration")
        raise TraceQLError(f"unknown field {text!r}: attributes need a scope (span., resource. or a leading dot)")

    def _name(self, rest: str) -> str:
        if rest == "" and (tok := self.peek()) is not None and tok[0] in ("str", "raw"):
            self.take()
            return _string(tok)
        if not rest:
            raise TraceQLError("attribute name missing after the scope")
        return rest

    def value(self) -> Value:
        kind, text = self.take()
        if kind in ("str", "raw"):
            return _string((kind, text))
        if kind == "num":
            if text[-1].isalpha():
                return Duration(parse_duration(text))
            number = float(text)
            return int(text) if re.fullmatch(r"-?\d+", text) else number
        if kind == "word":
            if text in ("true", "false"):
                return text == "true"
            if text == "nil":
                return Nil()
            if text in _ENUMS:
                return Enum(text)
        raise TraceQLError(f"expected a value (string, number, duration, true/false, nil, status or kind), "
                           f"found {text!r}")


def _string(tok: tuple[str, str]) -> str:
    kind, text = tok
    if kind == "raw":
        return text[1:-1]
    out: list[str] = []
    body = text[1:-1]
    i = 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'"}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 5 < len(body):
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(escapes.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _check(cond: Cond) -> None:
    """Reject combinations that cannot mean anything (a regex against a number, ...)."""
    op, value = cond.op, cond.value
    if op in ("=~", "!~"):
        if not isinstance(value, str):
            raise TraceQLError(f"{op} needs a string regular expression")
        try:
            re.compile(value)
        except re.error as exc:
            raise TraceQLError(f"invalid regular expression {value!r}: {exc}") from None
    if isinstance(value, Nil) and op not in ("=", "!="):
        raise TraceQLError("nil can only be compared with = or !=")
    name = cond.field.name if cond.field.scope == "intrinsic" else ""
    if name in ("duration", "traceDuration") and not isinstance(value, Duration | int | float):
        raise TraceQLError(f"{name} compares with a duration such as 300ms")
    if name in ("status", "kind") and op not in ("=", "!="):
        raise TraceQLError(f"{name} supports = and != only")


def parse_traceql(text: str) -> Query:
    """The AST of a query in the subset; ``Unsupported`` / ``TraceQLError`` otherwise."""
    text = text.strip()
    if not text:
        return True
    return _Parser(text).query()


_LOGFMT: Final = re.compile(r'\s*([^\s=]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s"]\S*|)(?=\s|$))')


def parse_legacy(tags: str | None, min_duration: str | None, max_duration: str | None) -> Query:
    """The legacy search (``tags`` in logfmt, ``minDuration``/``maxDuration`` of the trace) as a query.

    ``name`` is the span name, ``status.code`` the status, ``error=true`` an error status, any other
    key an attribute of the span or its resource (string comparison of its value).
    """
    conds: list[Expr] = []
    text = (tags or "").strip()
    pos = 0
    while pos < len(text):
        m = _LOGFMT.match(text, pos)
        if m is None:
            raise TraceQLError(f"invalid tags near {text[pos:pos + 20]!r}: use logfmt, e.g. service.name=\"api\"")
        key, value = m[1], m[2] if m[2] is not None else m[3]
        value = _string(("str", f'"{value}"')) if m[2] is not None else value
        if key == "name":
            conds.append(Cond(Field("intrinsic", "name"), "=", value))
        elif key in ("status.code", "status"):
            status = value.lower().removeprefix("status_code_")
            if status not in ("ok", "error", "unset"):
                raise TraceQLError(f"invalid status {value!r}: use ok, error or unset")
            conds.append(Cond(Field("intrinsic", "status"), "=", Enum(status)))
        elif key == "error" and value == "true":
            conds.append(Cond(Field("intrinsic", "status"), "=", Enum("error")))
        else:  # "tag=": equal as text, whatever the attribute's type (500 matches an int 500)
            conds.append(Cond(Field("any", key), "tag=", value))
        pos = m.end()
    if min_duration:
        conds.append(Cond(Field("intrinsic", "traceDuration"), ">=", Duration(parse_duration(min_duration))))
    if max_duration:
        conds.append(Cond(Field("intrinsic", "traceDuration"), "<=", Duration(parse_duration(max_duration))))
    if not conds:
        return True
    return conds[0] if len(conds) == 1 else And(tuple(conds))
