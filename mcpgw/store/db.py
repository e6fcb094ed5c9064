"""The database: one SQLite file in WAL mode, opened through ``sqlean`` so ``sqlite-vec`` loads.

The daemon owns one :class:`Store`. Reads go straight to the connection's worker thread; writes on the
request path go through :meth:`Store.enqueue`, a write-behind queue committed in groups (by size or
after ``group_window_s``), so a burst of requests costs one fsync. ``close()`` flushes the queue.

What a crash can lose: the writes enqueued in the last group-commit window (default 50 ms) that had
not been committed yet. A clean stop (SIGTERM, ``mcpgw daemon stop``) loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import aiosqlite
import sqlean

from mcpgw.errors import StoreError
from mcpgw.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)

T = TypeVar("T")
Row: TypeAlias = Any  # sqlean.Row: index by position or column name
Params = Sequence[Any] | dict[str, Any]


def connect_sync(path: str | Path, *, readonly: bool = False, check_same_thread: bool = True) -> sqlean.Connection:
    """Open the database with sqlite-vec loaded and our pragmas set. Does not migrate."""
    target = str(path)
    try:
        if readonly:
            conn = sqlean.connect(
                f"file:{target}?mode=ro", uri=True, isolation_level=None, check_same_thread=check_same_thread
            )
        else:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            if not os.path.exists(target):  # private from the start: traces hold prompts and answers
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlean.connect(target, isolation_level=None, check_same_thread=check_same_thread)
        conn.enable_load_extension(True)
        conn.load_extension(_vec_extension_path())
        conn.enable_load_extension(False)
        conn.row_factory = sqlean.Row
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        return conn
    except sqlean.Error as exc:
        raise StoreError(
            f"cannot open the database {target}: {exc}",
            fix="check the file's permissions, or move it aside and let mcpgw create a new one",
        ) from exc


@functools.cache
def _vec_extension_path() -> str:
    """The sqlite-vec extension bundled with the ``sqlite-vec`` package, found without importing the package
    (its module imports numpy, ~50 ms and ~10 MB the daemon does not need until search does)."""
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or not spec.submodule_search_locations:
        raise StoreError("the sqlite-vec package is not installed", fix="reinstall mcpgw (./scripts/run)")
    return os.path.join(next(iter(spec.submodule_search_locations)), "vec0")


def schema_version(conn: sqlean.Connection) -> int:
    """The highest migration applied (0 for an empty database)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
    )
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM _migrations").fetchone()
    return int(row[0])


def migrate(conn: sqlean.Connection) -> list[str]:
    """Apply every pending migration, each in its own transaction. Returns the names applied."""
    applied: list[str] = []
    current = schema_version(conn)
    for migration in MIGRATIONS:
        if migration.version <= current:
            continue
        try:
            conn.execute("BEGIN IMMEDIATE")
            migration.up(conn)
            conn.execute("INSERT INTO _migrations (version, name) VALUES (?, ?)", (migration.version, migration.name))
            conn.execute("COMMIT")
        except sqlean.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(
                f"migration {migration.version:04d}_{migration.name} failed: {exc}",
                fix="this is a bug in mcpgw; the database was left at the previous version",
            ) from exc
        applied.append(f"{migration.version:04d}_{migration.name}")
        log.info("applied migration %04d_%s", migration.version, migration.name)
    return applied


