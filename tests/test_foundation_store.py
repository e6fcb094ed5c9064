"""The store: migrations from empty and from every older version, WAL, sqlite-vec and FTS5, the
write-behind queue (group commit, flush on close)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlean

from mcpgw.store import Store, connect_sync, migrate
from mcpgw.store.db import schema_version
from mcpgw.store.migrations import MIGRATIONS

CORE_TABLES = {
    "conversations",
    "messages",
    "llm_calls",
    "request_traces",
    "context_summaries",
    "todo_lists",
    "organizations",
    "projects",
    "user_quotas",
    "user_roles",
    "session_profiles",
    "history",
}


def tables(conn: sqlean.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}


def test_migrate_empty_database(tmp_path: Path) -> None:
    conn = connect_sync(tmp_path / "a.db")
    applied = migrate(conn)
    assert applied[0] == "0001_core"
    assert len(applied) == len(MIGRATIONS)
    assert tables(conn) >= CORE_TABLES
    assert conn.execute("SELECT id FROM organizations").fetchone()[0] == "default-org"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # tenancy columns exist from the first migration
    for table in ("conversations", "messages", "llm_calls", "request_traces", "history"):
        cols = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        assert {"project_id", "user_id"} <= cols, table
    assert migrate(conn) == []  # re-open is a no-op


@pytest.mark.parametrize("start", [m.version for m in MIGRATIONS])
def test_migrate_from_every_older_version(tmp_path: Path, start: int) -> None:
    conn = connect_sync(tmp_path / "b.db")
    schema_version(conn)
    for m in MIGRATIONS:
        if m.version > start:
            break
        conn.execute("BEGIN")
        m.up(conn)
        conn.execute("INSERT INTO _migrations (version, name) VALUES (?, ?)", (m.version, m.name))
        conn.execute("COMMIT")
    applied = migrate(conn)
    assert [a.split("_")[0] for a in applied] == [f"{m.version:04d}" for m in MIGRATIONS if m.version > start]
    assert schema_version(conn) == MIGRATIONS[-1].version


def test_extensions_load(tmp_path: Path) -> None:
    conn = connect_sync(tmp_path / "c.db")
    assert conn.execute("SELECT vec_version()").fetchone()[0].startswith("v")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    conn.execute("CREATE VIRTUAL TABLE v USING vec0(embedding float[4])")


async def test_write_behind_groups_and_flushes_on_close(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "d.db", group_window_s=0.02)
    for i in range(500):
        store.enqueue("INSERT INTO history (id, command) VALUES (?, ?)", (f"h{i}", "chat"))
    assert store.pending > 0
    await store.flush()
    assert store.pending == 0
    # a burst is committed in a handful of groups, not 500 transactions
    assert 1 <= store.committed_groups <= 5
    for i in range(500, 600):
        store.enqueue("INSERT INTO history (id, command) VALUES (?, ?)", (f"h{i}", "chat"))
    await store.close()  # close flushes
    conn = connect_sync(tmp_path / "d.db")
    assert conn.execute("SELECT COUNT(*) FROM history").fetchone()[0] == 600


async def test_failed_group_does_not_poison_the_store(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "e.db", group_window_s=0.01)
    store.enqueue("INSERT INTO history (id, command) VALUES (?, ?)", ("dup", "a"))
    await store.flush()
    store.enqueue("INSERT INTO history (id, command) VALUES (?, ?)", ("before", "b"))
    store.enqueue("INSERT INTO history (id, command) VALUES (?, ?)", ("dup", "b"))  # violates the key
    store.enqueue("INSERT INTO history (id, command) VALUES (?, ?)", ("same-group", "c"))
    await store.flush()
    store.enqueue("INSERT INTO history (id, command) VALUES (?, ?)", ("next", "d"))
    await store.flush()
    rows = await store.read("SELECT id, command FROM history ORDER BY id")
    # the bad row is dropped; the rows committed in the same group are kept
    assert sorted((r[0], r[1]) for r in rows) == [("before", "b"), ("dup", "a"), ("next", "d"), ("same-group", "c")]
    await store.close()


async def test_store_reads_and_writes(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "f.db")
    changed = await store.write("INSERT INTO history (id, command) VALUES (?, ?)", ("x", "doctor"))
    assert changed == 1
    row = await store.read_one("SELECT command FROM history WHERE id = ?", ("x",))
    assert row is not None and row["command"] == "doctor"
    await store.close()
