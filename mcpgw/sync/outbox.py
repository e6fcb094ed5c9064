"""Pushes the local outbox (``sync_outbox``, filled by triggers, see migration m0009) to the team's
Postgres in batches, in the background.

Order of a push: read the oldest batch of outbox entries and their rows → insert them in Postgres in one
transaction (idempotent) → delete the pushed outbox entries. A crash between the last two steps pushes
the batch again on the next run, which inserts nothing new: exactly once per row. While Postgres is
down, pushes back off exponentially (up to ``max_backoff_s``) and rows wait in the outbox; requests
never wait for a push.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import getpass
import logging
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlean

from mcpgw._version import __version__
from mcpgw.errors import StoreError
from mcpgw.store import Store
from mcpgw.store.migrations.m0009_team_outbox import SYNCED_TABLES

log = logging.getLogger(__name__)


class Sink(Protocol):
    async def push(self, rows: Mapping[str, Sequence[Mapping[str, Any]]], source: str, info: dict[str, Any]) -> int: ...

    async def aclose(self) -> None: ...


@dataclass
class Batch:
    """The oldest outbox entries up to ``last_seq`` and the rows they name (per table)."""

    last_seq: int
    entries: int
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def read_batch(conn: Any, limit: int) -> Batch | None:
    """The next batch, or None when the outbox is empty. Rows deleted locally since are simply absent."""
    entries = conn.execute("SELECT seq, table_name, row_id FROM sync_outbox ORDER BY seq LIMIT ?", (limit,)).fetchall()
    if not entries:
        return None
    batch = Batch(last_seq=int(entries[-1][0]), entries=len(entries))
    wanted: dict[str, list[str]] = {}
    for _, table, row_id in entries:
        if table in SYNCED_TABLES:
            wanted.setdefault(table, []).append(row_id)
    for table, ids in wanted.items():
        unique = list(dict.fromkeys(ids))
        found: list[dict[str, Any]] = []
        for start in range(0, len(unique), 500):  # stay under SQLite's bound-parameter limit
            chunk = unique[start : start + 500]
            cursor = conn.execute(f"SELECT * FROM {table} WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            names = [d[0] for d in cursor.description]
            found.extend(dict(zip(names, tuple(row), strict=True)) for row in cursor.fetchall())
        batch.rows[table] = found
    return batch


def delete_through(conn: Any, last_seq: int) -> int:
    """Forget the outbox entries up to ``last_seq`` (they are in Postgres)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        deleted = int(conn.execute("DELETE FROM sync_outbox WHERE seq <= ?", (last_seq,)).rowcount)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return deleted


def pending(conn: Any) -> int:
    row = conn.execute("SELECT count(*) FROM sync_outbox").fetchone()
    return int(row[0])


def enable(conn: Any, enabled: bool) -> str:
    """Switch the outbox triggers on or off; returns this database's source id."""
    conn.execute("UPDATE sync_settings SET enabled = ? WHERE id = 1 AND enabled != ?", (int(enabled), int(enabled)))
    row = conn.execute("SELECT source_id FROM sync_settings WHERE id = 1").fetchone()
    return str(row[0])


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class OutboxPusher:
    """The background push job and its status (pending rows, last push, last error)."""

    def __init__(
        self,
        store: Store,
        sink: Sink,
        *,
        interval_s: float,
        batch_size: int = 500,
        max_backoff_s: float = 300.0,
        push_timeout_s: float = 60.0,
    ) -> None:
        self.store = store
        self.sink = sink
        self.interval_s = max(interval_s, 0.01)
        self.batch_size = batch_size
        self.max_backoff_s = max_backoff_s
        self.push_timeout_s = push_timeout_s
        self.source_id = ""
        self.pushed_total = 0
        self.last_push_at: str | None = None
        self.last_error: str | None = None
        self.last_error_at: str | None = None
        self.failures = 0
        self.next_delay_s = self.interval_s
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def enable(self) -> None:
        """Turn the outbox triggers on and learn this database's source id."""
        self.source_id = await self.store.run(lambda conn: enable(conn, True))

    async def push_once(self) -> int:
        """Push the oldest batch; returns the outbox entries it cleared (0 when empty). Raises StoreError."""
        batch = await self.store.run(lambda conn: read_batch(conn, self.batch_size))
        if batch is None:
            return 0
        info = {"host": socket.gethostname(), "user": _user(), "version": __version__, "pushed_at": _now()}
        await asyncio.wait_for(self.sink.push(batch.rows, self.source_id, info), self.push_timeout_s)
        await self.store.run(lambda conn: delete_through(conn, batch.last_seq))
        self.pushed_total += sum(len(rows) for rows in batch.rows.values())
        self.last_push_at = info["pushed_at"]
        return batch.entries

    async def push_all(self) -> int:
        """Push until the outbox is empty (what was committed so far)."""
        total = 0
        while cleared := await self.push_once():
            total += cleared
        return total

    async def run_once(self) -> None:
        """One round of the job: push everything, or record the failure and lengthen the wait."""
        try:
            await self.push_all()
        except (StoreError, TimeoutError, sqlean.Error) as exc:
            self.failures += 1
            if isinstance(exc, StoreError):
                self.last_error = exc.message
            else:
                self.last_error = "push timed out" if isinstance(exc, TimeoutError) else f"local database: {exc}"
            self.last_error_at = _now()
            self.next_delay_s = min(self.max_backoff_s, self.interval_s * 2**self.failures)
            if self.failures == 1:
                log.warning("team sync: %s; retrying with backoff", self.last_error)
            return
        if self.failures:
            log.info("team sync: Postgres reachable again after %d failed pushes", self.failures)
        self.failures = 0
        self.next_delay_s = self.interval_s

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.next_delay_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mcpgw-team-sync")

    def poke(self) -> None:
        """Push now instead of after the current wait."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop the job; rows not pushed yet stay in the outbox for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.sink.aclose()

    async def status(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "source_id": self.source_id,
            "pending": await self.store.run(pending),
            "pushed_total": self.pushed_total,
            "last_push_at": self.last_push_at,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "consecutive_failures": self.failures,
            "retry_in_s": round(self.next_delay_s, 3) if self.failures else None,
        }


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"
