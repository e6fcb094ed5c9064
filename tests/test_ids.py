"""Ids sort by creation, also within one millisecond (conversation messages are ordered by id)."""

from __future__ import annotations

import uuid

from mcpgw.ids import new_id, short_id


def test_ids_are_strictly_increasing_and_valid_uuid7() -> None:
    ids = [new_id() for _ in range(20000)]  # many per millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[-1])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_short_id() -> None:
    assert len(short_id()) == 8 and int(short_id(), 16) >= 0
