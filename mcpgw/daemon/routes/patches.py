"""The undo journal of ``mcpgw apply``: the CLI records an entry before it writes any file, and fetches
it back (by id, or the latest one for a repository) to undo."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from mcpgw.errors import NotFound, UsageError
from mcpgw.store import Store

router = APIRouter()

_ID = re.compile(r"^[0-9a-f]{6,32}$")


class JournalFileIn(BaseModel):
    path: str = Field(min_length=1)
    existed_before: bool
    before_b64: str | None = None
    before_sha256: str | None = None
    before_mode: int | None = None
    after_sha256: str | None = None
    after_mode: int | None = None


class JournalEntryIn(BaseModel):
    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    root: str = Field(min_length=1)
    source: str = ""
    files: list[JournalFileIn]


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _decode(f: JournalFileIn) -> bytes | None:
    if not f.existed_before:
        return None
    if f.before_b64 is None:
        raise UsageError(f"{f.path}: existed_before is true but before_b64 is missing")
    try:
        data = base64.b64decode(f.before_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UsageError(f"{f.path}: before_b64 is not valid base64") from exc
    if f.before_sha256 is not None and hashlib.sha256(data).hexdigest() != f.before_sha256:
        raise UsageError(f"{f.path}: before_sha256 does not match the content sent")
    return data


@router.post("/v1/apply/journal")
async def journal_record(request: Request, entry: JournalEntryIn) -> dict[str, Any]:
    """Record an apply (before the CLI writes anything) so it can be undone."""
    statements: list[tuple[str, Any]] = [
        (
            "INSERT INTO apply_journal (id, root, source) VALUES (?, ?, ?)",
            (entry.id, entry.root, entry.source),
        )
    ]
    for seq, f in enumerate(entry.files):
        before = _decode(f)
        statements.append(
            (
                "INSERT INTO apply_journal_files (entry_id, seq, path, before, before_sha256, before_mode, "
                "after_sha256, after_mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.id,
                    seq,
                    f.path,
                    before,
                    hashlib.sha256(before).hexdigest() if before is not None else None,
                    f.before_mode,
                    f.after_sha256,
                    f.after_mode,
                ),
            )
        )
    if await _store(request).read_one("SELECT 1 FROM apply_journal WHERE id = ?", (entry.id,)):
        raise UsageError(f"apply {entry.id} is already in the journal")
    await _store(request).write_many(statements)
    return {"id": entry.id, "files": len(entry.files)}


async def _entry(store: Store, row: Any) -> dict[str, Any]:
    files = await store.read(
        "SELECT path, before, before_sha256, before_mode, after_sha256, after_mode FROM apply_journal_files "
        "WHERE entry_id = ? ORDER BY seq",
        (row["id"],),
    )
    return {
        "id": row["id"],
        "root": row["root"],
        "source": row["source"],
        "created_at": row["created_at"],
        "undone": row["undone_at"] is not None,
        "undone_at": row["undone_at"],
        "files": [
            {
                "path": f["path"],
                "existed_before": f["before"] is not None,
                "before_b64": base64.b64encode(f["before"]).decode() if f["before"] is not None else None,
                "before_sha256": f["before_sha256"],
                "before_mode": f["before_mode"],
                "after_sha256": f["after_sha256"],
                "after_mode": f["after_mode"],
            }
            for f in files
        ],
    }


_COLUMNS = "SELECT id, root, source, created_at, undone_at FROM apply_journal"


async def _by_id(store: Store, entry_id: str) -> Any:
    if not _ID.match(entry_id):
        raise UsageError(f"{entry_id!r} is not an apply id", fix="ids are hex, as printed by `mcpgw apply`")
    rows = await store.read(f"{_COLUMNS} WHERE id >= ? AND id < ? LIMIT 2", (entry_id, entry_id + "g"))
    if not rows:
        raise NotFound(f"no apply {entry_id} in the journal", fix="check the id printed by `mcpgw apply`")
    if len(rows) > 1:
        raise UsageError(f"apply id {entry_id} is ambiguous", fix="give more characters of the id")
    return rows[0]


@router.get("/v1/apply/journal/latest")
async def journal_latest(request: Request, root: str) -> dict[str, Any]:
    """The most recent apply in ``root`` that has not been undone."""
    store = _store(request)
    row = await store.read_one(
        f"{_COLUMNS} WHERE root = ? AND undone_at IS NULL ORDER BY id DESC LIMIT 1", (root,)
    )
    if row is None:
        raise NotFound(f"nothing to undo in {root}", fix="`mcpgw apply --undo ID` undoes a specific apply")
    return await _entry(store, row)


@router.get("/v1/apply/journal/{entry_id}")
async def journal_get(request: Request, entry_id: str) -> dict[str, Any]:
    """One apply by id (or an unambiguous prefix of it)."""
    store = _store(request)
    return await _entry(store, await _by_id(store, entry_id))


@router.post("/v1/apply/journal/{entry_id}/undone")
async def journal_mark_undone(request: Request, entry_id: str) -> dict[str, Any]:
    """Mark an apply as undone (the CLI has restored its files)."""
    store = _store(request)
    row = await _by_id(store, entry_id)
    if row["undone_at"] is not None:
        raise UsageError(f"apply {row['id']} was already undone at {row['undone_at']}")
    await store.write(
        "UPDATE apply_journal SET undone_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?", (row["id"],)
    )
    return {"id": row["id"], "undone": True}
