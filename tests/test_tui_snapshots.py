"""SVG snapshots of the TUI at 80×24 and 160×48 (pytest-textual-snapshot). The daemon's answers are fixed
JSON in the daemon's shapes (served by httpx.MockTransport) so that dates, times and figures are stable;
the behaviour against a real daemon is covered by test_tui_screens.py. Update with --snapshot-update."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpgw.client import AsyncDaemonClient
from mcpgw.paths import resolve_paths
from mcpgw.tui.api import TuiApi
from mcpgw.tui.app import McpgwApp, create_app

DAYS = [f"2026-01-{d:02d}" for d in range(2, 32)]


def metrics(requests: int, cost: float) -> dict[str, Any]:
    return {"requests": requests, "errors": 0, "cached": requests // 4, "input_tokens": requests * 120,
            "output_tokens": requests * 40, "tokens": requests * 160, "cost": cost, "avg_duration_ms": 640.0}  # fmt: skip


def report(days: list[str]) -> dict[str, Any]:
    by_day = [{"date": d, **metrics(i % 7 + 1, round((i % 7 + 1) * 0.0123, 4))} for i, d in enumerate(days)]
    total_req = sum(d["requests"] for d in by_day)
    total_cost = round(sum(d["cost"] for d in by_day), 4)
    return {
        "time_range": {"start": f"{days[0]}T00:00:00.000Z", "end": f"{days[-1]}T23:59:59.000Z"},
        "filters": {}, "total_requests": total_req, "total_errors": 0, "error_rate": 0.0,
        "cached_requests": total_req // 4,
        "total_tokens": {"input": total_req * 120, "output": total_req * 40, "total": total_req * 160},
        "total_cost": total_cost, "avg_duration_ms": 640.0,
        "breakdown": {
            "by_layer": {"L1": metrics(total_req - 9, total_cost * 0.4), "L2": metrics(6, total_cost * 0.35),
                         "L3": metrics(3, total_cost * 0.25)},
            "by_model": {"openai/gpt-4o-mini": metrics(total_req - 9, total_cost * 0.4),
                         "anthropic/claude-sonnet-4": metrics(6, total_cost * 0.35),
                         "openai/gpt-4o": metrics(3, total_cost * 0.25)},
            "by_provider": {}, "by_project": {}, "by_user": {}, "by_day": by_day,
        },
    }  # fmt: skip


STATS = {
    "requests_total": 12, "in_flight": 0,
    "cache": {"entries": 3, "hits": 4, "misses": 8, "hit_rate": 0.3333, "saved_usd": 0.0123},
    "budgets": {"global": {"spent_today_usd": 0.05, "spent_month_usd": 1.2, "daily_usd": 2.0, "monthly_usd": 40.0,
                           "daily_remaining_usd": 1.95, "monthly_remaining_usd": 38.8}},
    "health": {"providers": {"openai": {"available": True, "successes": 11, "failures": 1, "cooldown_s": 0},
                             "anthropic": {"available": False, "successes": 2, "failures": 3, "cooldown_s": 30,
                                           "last_error": "529 overloaded"}}},
    "providers": [{"name": "openai", "kind": "openai"}, {"name": "anthropic", "kind": "anthropic"}],
}  # fmt: skip
TRACES = [
    {"id": f"01JH{i:022d}", "created_at": f"2026-01-31T{10 + i}:0{i}:00.000Z", "request_type": "chat",
     "status": "error" if i == 2 else "ok", "total_cost": 0.0042 * (i + 1), "total_duration_ms": 420 + 100 * i,
     "layer": "L1" if i % 2 else "L2", "models": ["openai/gpt-4o-mini" if i % 2 else "anthropic/claude-sonnet-4"]}
    for i in range(6)
]  # fmt: skip


def answer(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/v1/analytics":
        since = request.url.params.get("since")
        return httpx.Response(200, json=report(DAYS[-1:] if since and since.endswith(DAYS[-1][-2:]) else DAYS))
    if path == "/v1/stats":
        return httpx.Response(200, json=STATS)
    if path == "/v1/traces":
        return httpx.Response(200, json={"traces": TRACES, "next_before": None})
    return httpx.Response(404, json={"type": "not-found", "title": "NotFound", "status": 404, "detail": path})


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> McpgwApp:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    paths = resolve_paths({"MCPGW_HOME": str(tmp_path)})
    api = TuiApi(AsyncDaemonClient(paths, transport=httpx.MockTransport(answer)))
    return create_app(api, cwd=tmp_path, live=False)


async def settle(pilot: Any) -> None:
    for _ in range(100):
        if getattr(pilot.app.screen, "data", None) is not None or getattr(pilot.app.screen, "report", None):
            break
        await pilot.pause(0.02)
    await pilot.pause(0.3)
    await pilot.wait_for_scheduled_animations()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_dashboard_snapshot(snap_compare: Any, app: McpgwApp, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_analytics_snapshot(snap_compare: Any, app: McpgwApp) -> None:
    async def go(pilot: Any) -> None:
        await pilot.press("f2")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 40), run_before=go)
