"""The per-file tag cache in the ``repomap_tags`` table (migration 0004), keyed by path + content hash."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlean

from mcpgw.errors import StoreError


@dataclass
class CachedRow:
    content_hash: str
    version: int
    mtime_ns: int
    size: int
    data: bytes
    seen_at: float


@dataclass
class NewRow:
    path: str
    content_hash: str
    version: int
    mtime_ns: int
    size: int
    data: bytes


def _prefix_bounds(root: str) -> tuple[str, str]:
    base = root.rstrip("/") + "/"
    return base, base[:-1] + "0"  # "0" sorts right after "/"


class TagCache:
    """Reads every row under a root in one query; writes a build's changes in one transaction."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def load(self, root: str) -> dict[str, list[CachedRow]]:
        low, high = _prefix_bounds(root)
        rows: dict[str, list[CachedRow]] = {}
        try:
            cursor = self.conn.execute(
                "SELECT path, content_hash, version, mtime_ns, size, data, seen_at FROM repomap_tags "
                "WHERE path >= ? AND path < ?",
                (low, high),
            )
            for path, content_hash, version, mtime_ns, size, data, seen_at in cursor:
                rows.setdefault(path, []).append(CachedRow(content_hash, version, mtime_ns, size, data, seen_at))
        except sqlean.Error as exc:
            raise _store_error(exc) from exc
        return rows

    def save(
        self, root: str, new: Iterable[NewRow], touched: Iterable[tuple[str, str, int, int]], present: set[str]
    ) -> None:
        """Insert new rows, refresh stat data of re-validated ones, drop rows of vanished files.

        Per path the current row and the most recent older one are kept (cheap branch switches).
        """
        now = time.time()
        low, high = _prefix_bounds(root)
        new_rows = list(new)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany(
                    "INSERT OR REPLACE INTO repomap_tags (path, content_hash, version, mtime_ns, size, data, "
                    "seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(r.path, r.content_hash, r.version, r.mtime_ns, r.size, r.data, now) for r in new_rows],
                )
                self.conn.executemany(
                    "UPDATE repomap_tags SET mtime_ns = ?, size = ?, seen_at = ? WHERE path = ? AND content_hash = ?",
                    [(m, s, now, p, h) for p, h, m, s in touched],
                )
                self.conn.executemany(
                    "DELETE FROM repomap_tags WHERE path = ? AND content_hash NOT IN (SELECT content_hash FROM "
                    "repomap_tags WHERE path = ? ORDER BY seen_at DESC LIMIT 2)",
                    [(r.path, r.path) for r in new_rows],
                )
                stored = {
                    row[0]
                    for row in self.conn.execute(
                        "SELECT DISTINCT path FROM repomap_tags WHERE path >= ? AND path < ?", (low, high)
                    )
                }
                self.conn.executemany("DELETE FROM repomap_tags WHERE path = ?", [(p,) for p in stored - present])
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlean.Error as exc:
            raise _store_error(exc) from exc


def _store_error(exc: sqlean.Error) -> StoreError:
    return StoreError(
        f"the repo map cache failed: {exc}",
        fix="run `mcpgw doctor`; if the database is damaged, move it aside and let mcpgw rebuild it",
    )
