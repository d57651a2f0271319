"""Store errors: permanent ones (bad input, not found, conflict) and retryable ones (unavailable)."""

from __future__ import annotations

__all__ = (
    "Conflict",
    "InvalidInput",
    "NotFound",
    "PermanentStoreError",
    "RetryableStoreError",
    "StoreClosed",
    "StoreError",
    "Unavailable",
)


class StoreError(Exception):
    """Base of every error a store raises; driver exceptions never leave ``store/``."""

    retryable: bool = False


class PermanentStoreError(StoreError):
    """Retrying the same call gives the same answer."""


class NotFound(PermanentStoreError):
    """The addressed row does not exist for this tenant."""


class Conflict(PermanentStoreError):
    """The row exists but is in a state that forbids the change (e.g. an already revoked key)."""


class InvalidInput(PermanentStoreError):
    """The data cannot be stored as given."""


class RetryableStoreError(StoreError):
    """The database could not do the work now; the same call may succeed later."""

    retryable = True


class Unavailable(RetryableStoreError):
    """The database is unreachable, locked or overloaded."""


class StoreClosed(RetryableStoreError):
    """The store was closed (shutdown in progress)."""
