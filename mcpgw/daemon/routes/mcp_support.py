"""Daemon endpoints the MCP server's tools need: read-only SQL, validated writes to user tables, and
recording an MCP tool call as a trace.

``POST /v1/db/query`` is read-only because of the connection, not because of the SQL text: the database
is opened ``mode=ro``, ``PRAGMA query_only`` is on, and an authorizer allows only reads (no ATTACH, no
PRAGMA, no writes), with a progress handler that stops runaway queries.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import sqlean
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from mcpgw.daemon.state import DaemonState
from mcpgw.errors import NotFound, UsageError
from mcpgw.ids import new_id
from mcpgw.store import connect_sync
from mcpgw.store.traces import enqueue_trace

router = APIRouter()

MAX_ROWS = 1000
QUERY_TIME_LIMIT_S = 5.0

# sqlite3 authorizer action codes that only read.
_READ_ACTIONS = frozenset(
    {
        sqlean.SQLITE_SELECT,
        sqlean.SQLITE_READ,
        sqlean.SQLITE_FUNCTION,
        sqlean.SQLITE_RECURSIVE,
    }
)


def _state(request: Request) -> DaemonState:
    state: DaemonState = request.app.state.daemon
    return state


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, max_length=20_000)
    params: list[Any] | dict[str, Any] = Field(default_factory=list)
    limit: int = Field(200, ge=1, le=MAX_ROWS)


# Functions that reach outside the database (sqlean extensions, if ever enabled) or run SQL text.
_DENIED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "eval", "define", "undefine", "define_free"})


def _authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None) -> int:
    if action == sqlean.SQLITE_FUNCTION and arg2 is not None:
        name = arg2.lower()
        if name in _DENIED_FUNCTIONS or name.startswith("fileio_"):
            return int(sqlean.SQLITE_DENY)
    if action in _READ_ACTIONS:
        return int(sqlean.SQLITE_OK)
    return int(sqlean.SQLITE_DENY)


def _run_query(db_path: str, body: QueryBody) -> dict[str, Any]:
    conn = connect_sync(db_path, readonly=True, check_same_thread=False)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.set_authorizer(_authorize)
        deadline = time.monotonic() + QUERY_TIME_LIMIT_S
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            cursor = conn.execute(body.sql, body.params)
            rows = cursor.fetchmany(body.limit + 1)
        except sqlean.DatabaseError as exc:
            text = str(exc)
            if "not authorized" in text or "readonly" in text or "read-only" in text:
                raise UsageError(
                    f"db_query is read-only: {text}",
                    fix="use a SELECT (or WITH … SELECT); writes go through db_insert/db_update",
                ) from exc
            if "interrupted" in text:
                raise UsageError(
                    f"the query ran longer than {QUERY_TIME_LIMIT_S:.0f} s and was stopped",
                    fix="add a WHERE clause or a LIMIT",
                ) from exc
            raise UsageError(
                f"SQL error: {text}", fix="check the table and column names (SELECT name FROM sqlite_master)"
            ) from exc
        except (sqlean.ProgrammingError, sqlean.Warning, ValueError) as exc:
            raise UsageError(f"SQL error: {exc}", fix="send exactly one statement with matching parameters") from exc
        columns = [d[0] for d in cursor.description or ()]
        truncated = len(rows) > body.limit
        data = [list(r) for r in rows[: body.limit]]
        return {"columns": columns, "rows": data, "row_count": len(data), "truncated": truncated}
    finally:
        conn.close()


@router.post("/v1/db/query")
async def db_query(request: Request, body: QueryBody) -> dict[str, Any]:
    """Run one read-only SQL statement over mcpgw's database; answers columns and rows (capped)."""
    import anyio.to_thread

    state = _state(request)
    await state.store.flush()  # so the caller sees its own recent writes
    result: dict[str, Any] = await anyio.to_thread.run_sync(_run_query, str(state.store.path), body)
    return result


# --- validated writes to user-writable tables -----------------------------------------------------


class TodoItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)
    done: bool = False


class TodoInsert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    items: list[TodoItem] = Field(default_factory=list, max_length=500)
    conversation_id: str | None = Field(None, max_length=64)
    project_id: str | None = Field(None, max_length=200)


class TodoUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200)
    items: list[TodoItem] | None = Field(None, max_length=500)


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    context: dict[str, Any] | None = None
    goals: list[str] | None = Field(None, max_length=100)
    files_in_scope: list[str] | None = Field(None, max_length=1000)


