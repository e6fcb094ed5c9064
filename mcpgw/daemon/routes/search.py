"""Code search over HTTP: ``POST /v1/search``, ``POST /v1/search/index``, ``GET /v1/search/jobs/{id}``,
``GET /v1/search/stats``. The work happens in :mod:`mcpgw.search.service` (worker threads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator

from mcpgw.daemon.state import DaemonState
from mcpgw.errors import UsageError

router = APIRouter()


def _service(request: Request) -> Any:
    from mcpgw.search.service import service

    state: DaemonState = request.app.state.daemon
    return service(state)


def _root(value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise UsageError(f"root must be an absolute path, got {value!r}", fix="send the absolute project path")
    return path


class SearchRequest(BaseModel):
    query: str
    root: str
    type: list[str] = Field(default_factory=list, description="languages or extensions: py, ts, go, sql …")
    path: str | None = Field(None, description="glob on the path relative to the root, e.g. src/*")
    top_k: int = Field(10, ge=1, le=1000)
    threshold: float = Field(0.0, ge=-1.0, le=1.0)
    mode: Literal["hybrid", "semantic", "keyword"] = "hybrid"
    rerank: bool | None = Field(
        None, description="hybrid mode: re-read the best candidates with the cross-encoder (default: search.rerank)"
    )

    @field_validator("type", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value


class IndexRequest(BaseModel):
    root: str
    wait: bool = False


@router.post("/v1/search")
async def search(body: SearchRequest, request: Request) -> dict[str, Any]:
    from mcpgw.search.query import SearchOptions

    opts = SearchOptions(
        query=body.query,
        top_k=body.top_k,
        mode=body.mode,
        threshold=body.threshold,
        types=body.type,
        path_glob=body.path,
        rerank=body.rerank,
    )
    result: dict[str, Any] = await _service(request).query(_root(body.root), opts)
    return result


@router.post("/v1/search/index")
async def index(body: IndexRequest, request: Request) -> dict[str, Any]:
    root = _root(body.root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", fix="pass the directory of a project to index")
    svc = _service(request)
    job = svc.start_index(root.resolve())
    if body.wait:
        await svc.wait(job)
    result: dict[str, Any] = job.as_dict()
    return result


@router.get("/v1/search/jobs/{job_id}")
async def job(job_id: str, request: Request) -> dict[str, Any]:
    result: dict[str, Any] = _service(request).job(job_id).as_dict()
    return result


@router.get("/v1/search/stats")
async def stats(request: Request, root: str | None = None) -> dict[str, Any]:
    roots = await _service(request).stats(_root(root) if root else None)
    return {"roots": roots}
