"""Repo map routes: ``POST /v1/repo/map`` (graph, text map, Mermaid, DOT, SVG) and ``POST /v1/repo/related``.

The map is built in a worker thread with its own connection on the daemon's database (the tag cache
lives there). With ``"stream": true`` the answer is NDJSON: ``{"type": "progress", "done", "total"}``
lines while files are parsed, then one ``{"type": "result", ...}`` line (or ``{"type": "error", ...}``
with the problem fields), so the CLI can draw a progress bar on cold builds.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from mcpgw.errors import MCPGWError, UsageError

router = APIRouter()

Format = Literal["json", "text", "mermaid", "dot"]
# One build at a time per project root: concurrent requests for the same tree wait and then hit a warm cache.
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class RepoMapIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    path: str = Field(min_length=1, description="absolute path of the project directory")
    format: Format = "json"
    focus: list[str] = Field(default_factory=list)
    tokens: int = Field(1024, gt=0, le=1_000_000)
    include_tests: bool = Field(True, alias="includeTests")
    max_depth: int | None = Field(None, ge=0, alias="maxDepth")
    visualize: bool = False
    stream: bool = False


class RelatedIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    path: str = Field(min_length=1, description="absolute path of the project directory")
    file: str = Field(min_length=1, description="the changed file, absolute or relative to path")
    limit: int = Field(20, gt=0, le=1000)
    include_tests: bool = Field(True, alias="includeTests")


def _absolute(path: str) -> Path:
    root = Path(path)
    if not root.is_absolute():
        raise UsageError(f"path must be absolute, got {path!r}", fix="send the absolute project path")
    return root


def _categories(root: Path) -> dict[str, str]:
    """``repoMap.categories`` from the project policy file, if there is one."""
    from mcpgw.config import find_project_file, load_project_policy

    policy_file = find_project_file(root)
    if policy_file is None:
        return {}
    raw = load_project_policy(policy_file).repo_map.get("categories", {})
    if not isinstance(raw, dict):
        raise UsageError(
            f"{policy_file}: repoMap.categories must map glob patterns to categories",
            fix='write it as {"glob": "core|infra|feature|test|config"}',
        )
    return {str(k): v for k, v in raw.items()}


def build_in_thread(
    db_path: Path,
    root: Path,
    *,
    include_tests: bool = True,
    max_depth: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Build a :class:`mcpgw.repomap.RepoMap` with its own connection (call via ``asyncio.to_thread``).

    Chat and the code agent use this to pull the text map in as context.
    """
    from mcpgw.repomap import MapOptions, build_repo_map
    from mcpgw.store import connect_sync

    options = MapOptions(include_tests=include_tests, max_depth=max_depth, categories=_categories(root))
    key = str(root)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        conn = connect_sync(db_path)
        try:
            return build_repo_map(root, conn, options=options, progress=progress)
        finally:
            conn.close()


def _render(body: RepoMapIn, built: Any) -> dict[str, Any]:
    from mcpgw.repomap.render import render_dot, render_mermaid, render_svg

    result: dict[str, Any] = {"format": body.format, "root": str(built.root), "stats": built.stats.to_dict()}
    if body.format == "json":
        result["graph"] = built.to_dict(body.focus)
    elif body.format == "text":
        text_map = built.text(body.tokens, body.focus)
        result["output"] = text_map.text
        result["textMap"] = {
            "tokens": text_map.tokens,
            "budget": body.tokens,
            "files": text_map.files,
            "definitions": text_map.definitions,
            "counter": "mean of chars/4 and words+punctuation",
        }
    if body.format in ("mermaid", "dot") or body.visualize:
        pic = built.picture(body.focus)
        if body.format == "mermaid":
            result["output"] = render_mermaid(pic)
        elif body.format == "dot":
            result["output"] = render_dot(pic)
        if body.visualize:
            result["svg"] = render_svg(pic, title=f"{built.root.name} — repo map")
    return result


def _problem(exc: MCPGWError) -> dict[str, Any]:
    return {
        "type": "error",
        "problem": exc.type,
        "status": exc.status,
        "title": type(exc).__name__,
        "detail": exc.message,
        "fix": exc.fix,
    }


@router.post("/v1/repo/map", response_model=None)
async def repo_map(request: Request, body: RepoMapIn) -> dict[str, Any] | Response:
    """Build (or refresh) the project's map and return it in the requested format."""
    root = _absolute(body.path)
    db_path = Path(request.app.state.store.path)

    def work(progress: Callable[[int, int], None] | None) -> dict[str, Any]:
        built = build_in_thread(
            db_path, root, include_tests=body.include_tests, max_depth=body.max_depth, progress=progress
        )
        return _render(body, built)

    if not body.stream:
        return await asyncio.to_thread(work, None)
    return StreamingResponse(_ndjson(work), media_type="application/x-ndjson")


async def _ndjson(work: Callable[[Callable[[int, int], None] | None], dict[str, Any]]) -> AsyncIterator[bytes]:
    updates: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
    task = asyncio.create_task(asyncio.to_thread(work, lambda done, total: updates.put((done, total))))
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=0.1)
            while not updates.empty():
                done, total = updates.get()
                yield orjson.dumps({"type": "progress", "done": done, "total": total}) + b"\n"
        try:
            result = task.result()
        except MCPGWError as exc:
            yield orjson.dumps(_problem(exc)) + b"\n"
            return
        yield orjson.dumps({"type": "result", **result}) + b"\n"
    finally:
        if not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await task


@router.post("/v1/repo/related")
async def repo_related(request: Request, body: RelatedIn) -> dict[str, Any]:
    """The files most likely affected by a change to ``file`` (reverse dependencies, ranked)."""
    root = _absolute(body.path)
    db_path = Path(request.app.state.store.path)

    def work() -> dict[str, Any]:
        built = build_in_thread(db_path, root, include_tests=body.include_tests)
        target = built.relative(body.file)
        return {"root": str(built.root), "file": target, "related": built.related(target, limit=body.limit)}

    return await asyncio.to_thread(work)