INSERTABLE: dict[str, type[BaseModel]] = {"todo_lists": TodoInsert}
UPDATABLE: dict[str, type[BaseModel]] = {"todo_lists": TodoUpdate, "session_profiles": ProfileUpdate}


class InsertBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: str
    values: dict[str, Any]


class UpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: str
    id: str = Field(min_length=1, max_length=200)
    values: dict[str, Any]


def _validate(table: str, allowed: dict[str, type[BaseModel]], values: dict[str, Any]) -> dict[str, Any]:
    from pydantic import ValidationError

    model = allowed.get(table)
    if model is None:
        raise UsageError(
            f"table {table!r} is not writable here",
            fix=f"writable tables: {', '.join(sorted(allowed))}",
        )
    try:
        parsed = model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"{table}.{where}: {first['msg']}", fix=f"fields: {', '.join(model.model_fields)}") from exc
    out: dict[str, Any] = {}
    for key, value in parsed.model_dump(exclude_unset=True).items():
        out[key] = json.dumps(value) if isinstance(value, (list, dict)) else value
    return out


@router.post("/v1/db/insert")
async def db_insert(request: Request, body: InsertBody) -> dict[str, Any]:
    """Insert one validated row into a user-writable table (todo lists)."""
    values = _validate(body.table, INSERTABLE, body.values)
    row_id = new_id()
    columns = ["id", *values]
    sql = f"INSERT INTO {body.table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    await _state(request).store.write(sql, [row_id, *values.values()])
    return {"table": body.table, "id": row_id, "inserted": 1}


@router.post("/v1/db/update")
async def db_update(request: Request, body: UpdateBody) -> dict[str, Any]:
    """Update one row (by id, or by name for profiles) of a user-writable table with validated values."""
    values = _validate(body.table, UPDATABLE, body.values)
    if not values:
        raise UsageError("nothing to update", fix="pass at least one field in values")
    sets = ", ".join(f"{k} = ?" for k in values)
    key = "(id = ? OR name = ?)" if body.table == "session_profiles" else "id = ?"
    keys = [body.id, body.id] if body.table == "session_profiles" else [body.id]
    sql = f"UPDATE {body.table} SET {sets}, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE {key}"
    changed = await _state(request).store.write(sql, [*values.values(), *keys])
    if changed == 0:
        raise NotFound(
            f"no row {body.id!r} in {body.table}", fix=f"list ids with db_query: SELECT id FROM {body.table}"
        )
    if body.table == "session_profiles":  # the gateway's context stage caches profiles per project
        from mcpgw.profiles import profiles_for

        profiles_for(_state(request).store).invalidate()
    return {"table": body.table, "id": body.id, "updated": changed}


# --- MCP tool calls as traces ---------------------------------------------------------------------


class ToolCallBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_name: str = Field(min_length=1, max_length=100)
    args: dict[str, Any] = Field(default_factory=dict)
    result_summary: str | None = Field(None, max_length=4000)
    error: str | None = Field(None, max_length=4000)
    duration_ms: int = Field(0, ge=0)
    root: str | None = Field(None, max_length=4096)
    client: str | None = Field(None, max_length=200)
    project_id: str | None = Field(None, max_length=200)
    user_id: str | None = Field(None, max_length=200)


@router.post("/v1/tool-calls")
async def record_tool_call(request: Request, body: ToolCallBody) -> dict[str, Any]:
    """Record one MCP tool call as a trace (request_type ``mcp-tool``, write-behind, secrets masked) and
    publish it as an event."""
    state = _state(request)
    trace_id = new_id()
    status: Literal["ok", "error"] = "error" if body.error else "ok"
    call = {
        "toolName": body.tool_name,
        "args": body.args,
        "result": body.result_summary,
        "error": body.error,
        "durationMs": body.duration_ms,
    }
    payload = {"tool": body.tool_name, "args": body.args, "root": body.root, "client": body.client}
    enqueue_trace(
        state.store,
        {
            "id": trace_id,
            "project_id": body.project_id,
            "user_id": body.user_id,
            "request_type": "mcp-tool",
            "request_payload": payload,
            "tool_calls": [call],
            "total_duration_ms": body.duration_ms,
            "status": status,
            "error_info": {"message": body.error} if body.error else None,
        },
        [],
    )
    state.events.publish(
        "trace",
        {
            "id": trace_id,
            "request_type": "mcp-tool",
            "tool": body.tool_name,
            "status": status,
            "duration_ms": body.duration_ms,
            "cost": 0.0,
        },
    )
    return {"trace_id": trace_id, "status": status}
