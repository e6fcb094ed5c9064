"""Code search v2: chunk ids that are never reused, a per-root change counter and a cached chunk count.

Query processes keep each root's vectors in memory (:mod:`mcpgw.search.vectors`); they notice a change
by reading ``search_roots.generation`` (one row) instead of scanning, and update only what changed.
That is only sound when a deleted chunk's id never comes back, hence ``AUTOINCREMENT`` (the table is
rebuilt with its rows and ids kept). ``chunk_count`` replaces ``COUNT(*)`` on the query path.
Triggers keep both current for every writer; the delete trigger of m0003 is recreated with the table.
"""

from __future__ import annotations

from typing import Any

from mcpgw.store.migrations.m0003_search import _delete_trigger

_REBUILD = """
CREATE TABLE search_chunks_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    root_id INTEGER NOT NULL REFERENCES search_roots(id) ON DELETE CASCADE,
    file_id INTEGER NOT NULL REFERENCES search_files(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    language TEXT NOT NULL,
    kind TEXT NOT NULL,
    symbols TEXT NOT NULL DEFAULT '',
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    text TEXT NOT NULL
);
INSERT INTO search_chunks_v2 (id, root_id, file_id, path, language, kind, symbols, start_line, end_line, text)
    SELECT id, root_id, file_id, path, language, kind, symbols, start_line, end_line, text FROM search_chunks;
DROP TABLE search_chunks;
ALTER TABLE search_chunks_v2 RENAME TO search_chunks;
CREATE INDEX idx_search_chunks_file ON search_chunks(file_id);
CREATE INDEX idx_search_chunks_root ON search_chunks(root_id, language);
ALTER TABLE search_roots ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE search_roots ADD COLUMN chunk_count INTEGER NOT NULL DEFAULT 0;
UPDATE search_roots SET chunk_count = (SELECT COUNT(*) FROM search_chunks c WHERE c.root_id = search_roots.id);
"""

_COUNTERS = """
CREATE TRIGGER search_chunks_count_ai AFTER INSERT ON search_chunks BEGIN
    UPDATE search_roots SET generation = generation + 1, chunk_count = chunk_count + 1 WHERE id = new.root_id;
END;
CREATE TRIGGER search_chunks_count_ad AFTER DELETE ON search_chunks BEGIN
    UPDATE search_roots SET generation = generation + 1, chunk_count = chunk_count - 1 WHERE id = old.root_id;
END;
"""


def up(db: Any) -> None:
    for statement in _REBUILD.split(";\n"):
        if statement.strip():
            db.execute(statement)
    db.execute(_delete_trigger())
    for trigger in _COUNTERS.split("END;\n"):
        if trigger.strip():
            db.execute(trigger + "END;")
