"""Logging set-up: text or JSON lines, one handler on stderr."""

from __future__ import annotations

import logging
import sys
import time

import orjson

__all__ = ("JsonFormatter", "setup_logging")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (+ exception text)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log is one line per request: too chatty at info for an ingest service
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
