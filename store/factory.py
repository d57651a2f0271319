"""open_store(url): pick the backend from the database URL and import only that backend."""

from __future__ import annotations

import importlib
from typing import Any, cast

from store.interface import Store

__all__ = ("SUPPORTED_SCHEMES", "open_store", "run_migrations")

# scheme -> backend module; imported lazily so SQLite users never need asyncpg and vice versa.
# Each backend module has a store class with ``async open(target, **options)`` and
# ``async migrate_database(target) -> list[str]``.
SUPPORTED_SCHEMES: dict[str, tuple[str, str]] = {
    "sqlite": ("store.sqlite.backend", "SQLiteStore"),
    "postgresql": ("store.postgres.backend", "PostgresStore"),
    "postgres": ("store.postgres.backend", "PostgresStore"),
}


def _resolve(url: str) -> tuple[Any, str, str]:
    """(backend module, store class name, what to open: a file path for SQLite, else the URL)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "sqlite", "/" + url  # a bare path, as if written sqlite:///<path>
    entry = SUPPORTED_SCHEMES.get(scheme.split("+")[0].lower())
    if entry is None:
        raise ValueError(f"unsupported database URL scheme {scheme!r}; use sqlite:///path or postgresql://...")
    module = importlib.import_module(entry[0])
    if entry[0] == "store.sqlite.backend":
        # sqlite:///relative/path.db and sqlite:////absolute/path.db
        return module, entry[1], rest[1:] if rest.startswith("/") else rest
    return module, entry[1], url


async def open_store(url: str, **options: Any) -> Store:
    """Open a store for ``sqlite:///path/to.db`` (or a bare path) or ``postgresql://...``."""
    module, cls_name, target = _resolve(url)
    return cast(Store, await getattr(module, cls_name).open(target, **options))


async def run_migrations(url: str) -> list[str]:
    """Apply pending migrations for the database at ``url``; return the names applied."""
    module, _, target = _resolve(url)
    return cast(list[str], await module.migrate_database(target))
