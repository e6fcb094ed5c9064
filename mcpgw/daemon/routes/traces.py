"""``GET /v1/traces`` (filtered summaries, newest first) and ``GET /v1/traces/{id}`` (one trace in full)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from mcpgw.daemon.state import DaemonState
from mcpgw.store.traces import get_trace, list_traces

router = APIRouter()


def _state(request: Request) -> DaemonState:
    state: DaemonState = request.app.state.daemon
    return state


@router.get("/v1/traces")
async def traces_list(
    request: Request,
    since: str | None = Query(None, description="date, ISO time or span back from now (7d, 24h)"),
    until: str | None = Query(None, description="date (inclusive), ISO time or span back from now"),
    project: str | None = None,
    user: str | None = None,
    status: Literal["ok", "error", "confirmation_required"] | None = None,
    request_type: str | None = None,
    limit: int = Query(50, ge=1, le=10_000),
    before: str | None = Query(None, description="id cursor: traces older than this one"),
) -> dict[str, Any]:
    """Trace summaries; ``next_before`` pages on."""
    from mcpgw.analytics.queries import parse_range

    start = end = None
    if since or until:
        rng = parse_range(since, until, default_days=36500)
        start, end = rng.start_iso, rng.end_iso
    state = _state(request)
    await state.store.flush()  # a trace recorded a moment ago is listed
    items = await state.store.run(
        lambda c: list_traces(
            c,
            since=start,
            until=end,
            project=project,
            user=user,
            status=status,
            request_type=request_type,
            limit=limit,
            before=before,
        )
    )
    return {"traces": items, "next_before": items[-1]["id"] if len(items) == limit else None}


@router.get("/v1/traces/{trace_id}")
async def traces_get(request: Request, trace_id: str) -> dict[str, Any]:
    """One trace: routing decisions, LLM calls (tree and table rows), tool calls (secrets masked), error."""
    state = _state(request)
    await state.store.flush()
    return await state.store.run(lambda c: get_trace(c, trace_id))
