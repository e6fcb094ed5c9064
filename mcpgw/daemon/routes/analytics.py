"""Usage analytics: ``/v1/analytics`` and the roadmap's ``by-project``/``by-user``/``by-model`` views, plus
``/v1/analytics/errors`` (error rate) and ``/v1/analytics/top`` (most expensive requests).

Ranges: ``since``/``until`` (or the roadmap's ``startDate``/``endDate``) as a date (whole day), an ISO
time or a span back from now (``7d``); default the last 30 days. Every view answers the full
AnalyticsResponse; the ``by-*`` routes differ in the filter they take.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from mcpgw.analytics.queries import Filters, TimeRange, error_rates, parse_range, top_requests, usage_report
from mcpgw.daemon.state import DaemonState

router = APIRouter()


def _state(request: Request) -> DaemonState:
    state: DaemonState = request.app.state.daemon
    return state


def _range(since: str | None, until: str | None, start_date: str | None, end_date: str | None) -> TimeRange:
    return parse_range(since or start_date, until or end_date)


async def _report(request: Request, rng: TimeRange, flt: Filters) -> dict[str, Any]:
    state = _state(request)
    await state.store.flush()
    return await state.store.run(lambda c: usage_report(c, rng, flt))


@router.get("/v1/analytics")
async def analytics(
    request: Request,
    since: str | None = None,
    until: str | None = None,
    project: str | None = None,
    user: str | None = None,
    model: str | None = None,
    startDate: str | None = None,
    endDate: str | None = None,
) -> dict[str, Any]:
    return await _report(request, _range(since, until, startDate, endDate), Filters(project, user, model))


@router.get("/v1/analytics/by-project")
async def analytics_by_project(
    request: Request,
    projectId: str | None = None,
    project: str | None = None,
    since: str | None = None,
    until: str | None = None,
    startDate: str | None = None,
    endDate: str | None = None,
) -> dict[str, Any]:
    flt = Filters(project=projectId or project)
    return await _report(request, _range(since, until, startDate, endDate), flt)


@router.get("/v1/analytics/by-user")
async def analytics_by_user(
    request: Request,
    userId: str | None = None,
    user: str | None = None,
    since: str | None = None,
    until: str | None = None,
    startDate: str | None = None,
    endDate: str | None = None,
) -> dict[str, Any]:
    return await _report(request, _range(since, until, startDate, endDate), Filters(user=userId or user))


@router.get("/v1/analytics/by-model")
async def analytics_by_model(
    request: Request,
    model: str | None = None,
    since: str | None = None,
    until: str | None = None,
    startDate: str | None = None,
    endDate: str | None = None,
) -> dict[str, Any]:
    return await _report(request, _range(since, until, startDate, endDate), Filters(model=model))


@router.get("/v1/analytics/errors")
async def analytics_errors(
    request: Request,
    since: str | None = None,
    until: str | None = None,
    project: str | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """Requests and failed requests per day and request type."""
    state = _state(request)
    rng = parse_range(since, until)
    await state.store.flush()
    return await state.store.run(lambda c: error_rates(c, rng, Filters(project, user)))


@router.get("/v1/analytics/top")
async def analytics_top(
    request: Request,
    since: str | None = None,
    until: str | None = None,
    project: str | None = None,
    user: str | None = None,
    limit: int = Query(10, ge=1, le=1000),
) -> dict[str, Any]:
    """The most expensive requests in the range."""
    state = _state(request)
    rng = parse_range(since, until)
    await state.store.flush()
    return await state.store.run(lambda c: top_requests(c, rng, Filters(project, user), limit=limit))
