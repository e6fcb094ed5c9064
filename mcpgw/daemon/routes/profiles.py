"""Work profiles: ``POST /v1/profiles`` (create), ``GET /v1/profiles`` (list), ``GET /v1/profiles/status``,
``POST /v1/profiles/use``, ``POST /v1/profiles/stop``, ``POST /v1/profiles/update`` and
``DELETE /v1/profiles/{name}``. Profiles belong to the project of ``project_root``; the active one is kept
here, in the daemon's database, so the stateless CLI and every other client share it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from mcpgw.daemon.routes.knowledge import resolve_project
from mcpgw.daemon.state import DaemonState
from mcpgw.profiles import ProfileManager, profiles_for

router = APIRouter()


def _profiles(request: Request) -> ProfileManager:
    state: DaemonState = request.app.state.daemon
    return profiles_for(state.store)


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_root: str = Field(min_length=1, max_length=4096)
    name: str = Field(min_length=1, max_length=100)
    type: str = "feature"
    goals: list[str] = Field(default_factory=list, max_length=100)
    files: list[str] = Field(default_factory=list, max_length=1000)
    focus: str | None = Field(None, max_length=2000)
    summary: str = Field("", max_length=4000)
    use: bool = Field(False, description="make it the project's active profile")


class UseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_root: str = Field(min_length=1, max_length=4096)
    name: str = Field(min_length=1, max_length=100)


class StopBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_root: str = Field(min_length=1, max_length=4096)


class UpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_root: str = Field(min_length=1, max_length=4096)
    name: str | None = Field(None, description="the active profile when absent")
    done: list[str] = Field(default_factory=list, max_length=100)
    add_goals: list[str] = Field(default_factory=list, max_length=100)
    focus: str | None = Field(None, max_length=2000)
    files: list[str] = Field(default_factory=list, max_length=1000)
    decision: str | None = Field(None, max_length=4000)
    rationale: str | None = Field(None, max_length=4000)
    summary: str | None = Field(None, max_length=4000)


@router.post("/v1/profiles")
async def profiles_create(request: Request, body: CreateBody) -> dict[str, Any]:
    project = await resolve_project(request, body.project_root)
    manager = _profiles(request)
    profile = await manager.create(
        project.id, body.name, body.type, body.goals, files=body.files, focus=body.focus, summary=body.summary
    )
    if body.use:
        profile = await manager.use(project.id, profile.id)
    return profile.as_dict()


@router.get("/v1/profiles")
async def profiles_list(request: Request, project_root: str | None = Query(None)) -> dict[str, Any]:
    project_id = (await resolve_project(request, project_root)).id if project_root else None
    return {"profiles": [p.as_dict() for p in await _profiles(request).list_profiles(project_id)]}


@router.get("/v1/profiles/status")
async def profiles_status(
    request: Request, project_root: str = Query(min_length=1), name: str | None = Query(None)
) -> dict[str, Any]:
    """The named profile, or the project's active one (404 when none is active)."""
    project = await resolve_project(request, project_root)
    return (await _profiles(request).current(project.id, name)).as_dict()


@router.post("/v1/profiles/use")
async def profiles_use(request: Request, body: UseBody) -> dict[str, Any]:
    project = await resolve_project(request, body.project_root)
    return (await _profiles(request).use(project.id, body.name)).as_dict()


@router.post("/v1/profiles/stop")
async def profiles_stop(request: Request, body: StopBody) -> dict[str, Any]:
    project = await resolve_project(request, body.project_root)
    return (await _profiles(request).stop(project.id)).as_dict()


@router.post("/v1/profiles/update")
async def profiles_update(request: Request, body: UpdateBody) -> dict[str, Any]:
    """Record progress: goals done or added, focus, files in scope, a decision with its rationale, summary."""
    project = await resolve_project(request, body.project_root)
    profile = await _profiles(request).update(
        project.id, body.name, done=body.done, add_goals=body.add_goals, focus=body.focus, files=body.files,
        decision=body.decision, rationale=body.rationale, summary=body.summary,
    )  # fmt: skip
    return profile.as_dict()


@router.delete("/v1/profiles/{name}")
async def profiles_delete(request: Request, name: str, project_root: str = Query(min_length=1)) -> dict[str, Any]:
    project = await resolve_project(request, project_root)
    return await _profiles(request).delete(project.id, name)
