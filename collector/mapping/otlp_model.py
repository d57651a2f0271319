"""The decoded OTLP representation shared by the protobuf and JSON decoders and the mappers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = (
    "KIND_NAMES",
    "MAX_ANY_DEPTH",
    "MAX_ATTRIBUTES",
    "SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE",
    "SPAN_FLAGS_CONTEXT_IS_REMOTE",
    "STATUS_ERROR",
    "STATUS_NAMES",
    "STATUS_OK",
    "AttrValue",
    "Attributes",
    "DecodeError",
    "DecodedLogs",
    "DecodedMetrics",
    "DecodedTraces",
    "LogRecord",
    "MetricPoint",
    "PointKind",
    "Resource",
    "Scope",
    "Span",
    "SpanEvent",
    "SpanLink",
)

# An attribute value keeps its OTLP AnyValue type through the Python type:
# str / bool / int / float / bytes / list (ArrayValue) / dict (KeyValueList) / None (empty AnyValue).
AttrValue = Any
Attributes = dict[str, AttrValue]

# Caps applied while decoding (otlp-receiver.md §7 #19, #22). The SDK's default attribute count
# limit is 128; we keep up to 1024 and count the rest as dropped. AnyValue nesting deeper than
# MAX_ANY_DEPTH is replaced by a marker string instead of being walked.
MAX_ATTRIBUTES: Final = 1024
MAX_ANY_DEPTH: Final = 16

STATUS_OK: Final = 1
STATUS_ERROR: Final = 2
KIND_NAMES: Final = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS_NAMES: Final = ("UNSET", "OK", "ERROR")
# trace.proto SpanFlags: bit 8 says whether bit 9 (parent is remote) is known.
SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE: Final = 0x100
SPAN_FLAGS_CONTEXT_IS_REMOTE: Final = 0x200

PointKind = Literal["gauge", "sum", "histogram", "exponential_histogram", "summary"]


class DecodeError(ValueError):
    """The body cannot be decoded as the expected OTLP message (a permanent error -> 400)."""


@dataclass(frozen=True, slots=True)
class Resource:
    attributes: Attributes
    dropped_attributes_count: int = 0
    schema_url: str = ""

    @property
    def service_name(self) -> str | None:
        value = self.attributes.get("service.name")
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class Scope:
    name: str = ""
    version: str = ""
    attributes: Attributes = field(default_factory=dict)
    dropped_attributes_count: int = 0
    schema_url: str = ""


@dataclass(frozen=True, slots=True)
class SpanEvent:
    time_unix_nano: int
    name: str
    attributes: Attributes
    dropped_attributes_count: int = 0


@dataclass(frozen=True, slots=True)
class SpanLink:
    trace_id: str
    span_id: str
    trace_state: str
    attributes: Attributes
    dropped_attributes_count: int = 0
    flags: int = 0


@dataclass(slots=True)  # not frozen: built per item on the hot path (frozen costs ~2 us each)
class Span:
    """One span with everything needed to map it and, later, to serve it back to Tempo.

    Ids are lowercase hex; ``parent_span_id`` is ``""`` for a root (or an unusable parent id,
    which is then reported in ``DecodedTraces.warnings``).
    """

    resource: Resource
    scope: Scope
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: Attributes
    status_code: int = 0
    status_message: str = ""
    trace_state: str = ""
    flags: int = 0
    events: tuple[SpanEvent, ...] = ()
    links: tuple[SpanLink, ...] = ()
    dropped_attributes_count: int = 0
    dropped_events_count: int = 0
    dropped_links_count: int = 0

    @property
    def parent_is_remote(self) -> bool:
        mask = SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE | SPAN_FLAGS_CONTEXT_IS_REMOTE
        return (self.flags & mask) == mask


@dataclass(slots=True)  # not frozen: built per item on the hot path (frozen costs ~2 us each)
class LogRecord:
    """A log record; ``trace_id``/``span_id`` are ``""`` when absent or unusable (#14)."""

    resource: Resource
    scope: Scope
    time_unix_nano: int
    observed_time_unix_nano: int
    severity_number: int
    severity_text: str
    body: AttrValue
    attributes: Attributes
    trace_id: str = ""
    span_id: str = ""
    event_name: str = ""
    flags: int = 0
    dropped_attributes_count: int = 0


@dataclass(slots=True)  # not frozen: built per item on the hot path (frozen costs ~2 us each)
class MetricPoint:
    """One data point with its metric's identity.

    ``value`` is the number for gauges and sums, the sum for histograms (``None`` when the
    histogram carries no sum), and ``None`` for exponential histograms and summaries, which
    are accepted but not mapped.
    """

    resource: Resource
    scope: Scope
    metric_name: str
    description: str
    unit: str
    point_kind: PointKind
    attributes: Attributes
    start_time_unix_nano: int
    time_unix_nano: int
    value: int | float | None
    count: int | None = None
    aggregation_temporality: int = 0
    is_monotonic: bool = False


@dataclass(slots=True)
class _DecodeOutcome:
    """What every decoded request reports besides its items (the partial-success inputs)."""

    rejected: int = 0
    errors: list[str] = field(default_factory=list)     # why items were rejected
    warnings: list[str] = field(default_factory=list)   # accepted with a caveat


@dataclass(slots=True)
class DecodedTraces(_DecodeOutcome):
    spans: list[Span] = field(default_factory=list)


@dataclass(slots=True)
class DecodedLogs(_DecodeOutcome):
    records: list[LogRecord] = field(default_factory=list)


@dataclass(slots=True)
class DecodedMetrics(_DecodeOutcome):
    points: list[MetricPoint] = field(default_factory=list)
