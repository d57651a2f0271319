"""OTLP/JSON value readers: camelCase/snake_case keys, int64 as string or number, hex ids, AnyValue."""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any, Final

from collector.mapping.otlp_decode_common import DEPTH_MARKER
from collector.mapping.otlp_model import MAX_ANY_DEPTH, MAX_ATTRIBUTES, Attributes, AttrValue, DecodeError

__all__ = (
    "any_value",
    "as_object",
    "attributes",
    "double",
    "dropped",
    "enum",
    "get",
    "id_hex",
    "int_value",
    "seq",
    "string",
    "uint",
)

_HEX: Final = re.compile(r"[0-9a-fA-F]*")
_INT: Final = re.compile(r"-?[0-9]+")
_U64_MAX: Final = (1 << 64) - 1
_SPECIAL_DOUBLES: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def get(obj: dict[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    if value is None and snake != camel:
        value = obj.get(snake)
    return value


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DecodeError(f"{where}: expected an object" if where else "expected an object")
    return value


def seq(obj: dict[str, Any], camel: str, snake: str, where: str) -> list[Any]:
    value = get(obj, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(f"{where + '.' if where else ''}{camel}: expected an array")
    return value


def string(obj: dict[str, Any], camel: str, snake: str) -> str:
    value = get(obj, camel, snake)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DecodeError(f"{camel}: expected a string")
    return value


def uint(obj: dict[str, Any], camel: str, snake: str, bits: int = 64) -> int:
    """An unsigned integer given as a decimal string or a JSON number."""
    value = int_value(get(obj, camel, snake), camel)
    if value < 0 or value > (_U64_MAX if bits == 64 else (1 << bits) - 1):
        raise DecodeError(f"{camel}: out of range")
    return value


def int_value(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise DecodeError(f"{name}: expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise DecodeError(f"{name}: expected an integer, got {str(value)[:40]!r}")


def double(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise DecodeError(f"{name}: expected a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        special = _SPECIAL_DOUBLES.get(value)
        if special is not None:
            return special
        try:
            return float(value)
        except ValueError:
            pass
    raise DecodeError(f"{name}: expected a number, got {str(value)[:40]!r}")


def enum(obj: dict[str, Any], camel: str, snake: str, names: dict[str, int]) -> int:
    value = get(obj, camel, snake)
    if value is None:
        return 0
    if isinstance(value, str) and not _INT.fullmatch(value):
        number = names.get(value)
        if number is None:
            raise DecodeError(f"{camel}: unknown enum value {value[:40]!r}")
        return number
    number = int_value(value, camel)
    if not -(1 << 31) <= number < (1 << 31):
        raise DecodeError(f"{camel}: out of range")
    return number


def id_hex(value: Any, name: str, nbytes: int) -> str | None:
    """Lowercase hex of an id (``""`` when absent), or ``None`` when it is neither hex nor base64.

    Base64 ids (24 or 12 characters with padding, as protobuf's own JSON mapping writes them)
    are accepted leniently: they can never be mistaken for hex of the right length. Hex of the
    wrong length is returned as is, for ``check_span_ids`` to reject.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DecodeError(f"{name}: expected a hex string")
    if _HEX.fullmatch(value):
        return value.lower()
    if value.endswith("=") and len(value) == 4 * ((nbytes + 2) // 3):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(raw) == nbytes:
            return raw.hex()
    return None


def any_value(value: Any, depth: int) -> AttrValue:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise DecodeError("value: expected an AnyValue object")
    if not value:
        return None  # {} is the empty AnyValue
    if (s := value.get("stringValue", value.get("string_value"))) is not None:
        if not isinstance(s, str):
            raise DecodeError("stringValue: expected a string")
        return s
    if (b := value.get("boolValue", value.get("bool_value"))) is not None:
        if not isinstance(b, bool):
            raise DecodeError("boolValue: expected true or false")
        return b
    if (i := value.get("intValue", value.get("int_value"))) is not None:
        return int_value(i, "intValue")
    if (d := value.get("doubleValue", value.get("double_value"))) is not None:
        return double(d, "doubleValue")
    if (raw := value.get("bytesValue", value.get("bytes_value"))) is not None:
        if not isinstance(raw, str):
            raise DecodeError("bytesValue: expected base64 text")
        try:
            return base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_" if "-" in raw or "_" in raw
                                    else None, validate=True)
        except (binascii.Error, ValueError):
            raise DecodeError("bytesValue: invalid base64") from None
    if (arr := value.get("arrayValue", value.get("array_value"))) is not None:
        if depth >= MAX_ANY_DEPTH:
            return DEPTH_MARKER
        values = seq(as_object(arr, "arrayValue"), "values", "values", "arrayValue")
        return [any_value(x, depth + 1) for x in values]
    if (kvl := value.get("kvlistValue", value.get("kvlist_value"))) is not None:
        if depth >= MAX_ANY_DEPTH:
            return DEPTH_MARKER
        out: dict[str, AttrValue] = {}
        for item in seq(as_object(kvl, "kvlistValue"), "values", "values", "kvlistValue"):
            kv = as_object(item, "kvlistValue.values")
            key = kv.get("key")
            if not isinstance(key, str):
                raise DecodeError("kvlistValue.values.key: expected a string")
            out[key] = any_value(kv.get("value"), depth + 1)
        return out
    return None  # only unknown fields (e.g. stringValueStrindex): treated as empty


def attributes(obj: dict[str, Any]) -> tuple[Attributes, int]:
    kvs = seq(obj, "attributes", "attributes", "")
    dropped = 0
    if len(kvs) > MAX_ATTRIBUTES:
        dropped = len(kvs) - MAX_ATTRIBUTES
        kvs = kvs[:MAX_ATTRIBUTES]
    out: Attributes = {}
    for kv in kvs:
        if not isinstance(kv, dict):
            raise DecodeError("attributes: expected objects")
        key = kv.get("key")
        if not isinstance(key, str):
            raise DecodeError("attributes.key: expected a string")
        out[key] = any_value(kv.get("value"), 0)
    return out, dropped


def dropped(obj: dict[str, Any]) -> int:
    return uint(obj, "droppedAttributesCount", "dropped_attributes_count", 32)

