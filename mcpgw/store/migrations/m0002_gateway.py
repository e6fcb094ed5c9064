"""The gateway's own tables: the exact-match response cache."""

from __future__ import annotations

from typing import Any


def up(db: Any) -> None:
    db.execute(
        """
        CREATE TABLE response_cache (
            key TEXT PRIMARY KEY,
            response TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            layer TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost REAL NOT NULL DEFAULT 0,
            hits INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_cache_expires ON response_cache(expires_at)")
