"""Numbered SQL migrations: discovery from the ``migrations`` package and the shared rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

__all__ = ("Migration", "list_migrations")

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql\Z")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def list_migrations(dialect: str) -> list[Migration]:
    """Every ``migrations/<dialect>/NNNN_name.sql`` in version order (forward-only, never edited)."""
    found: list[Migration] = []
    folder = resources.files("migrations").joinpath(dialect)
    for entry in folder.iterdir():
        m = _NAME.match(entry.name)
        if m is None:
            continue
        found.append(Migration(int(m[1]), m[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers in migrations/{dialect}")
    return found
