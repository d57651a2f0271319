"""Bounded decompression, the price table and the memo, in isolation."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest
from backports import zstd

from collector.mapping.otlp_compression import (
    BodyTooLarge,
    CorruptBody,
    Inflater,
    UnsupportedEncoding,
    parse_content_encoding,
)
from collector.mapping.otlp_memo import OtlpMemo, SeriesUpdate, SpanNote
from collector.mapping.otlp_prices import PriceTableError, load_price_table

DATA = bytes(range(256)) * 400


def inflate(coding: str, blob: bytes, limit: int = 10**6, chunk: int = 997) -> bytes:
    inflater = Inflater(coding, limit)
    out = b"".join(inflater.feed(blob[i:i + chunk]) for i in range(0, len(blob), chunk))
    inflater.finish()
    return out


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize("coding,blob", [
    ("gzip", gzip.compress(DATA)), ("gzip", gzip.compress(DATA[:100]) + gzip.compress(DATA[100:])),
    ("deflate", zlib.compress(DATA)), ("deflate", raw_deflate(DATA)), ("zstd", zstd.compress(DATA)),
    ("zstd", zstd.compress(DATA[:7]) + zstd.compress(DATA[7:])),
])
def test_inflate_roundtrip(coding: str, blob: bytes) -> None:
    assert inflate(coding, blob) == DATA


@pytest.mark.parametrize("coding,compress", [("gzip", gzip.compress), ("deflate", zlib.compress),
                                             ("zstd", zstd.compress)])
def test_inflate_stops_at_the_limit(coding: str, compress: object) -> None:
    bomb = compress(b"\0" * (64 << 20))  # type: ignore[operator]
    inflater = Inflater(coding, 1 << 20)
    with pytest.raises(BodyTooLarge):
        for i in range(0, len(bomb), 4096):
            inflater.feed(bomb[i:i + 4096])
    assert inflater.produced <= (1 << 20) + 1 + 4096 * 1100  # never far beyond the limit


def test_exactly_the_limit_is_fine() -> None:
    assert len(inflate("gzip", gzip.compress(b"a" * 5000), limit=5000)) == 5000
    with pytest.raises(BodyTooLarge):
        inflate("gzip", gzip.compress(b"a" * 5001), limit=5000)


@pytest.mark.parametrize("coding,blob", [("gzip", b"plain text"), ("gzip", gzip.compress(DATA)[:-8]),
                                         ("gzip", gzip.compress(b"x") + b"junk"), ("zstd", b"nope"),
                                         ("deflate", b"\x78\x9c\x00\x01garbage")])
def test_corrupt_bodies(coding: str, blob: bytes) -> None:
    with pytest.raises(CorruptBody):
        inflate(coding, blob)


def test_content_encoding_header() -> None:
    assert parse_content_encoding(None) is None
    assert parse_content_encoding("identity") is None
    assert parse_content_encoding(" GZip ") == "gzip"
    assert parse_content_encoding("x-gzip") == "gzip"
    assert parse_content_encoding("gzip, identity") == "gzip"
    for bad in ("br", "snappy", "gzip, zstd", "compress"):
        with pytest.raises(UnsupportedEncoding):
            parse_content_encoding(bad)


def test_price_lookup_normalizes_names() -> None:
    table = load_price_table()
    gpt4o = table.lookup("gpt-4o")
    assert gpt4o is not None and gpt4o.input == pytest.approx(2.5e-6)
    for name in ("gpt-4o-2024-08-06", "openai/gpt-4o", "GPT-4o"):
        assert table.lookup(name) == gpt4o, name
    assert table.lookup("gpt-4o-mini-2024-07-18") == table.lookup("gpt-4o-mini") != gpt4o
    assert table.lookup("claude-sonnet-4-5-20250929") == table.lookup("claude-sonnet-4-5")
    assert table.lookup("us.anthropic.claude-3-5-sonnet-20241022-v2:0") == table.lookup("claude-3-5-sonnet")
    assert table.lookup("gemini-2.5-flash") != table.lookup("gemini-2.5-flash-lite")
    assert table.lookup("my-own-model") is None
    assert table.lookup("gpt-4o1") is None  # a prefix must end at a separator


def test_cost_with_cache_tokens() -> None:
    table = load_price_table()
    # semconv: input includes the cached tokens
    assert table.cost(("claude-sonnet-4-5",), input_tokens=1000, output_tokens=100, cache_read_tokens=800) == \
        pytest.approx((200 * 3 + 800 * 0.3 + 100 * 15) / 1e6)
    # raw Anthropic numbers: cache counts exceed input, so input excludes them
    assert table.cost(("claude-sonnet-4-5",), input_tokens=100, output_tokens=0, cache_read_tokens=800,
                      cache_write_tokens=100) == pytest.approx((100 * 3 + 800 * 0.3 + 100 * 3.75) / 1e6)
    assert table.cost((None, "unknown-model"), input_tokens=5, output_tokens=5) is None
    assert table.cost(("unknown-model", "gpt-4o"), input_tokens=1, output_tokens=0) == pytest.approx(2.5e-6)


def test_price_override_file(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"unit": "USD per token", "models": {
        "gpt-4o": {"input": 0.001, "output": 0.002}, "house-model": {"input": 1e-7, "output": 2e-7}}}))
    table = load_price_table(str(override))
    assert table.lookup("gpt-4o").input == pytest.approx(0.001)  # type: ignore[union-attr]
    assert table.lookup("house-model-v3") is not None
    assert table.lookup("claude-haiku-4-5") is not None  # shipped entries stay
    for bad in ('{"models": {"x": {"input": -1, "output": 1}}}', '{"models": []}', '{"unit": "EUR", "models": {}}',
                "not json", '{"models": {"x": {"input": 1}}}'):
        override.write_text(bad)
        with pytest.raises(PriceTableError):
            load_price_table(str(override))
    with pytest.raises(PriceTableError):
        load_price_table(str(tmp_path / "missing.json"))


def test_memo_walks_ancestors_and_stays_bounded() -> None:
    memo = OtlpMemo(max_traces=3, max_spans_per_trace=4)
    memo.note("t", "trace1", "root", SpanNote("", "conv-1", "agent-1"))
    memo.note("t", "trace1", "mid", SpanNote("root", None, "sub-agent"))
    assert memo.lookup("t", "trace1", "mid") == ("conv-1", "sub-agent")
    assert memo.lookup("t", "trace1", "root") == ("conv-1", "agent-1")
    assert memo.lookup("other-tenant", "trace1", "mid") == (None, None)
    for i in range(10):
        memo.note("t", "trace1", f"s{i}", SpanNote("root", "x", None))
    for i in range(5):
        memo.note("t", f"other{i}", "s", SpanNote("", "x", None))
    assert len(memo) == 3
    assert memo.lookup("t", "trace1", "mid") == (None, None)  # evicted


def test_memo_series_and_pending_content() -> None:
    memo = OtlpMemo(max_series=2)
    memo.commit_series([SeriesUpdate(("a",), 1, 1.0), SeriesUpdate(("b",), 1, 2.0), SeriesUpdate(("c",), 1, 3.0)])
    assert memo.series(("a",)) is None and memo.series(("c",)) == (1, 3.0)
    memo.add_pending("t", "tr", "sp", digest="d1", kind="input", time_ns=2, seq=0, item={"role": "user"})
    memo.add_pending("t", "tr", "sp", digest="d1", kind="input", time_ns=2, seq=0, item={"role": "user"})
    pending = memo.pending("t", "tr", "sp")
    assert pending is not None and len(pending.inputs) == 1  # the same record twice is kept once
