"""Time-sortable ids (UUIDv7 layout, as 32 hex characters) and short ids for humans."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """A UUIDv7-style id: 48 bits of unix milliseconds, then random bits. Sorts by creation time."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | (rand & ((1 << 76) - 1))
    value = (value & ~(0xC << 60)) | (0x8 << 60)  # RFC 9562 variant bits
    return f"{value:032x}"


def short_id(n: int = 8) -> str:
    """A short random id for things people type (history entries, alerts)."""
    return os.urandom((n + 1) // 2).hex()[:n]
