"""Health, version, events, database maintenance."""

from __future__ import annotations

import asyncio
import os
import platform
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from mcpgw._version import __version__
from mcpgw.config import masked_dump
from mcpgw.daemon.events import sse_frame
from mcpgw.daemon.state import DaemonState
from mcpgw.errors import UsageError

router = APIRouter()


def daemon(request: Request) -> DaemonState:
    state: DaemonState = request.app.state.daemon
    return state


@router.get("/v1/version")
async def version(request: Request) -> dict[str, Any]:
    d = daemon(request)
    return {
        "version": __version__,
        "pid": d.pid,
        "started_at": d.started_at,
        "uptime_s": d.uptime_s,
        "state": d.lifecycle.value,
        "socket": str(d.paths.socket_path),
        "db_path": str(d.store.path),
    }


def _db_facts(conn: Any) -> dict[str, Any]:
    return {
        "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
        "schema_version": conn.execute("SELECT COALESCE(MAX(version), 0) FROM _migrations").fetchone()[0],
        "migrations": [
            f"{r[0]:04d}_{r[1]}" for r in conn.execute("SELECT version, name FROM _migrations ORDER BY version")
        ],
        "sqlite_version": conn.execute("SELECT sqlite_version()").fetchone()[0],
        "sqlite_vec_version": conn.execute("SELECT vec_version()").fetchone()[0],
        "fts5": bool(conn.execute("SELECT sqlite_compileoption_used('ENABLE_FTS5')").fetchone()[0]),
    }


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    """Status, versions, database facts, configured providers and the full effective config (secrets masked)."""
    d = daemon(request)
    db = await d.store.run(_db_facts)
    db["path"] = str(d.store.path)
    db["pending_writes"] = d.store.pending
    providers: list[dict[str, Any]] = []
    registry = d.services.get("providers")
    if registry is not None and hasattr(registry, "describe"):
        providers = registry.describe()
    else:
        providers = [
            {"name": name, "kind": entry.kind, "base_url": entry.base_url, "enabled": entry.enabled}
            for name, entry in d.settings.providers.items()
        ]
    return {
        "status": "ok",
        "state": d.lifecycle.value,
        "version": __version__,
        "python": platform.python_version(),
        "pid": d.pid,
        "uptime_s": d.uptime_s,
        "socket": str(d.paths.socket_path),
        "database": db,
        "providers": providers,
        "team": await team.status() if (team := d.services.get("team")) is not None else None,
        "config": masked_dump(d.settings),
    }


@router.get("/v1/events")
async def events(request: Request) -> StreamingResponse:
    """Server-Sent Events: traces, alerts, index progress. A comment line every 15 s keeps it alive."""
    d = daemon(request)
    queue = d.events.subscribe()

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
                    continue
                yield sse_frame(event)
                if event["type"] == "shutdown":
                    return
        finally:
            d.events.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-cache"})


class BackupRequest(BaseModel):
    path: str


@router.post("/v1/db/backup")
async def backup(request: Request, body: BackupRequest) -> dict[str, Any]:
    """An online, consistent copy of the database (SQLite's backup API), written atomically."""
    d = daemon(request)
    target = Path(body.path)
    if not target.is_absolute():
        raise UsageError(f"backup path must be absolute, got {body.path!r}")
    if not target.parent.is_dir():
        raise UsageError(f"directory {target.parent} does not exist", fix="create it first or choose another path")
    await d.store.flush()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")

    def go(conn: Any) -> int:
        import sqlean

        dest = sqlean.connect(str(tmp))
        try:
            conn.backup(dest)
            dest.execute("PRAGMA journal_mode = DELETE")
            pages = dest.execute("PRAGMA page_count").fetchone()[0]
        finally:
            dest.close()
        os.replace(tmp, target)
        return int(pages)

    try:
        pages = await d.store.run(go)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {target}: {exc.strerror}") from exc
    return {"path": str(target), "pages": pages, "bytes": target.stat().st_size}


@router.get("/v1/debug/sys")
async def sysinfo() -> dict[str, Any]:
    """Which heavy modules the daemon has imported (for import-hygiene tests and memory questions)."""
    heavy = ("textual", "torch", "onnxruntime", "tree_sitter", "numpy")
    return {"modules": sorted(m for m in heavy if m in sys.modules)}
