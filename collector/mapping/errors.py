"""Permanent mapping errors: bad input that no retry can fix (the HTTP layer answers 400)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ("InvalidJson", "MappingError", "ValidationFailed")


class MappingError(Exception):
    """Base of every mapping error: the input is wrong, the same request always fails."""

    #: The envelope's ``error`` text.
    message: str = "Bad request"


class InvalidJson(MappingError):
    """The body is not JSON. ``reason`` says why, briefly (for logs; not part of the envelope)."""

    message = "Invalid JSON body"

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        super().__init__(f"{self.message}: {reason}" if reason else self.message)


class ValidationFailed(MappingError):
    """The JSON does not match the schema. ``details`` holds every (path, message) found."""

    message = "Validation failed"

    def __init__(self, details: Iterable[tuple[str, str]]) -> None:
        self.details: list[tuple[str, str]] = list(details)
        head = "; ".join(f"{path}: {msg}" for path, msg in self.details[:3])
        more = f" (+{len(self.details) - 3} more)" if len(self.details) > 3 else ""
        super().__init__(f"{self.message}: {head}{more}" if head else self.message)
