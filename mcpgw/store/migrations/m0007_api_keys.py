"""API keys for the optional TCP listener.

Only the SHA-256 of a key is stored (``key_hash``); ``prefix`` keeps its first characters so people can
tell keys apart in ``mcpgw keys list``. ``role`` is viewer, developer or admin; ``project_id`` (NULL:
every project) scopes the key's model calls. A revoked key keeps its row (``revoked_at`` set) so the
listing shows what was revoked and when.
"""

from __future__ import annotations

from typing import Any

NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

SCHEMA = f"""
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'developer', 'admin')),
    project_id TEXT,
    created_at TEXT NOT NULL DEFAULT {NOW},
    last_used_at TEXT,
    revoked_at TEXT
)
"""


def up(db: Any) -> None:
    db.execute(SCHEMA)
