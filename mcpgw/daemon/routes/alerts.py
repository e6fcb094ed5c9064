"""Cost alerts: ``GET /v1/alerts``, ``GET /v1/alerts/{id}``, ``POST /v1/alerts/{id}/ack`` and
``POST /v1/alerts/check`` (run the guardrail's detection now instead of waiting for its next round)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query, Request

from mcpgw.analytics.guardrail import Guardrail, GuardrailConfig, ack_alert, alert_dict, list_alerts
from mcpgw.daemon.state import DaemonState
from mcpgw.errors import NotFound

router = APIRouter()


def _state(request: Request) -> DaemonState:
    state: DaemonState = request.app.state.daemon
    return state


@router.get("/v1/alerts")
async def alerts_list(
    request: Request,
    include_acked: bool = Query(True, alias="all", description="include acknowledged alerts"),
    limit: int = Query(50, ge=1, le=10_000),
) -> dict[str, Any]:
    state = _state(request)
    return {"alerts": await state.store.run(lambda c: list_alerts(c, include_acked=include_acked, limit=limit))}


@router.post("/v1/alerts/check")
async def alerts_check(request: Request) -> dict[str, Any]:
    """Detect now; answers the alerts newly raised (stored, published and queued for the webhook)."""
    state = _state(request)
    guardrail = state.services.get("guardrail")
    if not isinstance(guardrail, Guardrail):  # the job is disabled: detect without webhook delivery
        guardrail = Guardrail(state.store, state.events, GuardrailConfig.from_settings(state.settings))
    return {"alerts": await guardrail.check()}


@router.get("/v1/alerts/{alert_id}")
async def alerts_get(request: Request, alert_id: str) -> dict[str, Any]:
    state = _state(request)
    row = await state.store.read_one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
    if row is None:
        raise NotFound(f"no alert with id {alert_id!r}", fix="list alerts with `mcpgw alerts list`")
    return alert_dict(row)


@router.post("/v1/alerts/{alert_id}/ack")
async def alerts_ack(request: Request, alert_id: str) -> dict[str, Any]:
    state = _state(request)
    now = dt.datetime.now(dt.UTC)
    return await state.store.run(lambda c: ack_alert(c, alert_id, now=now))
