"""Re-export of ``store.ids`` for the collector side (monotonic and deterministic ULIDs)."""

from store.ids import MonotonicUlid, deterministic_ulid, encode_ulid, new_ulid

__all__ = ("MonotonicUlid", "deterministic_ulid", "encode_ulid", "new_ulid")
