"""Incremental, size-bounded decompression of request bodies (gzip, deflate, zstd).

The uncompressed limit is enforced while inflating: no call ever produces more than the bytes
still allowed plus one, so a gzip bomb stops at the limit with memory bounded by it.
"""

from __future__ import annotations

import sys
import zlib
from typing import Any, Final

__all__ = (
    "SUPPORTED_ENCODINGS",
    "BodyTooLarge",
    "CorruptBody",
    "Inflater",
    "UnsupportedEncoding",
    "parse_content_encoding",
)

_zstd: Any
try:  # zstd: the stdlib from Python 3.14, else the backports.zstd package (aiohttp[speedups])
    if sys.version_info >= (3, 14):
        from compression import zstd as _zstd
    else:
        from backports import zstd as _zstd
    HAS_ZSTD = True
except ImportError:  # pragma: no cover - depends on the installation
    _zstd = None
    HAS_ZSTD = False

SUPPORTED_ENCODINGS: Final = ("gzip", "deflate", "zstd") if HAS_ZSTD else ("gzip", "deflate")
_ALIASES: Final = {"x-gzip": "gzip"}
_GZIP_MAGIC: Final = b"\x1f\x8b"


class BodyTooLarge(Exception):
    """The uncompressed body exceeds the limit (413)."""


class CorruptBody(Exception):
    """The body is not valid data for its Content-Encoding (400)."""


class UnsupportedEncoding(Exception):
    """A Content-Encoding we do not decode (415)."""


def parse_content_encoding(header: str | None) -> str | None:
    """The single coding to undo (``None`` for none/identity); ``UnsupportedEncoding`` otherwise.

    Codings are case-insensitive; ``identity`` entries are ignored; ``x-gzip`` means gzip
    (RFC 9110 §8.4.1.3). Stacked codings such as ``gzip, zstd`` are not supported.
    """
    if not header:
        return None
    codings = [c.strip().lower() for c in header.split(",")]
    codings = [_ALIASES.get(c, c) for c in codings if c and c != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise UnsupportedEncoding(f"stacked content codings are not supported: {header[:64]!r}")
    coding = codings[0]
    if coding not in SUPPORTED_ENCODINGS:
        raise UnsupportedEncoding(f"unsupported Content-Encoding {coding[:32]!r}")
    return coding


class Inflater:
    """Feed compressed chunks, get uncompressed bytes; raises once the total passes ``limit``."""

    def __init__(self, encoding: str, limit: int) -> None:
        self._encoding = encoding
        self._limit = limit
        self._produced = 0
        self._decoder: Any = None
        self._started = False
        self._finished_member = False

    @property
    def produced(self) -> int:
        return self._produced

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        try:
            if self._decoder is None:
                self._decoder = self._new_decoder(chunk)
            return self._run(chunk)
        except (zlib.error, EOFError) as exc:
            raise CorruptBody(f"cannot decode Content-Encoding {self._encoding}: {exc}") from None
        except Exception as exc:
            if _zstd is not None and isinstance(exc, _zstd.ZstdError):
                raise CorruptBody(f"cannot decode Content-Encoding zstd: {exc}") from None
            raise

    def finish(self) -> None:
        """Check that the stream ended cleanly (a truncated body is corrupt)."""
        if self._decoder is None:
            if self._started:  # pragma: no cover - feed always creates the decoder
                raise CorruptBody(f"empty {self._encoding} stream")
            return  # no body at all: nothing to decode
        if not self._decoder.eof and not self._finished_member:
            raise CorruptBody(f"truncated {self._encoding} stream")

    # ------------------------------------------------------------------ internals

    def _new_decoder(self, first: bytes) -> Any:
        self._started = True
        if self._encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._encoding == "deflate":
            # RFC 9110 says zlib-wrapped; some clients send raw deflate. A zlib header has
            # CM=8 in the low nibble and (CMF*256 + FLG) divisible by 31.
            is_zlib = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] * 256 + first[1]) % 31 == 0
            return zlib.decompressobj(zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS)
        assert _zstd is not None
        return _zstd.ZstdDecompressor()

    def _room(self) -> int:
        return self._limit - self._produced + 1

    def _take(self, out: bytes) -> bytes:
        self._produced += len(out)
        if self._produced > self._limit:
            raise BodyTooLarge(f"uncompressed body exceeds {self._limit} bytes")
        return out

    def _run(self, chunk: bytes) -> bytes:
        parts: list[bytes] = []
        data = chunk
        while True:
            if self._decoder.eof:
                data = self._decoder.unused_data + data
                if not data:
                    break
                if self._encoding == "gzip" and data.startswith(_GZIP_MAGIC):
                    self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
                    continue
                if self._encoding == "zstd":
                    self._decoder = _zstd.ZstdDecompressor() if _zstd is not None else None
                    continue
                if data.strip(b"\x00"):
                    raise CorruptBody(f"trailing data after the {self._encoding} stream")
                self._finished_member = True
                break
            if self._encoding == "zstd":
                parts.append(self._take(self._decoder.decompress(data, max_length=self._room())))
                data = b""
                while not self._decoder.eof and not self._decoder.needs_input:
                    parts.append(self._take(self._decoder.decompress(b"", max_length=self._room())))
                if not self._decoder.eof:
                    break
                continue
            parts.append(self._take(self._decoder.decompress(data, self._room())))
            data = b""
            while self._decoder.unconsumed_tail:
                parts.append(self._take(self._decoder.decompress(self._decoder.unconsumed_tail, self._room())))
            if not self._decoder.eof:
                break
        return b"".join(parts)
