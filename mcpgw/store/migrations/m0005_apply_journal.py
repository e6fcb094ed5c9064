"""The undo journal of ``mcpgw apply``: one row per apply, one row per path it touched.

``before`` holds the exact bytes the path had (NULL: it did not exist), so undo restores byte for byte;
``after_sha256`` is the hash the apply left (NULL: the apply deleted the path), so undo can refuse
when the file changed since. ``undone_at`` is set once the apply has been undone.
"""

from __future__ import annotations

from typing import Any

NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

SCHEMA = f"""
CREATE TABLE apply_journal (
    id TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    project_id TEXT,
    user_id TEXT,
    created_at TEXT NOT NULL DEFAULT {NOW},
    undone_at TEXT
);
CREATE INDEX idx_apply_journal_root ON apply_journal(root, id DESC);
CREATE TABLE apply_journal_files (
    entry_id TEXT NOT NULL REFERENCES apply_journal(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    path TEXT NOT NULL,
    before BLOB,
    before_sha256 TEXT,
    before_mode INTEGER,
    after_sha256 TEXT,
    after_mode INTEGER,
    PRIMARY KEY (entry_id, seq)
) WITHOUT ROWID
"""


def up(db: Any) -> None:
    for statement in SCHEMA.split(";\n"):
        if statement.strip():
            db.execute(statement)
