"""Command history (the ``history`` table): the CLI records each command here; ``mcpgw history`` lists,
searches and deletes entries; ``mcpgw replay`` fetches one by its short id (or a unique prefix)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import sqlean
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from mcpgw.errors import NotFound, StoreError, UsageError
from mcpgw.ids import short_id
from mcpgw.store import Store

router = APIRouter()

_PREFIX = re.compile(r"^[0-9a-f]{4,32}$")
_COLUMNS = (
    "id, created_at, command, args, mode, files, conversation_id, trace_id, project_id, user_id, cost, models, "
    "success, error, duration_ms, cwd, git_commit"
)


class HistoryFile(BaseModel):
    path: str = Field(min_length=1, max_length=4096)
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class HistoryIn(BaseModel):
    """One command as the CLI saw it."""

    command: str = Field(min_length=1, max_length=200)
    args: list[str] = Field(default_factory=list, max_length=1000)
    timestamp: str | None = Field(None, description="when the command started (ISO-8601); now when absent")
    mode: str | None = Field(None, max_length=50)
    files: list[HistoryFile] = Field(default_factory=list, max_length=200)
    conversation_id: str | None = None
    trace_id: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    cost: float = Field(0.0, ge=0)
    models: list[str] = Field(default_factory=list, max_length=50)
    success: bool = True
    error: str | None = Field(None, max_length=4000)
    duration_ms: int = Field(0, ge=0)
    cwd: str | None = None
    git_commit: str | None = Field(None, max_length=64)


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def to_utc_text(value: str, what: str) -> str:
    """An ISO-8601 date or time as the store's UTC text; naive values are taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise UsageError(
            f"{what}: {value!r} is not an ISO-8601 date or time", fix="use e.g. 2026-01-31 or 2026-01-31T12:00:00Z"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def entry(row: Any) -> dict[str, Any]:
    """A history row as the API's JSON object."""
    return {
        "id": row["id"],
        "timestamp": row["created_at"],
        "command": row["command"],
        "args": json.loads(row["args"]),
        "mode": row["mode"],
        "files": json.loads(row["files"]),
        "conversation_id": row["conversation_id"],
        "trace_id": row["trace_id"],
        "project_id": row["project_id"],
        "user_id": row["user_id"],
        "cost": row["cost"],
        "models": json.loads(row["models"]),
        "success": bool(row["success"]),
        "error": row["error"],
        "duration_ms": row["duration_ms"],
        "cwd": row["cwd"],
        "git_commit": row["git_commit"],
    }


@router.post("/v1/history")
async def history_add(request: Request, body: HistoryIn) -> dict[str, Any]:
    """Record one command; answers its short id. Written at once (one small row, no fsync in WAL mode)."""
    created = to_utc_text(body.timestamp, "timestamp") if body.timestamp else None
    values = (
        body.command,
        json.dumps(body.args),
        body.mode,
        json.dumps([f.model_dump() for f in body.files]),
        body.conversation_id,
        body.trace_id,
        body.project_id,
        body.user_id,
        body.cost,
        json.dumps(body.models),
        int(body.success),
        body.error,
        body.duration_ms,
        body.cwd,
        body.git_commit,
        created,
    )
    store = _store(request)
    for _ in range(5):  # short ids are random: retry the rare collision
        new = short_id(8)
        try:
            await store.write(
                "INSERT INTO history (id, command, args, mode, files, conversation_id, trace_id, project_id, "
                "user_id, cost, models, success, error, duration_ms, cwd, git_commit, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "COALESCE(?, strftime('%Y-%m-%dT%H:%M:%fZ','now')))",
                (new, *values),
            )
        except sqlean.IntegrityError:
            continue
        return {"id": new}
    raise StoreError("could not find a free history id after 5 tries")


@router.get("/v1/history")
async def history_list(
    request: Request,
    last: int = Query(20, ge=1, le=100_000),
    mode: str | None = None,
    failed: bool = False,
    search: str | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """The latest entries, newest first, filtered by mode, failure, command and a substring."""
    where: list[str] = []
    params: list[Any] = []
    if mode:
        where.append("mode = ?")
        params.append(mode)
    if command:
        where.append("command = ?")
        params.append(command)
    if failed:
        where.append("success = 0")
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            "(command LIKE ? ESCAPE '\\' OR args LIKE ? ESCAPE '\\' OR COALESCE(error, '') LIKE ? ESCAPE '\\' "
            "OR files LIKE ? ESCAPE '\\')"
        )
        params += [like] * 4
    sql = f"SELECT {_COLUMNS} FROM history"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
    rows = await _store(request).read(sql, (*params, last))
    return {"entries": [entry(r) for r in rows]}


async def find(store: Store, ref: str) -> Any:
    """The row whose id is ``ref`` or starts with it; clear errors when none or several match."""
    ref = ref.strip().lower()
    if not _PREFIX.match(ref):
        raise UsageError(f"{ref!r} is not a history id", fix="ids are shown by `mcpgw history` (8 hex characters)")
    rows = await store.read(f"SELECT {_COLUMNS} FROM history WHERE id >= ? AND id < ? LIMIT 2", (ref, ref + "g"))
    if not rows:
        raise NotFound(f"no history entry {ref}", fix="list the entries with `mcpgw history`")
    if len(rows) > 1:
        raise UsageError(f"history id {ref} is ambiguous", fix="give more characters of the id")
    return rows[0]


@router.get("/v1/history/{ref}")
async def history_get(request: Request, ref: str) -> dict[str, Any]:
    return entry(await find(_store(request), ref))


@router.delete("/v1/history/{ref}")
async def history_delete(request: Request, ref: str) -> dict[str, Any]:
    store = _store(request)
    row = await find(store, ref)
    deleted = await store.write("DELETE FROM history WHERE id = ?", (row["id"],))
    return {"deleted": deleted, "ids": [row["id"]]}


@router.delete("/v1/history")
async def history_delete_before(request: Request, before: str | None = None) -> dict[str, Any]:
    """Delete every entry recorded before the given date/time (ISO-8601, UTC when no offset)."""
    if not before:
        raise UsageError("say which entries to delete", fix="pass an id, or ?before=DATE")
    cutoff = to_utc_text(before, "before")
    deleted = await _store(request).write("DELETE FROM history WHERE created_at < ?", (cutoff,))
    return {"deleted": deleted, "before": cutoff}
