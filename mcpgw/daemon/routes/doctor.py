"""``GET /v1/doctor``: the checks that need the daemon's view (database, migrations, extensions, providers,
Ollama, embedder, team backends, budget), run by :func:`mcpgw.doctor.daemon_view` with network probes in
parallel and short timeouts."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Request

from mcpgw import doctor
from mcpgw.daemon.state import DaemonState

router = APIRouter()
T = TypeVar("T")


@router.get("/v1/doctor")
async def doctor_checks(request: Request, verbose: bool = False, cwd: str | None = None) -> dict[str, Any]:
    """The daemon's checks; with ``cwd`` also the user config and that directory's project policy file
    (validated here, where pydantic is already loaded, so ``mcpgw doctor`` stays fast)."""
    state: DaemonState = request.app.state.daemon
    head: list[doctor.Check] = []
    if cwd is not None:
        config_check, _ = doctor.check_config(state.paths, os.environ)
        head = [config_check, doctor.check_project_policy(Path(cwd))]
    registry = state.services.get("providers")
    providers = [p.settings for p in registry] if registry is not None else None

    async def run_db(fn: Callable[[Any], T]) -> T:
        return await state.store.run(fn)

    checks = await doctor.daemon_view(run_db, state.settings, os.environ, providers=providers)
    from mcpgw.sync.service import doctor_checks as team_sync_checks

    checks += await team_sync_checks(state)
    checks = head + checks
    return {"checks": [c.to_json(verbose=verbose) for c in checks], "summary": doctor.summary(checks)}