class Store:
    """The daemon's handle on the database: async reads, transactional writes, a write-behind queue."""

    def __init__(
        self, path: Path, conn: aiosqlite.Connection, *, group_size: int = 1000, group_window_s: float = 0.05
    ) -> None:
        self.path = path
        self.conn = conn
        self.group_size = group_size
        self.group_window_s = group_window_s
        self._queue: list[tuple[str, Params]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self.committed_groups = 0

    @classmethod
    async def open(cls, path: str | Path, **kwargs: Any) -> Store:
        """Open (creating if needed) and migrate the database, then start the write-behind task."""
        db_path = Path(path)

        def connector() -> sqlean.Connection:
            conn = connect_sync(db_path, check_same_thread=False)
            migrate(conn)
            return conn

        try:
            conn = await aiosqlite.Connection(connector, 64)  # type: ignore[arg-type]
        except sqlean.Error as exc:
            raise StoreError(f"cannot open the database {db_path}: {exc}") from exc
        store = cls(db_path, conn, **kwargs)
        store._writer = asyncio.create_task(store._write_loop(), name="mcpgw-store-writer")
        return store

    async def run(self, fn: Callable[[sqlean.Connection], T]) -> T:
        """Run ``fn(connection)`` on the database thread (for multi-statement work, vector search …)."""
        result: T = await self.conn._execute(fn, self.conn._conn)  # type: ignore[no-untyped-call]
        return result

    async def read(self, sql: str, params: Params = ()) -> list[Row]:
        def go(c: sqlean.Connection) -> list[Row]:
            rows: list[Row] = c.execute(sql, params).fetchall()
            return rows

        return await self.run(go)

    async def read_one(self, sql: str, params: Params = ()) -> Row | None:
        def go(c: sqlean.Connection) -> Row | None:
            return c.execute(sql, params).fetchone()

        return await self.run(go)

    async def write(self, sql: str, params: Params = ()) -> int:
        """Execute one write now, in its own transaction; returns the number of rows changed."""

        def go(c: sqlean.Connection) -> int:
            with _transaction(c):
                return int(c.execute(sql, params).rowcount)

        return await self.run(go)

    async def write_many(self, statements: Iterable[tuple[str, Params]]) -> None:
        """Execute several writes now, in one transaction."""
        batch = list(statements)

        def go(c: sqlean.Connection) -> None:
            with _transaction(c):
                # consecutive statements with the same SQL go through executemany (one prepare)
                for sql, group in itertools.groupby(batch, key=lambda item: item[0]):
                    c.executemany(sql, [params for _, params in group])

        await self.run(go)

    def enqueue(self, sql: str, params: Params = ()) -> None:
        """Queue a write for the next group commit; returns at once (write-behind)."""
        if self._closed:
            raise StoreError("the store is closed")
        self._queue.append((sql, params))
        self._idle.clear()
        if len(self._queue) >= self.group_size or not self._wake.is_set():
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        if self._queue:
            self._wake.set()
            await self._idle.wait()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            if not self._closed:
                # Let a burst gather: one commit for everything that arrives in the window.
                deadline = time.monotonic() + self.group_window_s
                while len(self._queue) < self.group_size and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    await asyncio.sleep(min(left, 0.005))
            self._wake.clear()
            batch, self._queue = self._queue, []
            if batch:
                try:
                    await self.write_many(batch)
                    self.committed_groups += 1
                except (sqlean.Error, ValueError) as exc:
                    # one bad statement must not cost the rest of the group: retry them one by one
                    log.warning("write-behind group of %d failed (%s); retrying one by one", len(batch), exc)
                    await self._write_each(batch)
            if not self._queue:
                self._idle.set()
            if self._closed and not self._queue:
                return

    async def _write_each(self, batch: list[tuple[str, Params]]) -> None:
        def go(c: sqlean.Connection) -> int:
            failed = 0
            for sql, params in batch:
                try:
                    with _transaction(c):
                        c.execute(sql, params)
                except sqlean.Error as exc:
                    failed += 1
                    log.error("write-behind statement dropped: %s (%s)", exc, sql.split("(")[0].strip())
            return failed

        await self.run(go)

    async def close(self) -> None:
        """Flush pending writes, checkpoint the WAL and close the connection."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._writer is not None:
            await self._writer
        with contextlib.suppress(sqlean.Error):
            await self.run(_checkpoint)
        await self.conn.close()


def _checkpoint(conn: sqlean.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@contextlib.contextmanager
def _transaction(conn: sqlean.Connection) -> Any:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
