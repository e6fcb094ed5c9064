"""Numbered, named migrations, discovered from the modules ``mNNNN_name.py`` in this package.

Each module defines ``def up(db: sqlean.Connection) -> None``; it runs inside a transaction and is
recorded in the ``_migrations`` table. Never edit a migration that has shipped: add the next one.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"^m(\d{4})_(\w+)$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: Callable[[Any], None]


def _discover() -> tuple[Migration, ...]:
    found: list[Migration] = []
    for info in pkgutil.iter_modules(__path__):
        match = _NAME.match(info.name)
        if not match:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append(Migration(int(match.group(1)), match.group(2), module.up))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return tuple(found)


MIGRATIONS: tuple[Migration, ...] = _discover()
