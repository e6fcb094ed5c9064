"""Team mode's outbox: every row inserted into ``request_traces``, ``llm_calls`` or ``history`` is noted in
``sync_outbox`` by a trigger, so every write path is covered without touching its caller. The team
sync job (:mod:`mcpgw.sync.outbox`) pushes the noted rows to Postgres and deletes the notes.

The triggers only fire while ``sync_settings.enabled`` is 1 (the job sets it when team mode is
configured), so a purely local install does not grow an outbox nobody reads. ``source_id`` names this
database in the shared Postgres (history ids are short, so ids alone are not unique across a team).
"""

from __future__ import annotations

from typing import Any

SYNCED_TABLES = ("request_traces", "llm_calls", "history")

_SCHEMA = """
CREATE TABLE sync_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    row_id TEXT NOT NULL,
    enqueued_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE TABLE sync_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    enabled INTEGER NOT NULL DEFAULT 0,
    source_id TEXT NOT NULL
);
INSERT INTO sync_settings (id, enabled, source_id) VALUES (1, 0, lower(hex(randomblob(16))));
"""


def _trigger(table: str) -> str:
    return (
        f"CREATE TRIGGER sync_outbox_{table}_ai AFTER INSERT ON {table} "
        "WHEN (SELECT enabled FROM sync_settings WHERE id = 1) = 1 BEGIN "
        f"INSERT INTO sync_outbox (table_name, row_id) VALUES ('{table}', new.id); END"
    )


def up(db: Any) -> None:
    for statement in _SCHEMA.split(";\n"):
        if statement.strip():
            db.execute(statement)
    for table in SYNCED_TABLES:
        db.execute(_trigger(table))
