"""Model price table: the shipped ``prices.json`` merged with an operator's override file.

Prices are USD per 1M tokens (``"unit": "USD per 1M tokens"``; an override may instead say
``"USD per token"``). Lookup normalizes the model name (lower case, provider prefixes such as
``openai/`` or Bedrock's ``us.anthropic.``, version and date suffixes such as ``-2024-08-06``,
``-20241022`` or ``@20241022``) and falls back to the longest known prefix, so that
``gpt-4o-mini-2024-07-18`` costs what ``gpt-4o-mini`` costs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

__all__ = ("ModelPrice", "PriceTable", "PriceTableError", "load_price_table")

_UNITS: Final = {"usd per 1m tokens": 1e-6, "usd per token": 1.0}
_DATE_SUFFIX: Final = re.compile(r"(?:[-@](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}))$")
_VERSION_SUFFIX: Final = re.compile(r"-v\d+(?::\d+)?$|:\d+$|-latest$")
_REGION_VENDOR: Final = re.compile(r"^(?:[a-z]{2}\.)?(?:anthropic|meta|mistral|amazon|cohere|ai21|openai)\.")


class PriceTableError(ValueError):
    """The override file cannot be read or does not have the expected shape."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per token for each kind of token; cache prices default to the input price."""

    input: float
    output: float
    cache_read: float
    cache_write: float


class PriceTable:
    """model -> ``ModelPrice`` with name normalization and longest-prefix fallback."""

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self._prices = {k.lower(): v for k, v in prices.items()}
        # longest keys first, so that gpt-4o-mini wins over gpt-4o
        self._by_length = sorted(self._prices, key=len, reverse=True)
        self._cache: dict[str, ModelPrice | None] = {}

    def __len__(self) -> int:
        return len(self._prices)

    def lookup(self, model: str) -> ModelPrice | None:
        cached = self._cache.get(model, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        found = self._find(model)
        if len(self._cache) < 4096:
            self._cache[model] = found
        return found

    def cost(self, models: tuple[str | None, ...], *, input_tokens: int, output_tokens: int,
             cache_read_tokens: int = 0, cache_write_tokens: int = 0) -> float | None:
        """Estimated USD for the first model that has a price, else ``None``.

        ``input_tokens`` includes cached tokens (OTel GenAI semantics) unless the cache counts
        exceed it, in which case it is taken to exclude them (Anthropic's raw API numbers).
        """
        for model in models:
            if not model:
                continue
            price = self.lookup(model)
            if price is None:
                continue
            cached = cache_read_tokens + cache_write_tokens
            uncached = input_tokens - cached if cached <= input_tokens else input_tokens
            usd = (uncached * price.input + cache_read_tokens * price.cache_read
                   + cache_write_tokens * price.cache_write + output_tokens * price.output)
            return round(usd, 10)
        return None

    def _find(self, model: str) -> ModelPrice | None:
        name = model.strip().lower()
        exact = self._prices.get(name)
        if exact is not None:
            return exact
        name = name.rsplit("/", 1)[-1]
        name = _REGION_VENDOR.sub("", name)
        for _ in range(3):
            stripped = _DATE_SUFFIX.sub("", _VERSION_SUFFIX.sub("", name))
            if stripped == name:
                break
            name = stripped
        exact = self._prices.get(name)
        if exact is not None:
            return exact
        for key in self._by_length:
            if name.startswith(key) and name[len(key)] in "-.:@_":
                return self._prices[key]
        return None


def load_price_table(override_path: str | None = None) -> PriceTable:
    """The shipped table, with the entries of ``override_path`` (if given) replacing or adding models."""
    shipped = resources.files("collector.mapping").joinpath("prices.json").read_text(encoding="utf-8")
    prices = _parse(json.loads(shipped), "prices.json")
    if override_path:
        try:
            raw = json.loads(Path(override_path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PriceTableError(f"cannot read price file {override_path!r}: {exc}") from None
        prices.update(_parse(raw, override_path))
    return PriceTable(prices)


def _parse(doc: Any, where: str) -> dict[str, ModelPrice]:
    if not isinstance(doc, dict):
        raise PriceTableError(f"{where}: expected a JSON object")
    unit_text = doc.get("unit", "USD per 1M tokens")
    scale = _UNITS.get(str(unit_text).strip().lower())
    if scale is None:
        raise PriceTableError(f"{where}: unit must be one of {sorted(_UNITS)}, got {unit_text!r}")
    models = doc.get("models")
    if not isinstance(models, dict):
        raise PriceTableError(f"{where}: expected a \"models\" object mapping model -> prices")
    out: dict[str, ModelPrice] = {}
    for model, entry in models.items():
        if not isinstance(entry, dict):
            raise PriceTableError(f"{where}: models.{model}: expected an object")
        values: dict[str, float] = {}
        for key in ("input", "output", "cacheRead", "cacheWrite"):
            value = entry.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise PriceTableError(f"{where}: models.{model}.{key}: expected a non-negative number")
            values[key] = float(value) * scale
        if "input" not in values or "output" not in values:
            raise PriceTableError(f"{where}: models.{model}: input and output prices are required")
        out[model.lower()] = ModelPrice(
            values["input"], values["output"], values.get("cacheRead", values["input"]),
            values.get("cacheWrite", values["input"]),
        )
    return out
