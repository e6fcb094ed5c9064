"""API keys for the TCP listener: create (the secret is in this answer only), list, revoke.

Over TCP these need an admin key (see :mod:`mcpgw.security.auth`); on the socket they are keyless.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from mcpgw.daemon.state import DaemonState
from mcpgw.security.auth import ApiKeys, Role, api_keys

router = APIRouter()


class KeyCreate(BaseModel):
    role: Role
    project: str | None = Field(None, min_length=1, max_length=200)
    name: str = Field("", max_length=200)


def _keys(request: Request) -> ApiKeys:
    state: DaemonState = request.app.state.daemon
    return api_keys(state)


@router.post("/v1/keys", status_code=201)
async def keys_create(request: Request, body: KeyCreate) -> dict[str, Any]:
    """Create a key. The answer's ``key`` is the only time the secret is ever shown."""
    record, secret = await _keys(request).create(body.role, project_id=body.project, name=body.name)
    return {**record.as_dict(), "key": secret}


@router.get("/v1/keys")
async def keys_list(request: Request, all: bool = True) -> dict[str, Any]:
    """Every key (``?all=false``: only active ones), oldest first, without secrets."""
    return {"keys": [k.as_dict() for k in await _keys(request).list(include_revoked=all)]}


@router.delete("/v1/keys/{key_id}")
async def keys_revoke(request: Request, key_id: str) -> dict[str, Any]:
    """Revoke a key by id (or a unique prefix of it); effective immediately."""
    return (await _keys(request).revoke(key_id)).as_dict()
