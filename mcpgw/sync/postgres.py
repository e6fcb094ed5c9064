"""The team's Postgres: mirrors of ``request_traces``, ``llm_calls`` and ``history`` (one row per source
database and id), and ``mcpgw_sync_meta`` (schema version, one entry per pushing source).

Pushes are idempotent: rows go in with ``ON CONFLICT (source, id) DO NOTHING`` in one transaction, so a
batch pushed again after a crash between the Postgres commit and the local outbox delete lands exactly
once. The key includes ``source`` because history ids are short random ids, unique per database only.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from mcpgw.errors import ConfigError, StoreError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
CONNECT_TIMEOUT_S = 5

# Mirror of the local columns with their Postgres types; jsonb where SQLite keeps JSON as text.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "request_traces": (
        ("id", "text"), ("conversation_id", "text"), ("project_id", "text"), ("user_id", "text"),
        ("request_type", "text"), ("request_payload", "jsonb"), ("routing_decisions", "jsonb"),
        ("llm_calls", "jsonb"), ("tool_calls", "jsonb"), ("total_cost", "double precision"),
        ("total_duration_ms", "bigint"), ("status", "text"), ("error_info", "jsonb"), ("created_at", "timestamptz"),
    ),
    "llm_calls": (
        ("id", "text"), ("trace_id", "text"), ("conversation_id", "text"), ("project_id", "text"),
        ("user_id", "text"), ("provider", "text"), ("model", "text"), ("layer", "text"), ("task_type", "text"),
        ("input_tokens", "bigint"), ("output_tokens", "bigint"), ("cost", "double precision"),
        ("duration_ms", "bigint"), ("status", "text"), ("error", "text"), ("cached", "bigint"),
        ("created_at", "timestamptz"),
    ),
    "history": (
        ("id", "text"), ("created_at", "timestamptz"), ("command", "text"), ("args", "jsonb"), ("mode", "text"),
        ("files", "jsonb"), ("conversation_id", "text"), ("trace_id", "text"), ("project_id", "text"),
        ("user_id", "text"), ("cost", "double precision"), ("models", "jsonb"), ("success", "bigint"),
        ("error", "text"), ("duration_ms", "bigint"), ("cwd", "text"), ("git_commit", "text"),
    ),
}  # fmt: skip
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PG_ERRORS = (psycopg.Error, OSError, TimeoutError)


def _json(value: Any) -> Jsonb | None:
    """SQLite JSON text as jsonb; text that is not JSON is kept as a JSON string (never a poison row)."""
    if value is None:
        return None
    try:
        return Jsonb(orjson.loads(value))
    except (orjson.JSONDecodeError, TypeError):
        return Jsonb(str(value))


class PostgresSink:
    """One connection to the team's Postgres, (re)opened on demand; creates its schema when missing."""

    def __init__(self, url: str, *, schema: str = "mcpgw") -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ConfigError(
                f"team Postgres schema {schema!r} is not a plain identifier",
                fix="use lower-case letters, digits and underscores, e.g. mcpgw",
            )
        self.url = url
        self.schema = schema
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    def _name(self, table: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table))

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        conn = await psycopg.AsyncConnection.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True)
        try:
            await self._ensure_schema(conn)
        except _PG_ERRORS:
            await conn.close()
            raise
        self._conn = conn
        return conn

    async def _ensure_schema(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Create the schema and tables if missing; an advisory lock keeps two daemons from racing."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"mcpgw-sync:{self.schema}",))
            await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            for table, columns in TABLES.items():
                cols = sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in columns
                )
                await conn.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} (source text NOT NULL, {}, "
                        "pushed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, id))"
                    ).format(self._name(table), cols)
                )
                await conn.execute(
                    sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (created_at)").format(
                        sql.Identifier(f"{table}_created_idx"), self._name(table)
                    )
                )
            await conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, value jsonb NOT NULL, "
                    "updated_at timestamptz NOT NULL DEFAULT now())"
                ).format(self._name("mcpgw_sync_meta"))
            )
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (key, value) VALUES ('schema_version', %s) ON CONFLICT (key) DO NOTHING"
                ).format(self._name("mcpgw_sync_meta")),
                (Jsonb(SCHEMA_VERSION),),
            )

    async def push(self, rows: Mapping[str, Sequence[Mapping[str, Any]]], source: str, info: dict[str, Any]) -> int:
        """Insert ``rows`` (per table) for ``source`` in one transaction; returns how many were new.

        Raises StoreError when Postgres cannot be reached or refuses the batch (nothing was committed)."""
        async with self._lock:
            try:
                conn = await self._connection()
                inserted = 0
                async with conn.transaction():
                    for table, items in rows.items():
                        if items:
                            inserted += await self._insert(conn, table, items, source)
                    await conn.execute(
                        sql.SQL(
                            "INSERT INTO {} (key, value, updated_at) VALUES (%s, %s, now()) "
                            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
                        ).format(self._name("mcpgw_sync_meta")),
                        (f"source:{source}", Jsonb(info)),
                    )
                return inserted
            except _PG_ERRORS as exc:
                await self._drop()
                raise StoreError(
                    f"cannot push to the team Postgres: {_first_line(exc)}",
                    fix="check team.postgres_url and that the server accepts connections; rows wait in the outbox",
                ) from exc

    async def _insert(
        self, conn: psycopg.AsyncConnection[Any], table: str, items: Sequence[Mapping[str, Any]], source: str
    ) -> int:
        columns = TABLES[table]
        names = ["source", *(name for name, _ in columns)]
        statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (source, id) DO NOTHING").format(
            self._name(table),
            sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(sql.Placeholder() * len(names)),
        )
        params = [
            [source, *(_json(item.get(name)) if kind == "jsonb" else item.get(name) for name, kind in columns)]
            for item in items
        ]
        async with conn.cursor() as cur:
            await cur.executemany(statement, params)
            return max(cur.rowcount, 0)

    async def count(self, table: str, source: str | None = None) -> int:
        """Rows of ``table`` (for one source, or all); for status views and tests."""
        async with self._lock:
            conn = await self._connection()
            query = sql.SQL("SELECT count(*) FROM {}").format(self._name(table))
            if source is None:
                cur = await conn.execute(query)
            else:
                cur = await conn.execute(query + sql.SQL(" WHERE source = %s"), (source,))
            row = await cur.fetchone()
            return int(row[0]) if row else 0

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except _PG_ERRORS as exc:
                log.debug("closing a broken Postgres connection: %s", exc)

    async def aclose(self) -> None:
        async with self._lock:
            await self._drop()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
