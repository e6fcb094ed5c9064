"""The repo map's per-file tag cache, keyed by absolute path and content hash.

A row holds the tags extracted from one version of one file (compact JSON, see
``mcpgw.repomap.tags.FileTags``). ``mtime_ns``/``size`` let a warm build trust a row without
re-hashing an unchanged file; ``version`` is the extractor version that wrote it, so a newer mcpgw
re-parses instead of reading stale tags. Older versions of a file are kept (one per path) so
switching branches back and forth stays warm.
"""

from __future__ import annotations

from typing import Any

SCHEMA = """
CREATE TABLE repomap_tags (
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    version INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (path, content_hash)
) WITHOUT ROWID
"""


def up(db: Any) -> None:
    db.execute(SCHEMA)
