"""Time-sortable ids (UUIDv7 layout, as 32 hex characters) and short ids for humans."""

from __future__ import annotations

import os
import random
import threading
import time

_lock = threading.Lock()
_random = random.Random(int.from_bytes(os.urandom(16), "big"))
_last = 0
_RAND_BITS = 74  # below the version (4 bits) and variant (2 bits) fields


def new_id() -> str:
    """A UUIDv7-style id: 48 bits of unix milliseconds, then random bits. Ids made by one process are
    strictly increasing, also within one millisecond (the random part is incremented), so ordering by id
    is ordering by creation."""
    global _last
    ms = time.time_ns() // 1_000_000
    rand = _random.getrandbits(_RAND_BITS)  # ids are not secrets: no need for os.urandom per id
    with _lock:
        candidate = (ms << 80) | rand
        if candidate <= _last:
            candidate = _last + 1
        _last = candidate
    ms_part, rand_part = candidate >> 80, candidate & ((1 << 80) - 1)
    rand_a = (rand_part >> 62) & 0xFFF  # 12 bits
    rand_b = rand_part & ((1 << 62) - 1)  # 62 bits
    value = (ms_part << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return f"{value:032x}"


def short_id(n: int = 8) -> str:
    """A short random id for things people type (history entries, alerts)."""
    return os.urandom((n + 1) // 2).hex()[:n]
