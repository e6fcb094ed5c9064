"""The daemon's response cache (``cache_get/set/delete``) and mcpgw's own database (``db_query``
read-only, ``db_insert``/``db_update`` for user-writable tables)."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from mcpgw.errors import UsageError
from mcpgw.mcp_server.link import path_part
from mcpgw.mcp_server.tools.base import ToolContext, read_only, writes


class CacheEntry(BaseModel):
    key: str
    found: bool
    entry: dict[str, Any] | None = Field(None, description="The stored entry (value, ttl, created/expiry times).")


class CacheDeleted(BaseModel):
    key: str
    deleted: bool


class QueryResult(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool = Field(description="True when more rows matched than limit.")


class WriteResult(BaseModel):
    table: str
    id: str
    changed: int


CacheKey = Annotated[str, Field(min_length=1, max_length=512, description="Cache key (no '/').")]


def _key(key: str) -> str:
    """The key as one URL path segment; the daemon's routes take no '/' in a key."""
    if "/" in key:
        raise UsageError(f"cache key {key!r} contains '/'", fix="use another separator, e.g. ':'")
    return path_part(key)


def register(server: MCPServer, ctx: ToolContext) -> None:
    @server.tool(
        annotations=read_only("Get a cache entry"),
        description="Look up one entry of mcpgw's response cache by key; found=false when it is absent or expired.",
    )
    async def cache_get(
        key: CacheKey,
    ) -> CacheEntry:
        from mcpgw.errors import NotFound

        try:
            data = await ctx.link.get(f"/v1/cache/entries/{_key(key)}")
        except NotFound:
            return CacheEntry(key=key, found=False)
        return CacheEntry(key=key, found=True, entry=data if isinstance(data, dict) else {"value": data})

    @server.tool(
        annotations=writes("Set a cache entry", destructive=True, idempotent=True),
        description="Store a JSON value in mcpgw's response cache under key (replacing any entry), optional TTL.",
    )
    async def cache_set(
        key: CacheKey,
        value: Annotated[Any, Field(description="Any JSON value.")],
        ttl_s: Annotated[int | None, Field(ge=1, le=30 * 86400, description="Expire after this many seconds.")] = None,
    ) -> CacheEntry:
        body: dict[str, Any] = {"value": value}
        if ttl_s is not None:
            body["ttl_s"] = ttl_s
        await ctx.link.request("PUT", f"/v1/cache/entries/{_key(key)}", json=body)
        return CacheEntry(key=key, found=True, entry={"key": key, "value": value, "ttl_s": ttl_s})

    @server.tool(
        annotations=writes("Delete a cache entry", destructive=True, idempotent=True),
        description="Remove one entry from mcpgw's response cache; deleted=false when there was none.",
    )
    async def cache_delete(
        key: CacheKey,
    ) -> CacheDeleted:
        data = await ctx.link.request("DELETE", f"/v1/cache/entries/{_key(key)}")
        return CacheDeleted(key=key, deleted=bool(data.get("deleted")) if isinstance(data, dict) else False)

    @server.tool(
        annotations=read_only("Query mcpgw's database"),
        description=(
            "Run one read-only SQL statement (SQLite) over mcpgw's own database: request_traces (every request, "
            "its routing and tool calls), llm_calls (provider, model, layer, tokens, cost, created_at), history, "
            "conversations, messages, todo_lists, session_profiles. Writes, ATTACH and PRAGMA are refused by the "
            "connection. Use ? placeholders with params. "
            "Example: SELECT model, SUM(cost) FROM llm_calls GROUP BY model."
        ),
    )
    async def db_query(
        sql: Annotated[str, Field(min_length=1, max_length=20_000, description="One SELECT (or WITH … SELECT).")],
        params: Annotated[list[Any], Field(description="Values for ? placeholders.")] = [],  # noqa: B006
        limit: Annotated[int, Field(ge=1, le=1000, description="Maximum rows returned.")] = 200,
    ) -> QueryResult:
        data = await ctx.link.post("/v1/db/query", json={"sql": sql, "params": list(params), "limit": limit})
        return QueryResult.model_validate(data)

    @server.tool(
        annotations=writes("Insert a row", destructive=False, idempotent=False),
        description=(
            "Insert one row into a user-writable table of mcpgw's database, validated. Allowed: todo_lists "
            "(title, items: [{text, done}], conversation_id, project_id). Answers the new row's id."
        ),
    )
    async def db_insert(
        table: Annotated[str, Field(description="Table name: todo_lists.")],
        values: Annotated[dict[str, Any], Field(description="Column values.")],
    ) -> WriteResult:
        data = await ctx.link.post("/v1/db/insert", json={"table": table, "values": values})
        return WriteResult(table=data["table"], id=data["id"], changed=int(data["inserted"]))

    @server.tool(
        annotations=writes("Update a row", destructive=True, idempotent=True),
        description=(
            "Update one row of a user-writable table, validated. Allowed: todo_lists by id (title, items), "
            "session_profiles by id or name (context: object, goals: [str], files_in_scope: [str])."
        ),
    )
    async def db_update(
        table: Annotated[str, Field(description="todo_lists or session_profiles.")],
        id: Annotated[str, Field(min_length=1, description="Row id (or profile name).")],
        values: Annotated[dict[str, Any], Field(description="Columns to change.")],
    ) -> WriteResult:
        data = await ctx.link.post("/v1/db/update", json={"table": table, "id": id, "values": values})
        return WriteResult(table=data["table"], id=data["id"], changed=int(data["updated"]))
