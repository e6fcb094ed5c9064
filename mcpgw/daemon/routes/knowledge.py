"""Knowledge packs: ``POST /v1/knowledge/build``, ``GET /v1/knowledge`` (list), ``GET /v1/knowledge/search``
and ``DELETE /v1/knowledge/{name}``. Every call names its project by ``project_root`` (a directory; its git
root is the project), the same way chat requests do, so packs land where the gateway looks for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from mcpgw.daemon.state import DaemonState
from mcpgw.errors import NotFound, UsageError
from mcpgw.gateway.projects import Project, ProjectResolver
from mcpgw.knowledge import KnowledgeBase, knowledge_for

router = APIRouter()
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


def _state(request: Request) -> DaemonState:
    state: DaemonState = request.app.state.daemon
    return state


def _knowledge(request: Request) -> KnowledgeBase:
    state = _state(request)
    return knowledge_for(state.store, state.settings.search)


async def resolve_project(request: Request, root: str) -> Project:
    """The project of ``root`` through the gateway's resolver (same ids as chat requests)."""
    path = Path(root)
    if not path.is_absolute() or not path.is_dir():
        raise UsageError(f"project root {root!r} is not an existing absolute directory", fix="run inside the project")
    state = _state(request)
    gateway = state.services.get("gateway")
    resolver: ProjectResolver = gateway.projects if gateway is not None else ProjectResolver(state.store)
    project = await resolver.resolve(str(path))
    assert project is not None
    return project


class BuildBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_root: str = Field(min_length=1, max_length=4096)
    include: list[str] = Field(default_factory=list, max_length=100)
    name: str = Field("docs", pattern=NAME_PATTERN)
    description: str | None = Field(None, max_length=2000)
    embed: bool = Field(True, description="store vectors when an embedder is available")


@router.post("/v1/knowledge/build")
async def knowledge_build(request: Request, body: BuildBody) -> dict[str, Any]:
    """Build or refresh a pack from globs; unchanged files are skipped (content hash)."""
    project = await resolve_project(request, body.project_root)
    return await _knowledge(request).build(
        project.id, Path(project.root), body.include, body.name, body.description, embed=body.embed
    )


@router.get("/v1/knowledge")
async def knowledge_list(
    request: Request, project_root: str | None = Query(None, description="only this project's packs")
) -> dict[str, Any]:
    project_id = (await resolve_project(request, project_root)).id if project_root else None
    return {"packs": await _knowledge(request).list_packs(project_id)}


@router.get("/v1/knowledge/search")
async def knowledge_search(
    request: Request,
    q: str = Query(min_length=1, max_length=4000),
    project_root: str = Query(min_length=1),
    limit: int = Query(8, ge=1, le=50),
) -> dict[str, Any]:
    project = await resolve_project(request, project_root)
    knowledge = _knowledge(request)
    if not await knowledge.has_packs(project.id):
        raise NotFound(
            f"no knowledge pack in {project.root}", fix='build one: mcpgw knowledge build --include "docs/**/*.md"'
        )
    result = await knowledge.search(project.id, q, limit)
    return {"query": q, "mode": result.mode, "notice": result.notice, "hits": [h.as_dict() for h in result.hits]}


@router.delete("/v1/knowledge/{name}")
async def knowledge_delete(request: Request, name: str, project_root: str = Query(min_length=1)) -> dict[str, Any]:
    project = await resolve_project(request, project_root)
    return await _knowledge(request).delete(project.id, name)
