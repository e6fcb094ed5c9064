"""Pilot-driven tests of every TUI screen against an in-process daemon with seeded data: what is shown,
and which requests the TUI made (recorded by the transport)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import DataTable, Input, Label, RichLog, Select, SelectionList, Static, TextArea, Tree

from mcpgw.client import AsyncDaemonClient
from mcpgw.config import load_project_policy, load_settings
from mcpgw.paths import Paths
from mcpgw.tui.api import TuiApi
from mcpgw.tui.app import McpgwApp, create_app
from mcpgw.tui.screens.dashboard import DashboardScreen
from mcpgw.tui.screens.history import ReplayConfirm
from mcpgw.tui.screens.playground import ModelPane
from mcpgw.tui.screens.traces import TraceViewer
from mcpgw.tui.widgets.banner import ConnectionBanner
from mcpgw.tui.widgets.cards import StatCard
from mcpgw.tui.widgets.fmt import money
from tests.fakes.upstreams import FakeOpenAI
from tests.test_tui_support import Daemon, StreamingASGITransport, in_process_daemon, seed_trace

NOW = dt.datetime.now(dt.UTC)


async def until(pilot: Any, check: Callable[[], bool], what: str, tries: int = 200) -> None:
    """Let the app run until ``check()`` holds (bounded by a number of pauses, not by a clock)."""
    for _ in range(tries):
        if check():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never happened: {what}")


def cells(table: DataTable[Any]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


@pytest.fixture
async def daemon(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Daemon]:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "OLLAMA_HOST"):
        monkeypatch.delenv(var, raising=False)
    paths.ensure()
    async with in_process_daemon(paths, load_settings(paths.config_file, environ={})) as d:
        yield d


def seed_month(d: Daemon) -> None:
    """Today, earlier this month/last 30 days, and one call outside the 30 days."""
    seed_trace(d, when=NOW - dt.timedelta(minutes=5), cost=0.0125, duration_ms=600)
    seed_trace(d, when=NOW - dt.timedelta(minutes=1), cost=0.0075, duration_ms=1000, cached=True, model="gpt-4o",
               layer="L2")  # fmt: skip
    seed_trace(d, when=NOW - dt.timedelta(days=3), cost=0.25, model="claude-3-5-haiku", provider="anthropic")
    seed_trace(d, when=NOW - dt.timedelta(days=40), cost=9.0)


async def test_dashboard_figures_match_the_analytics_routes(daemon: Daemon) -> None:
    seed_month(daemon)
    await daemon.flush()
    app = create_app(daemon.api, cwd=daemon.paths.data_dir, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await until(pilot, lambda: screen.data is not None, "dashboard loaded")
        await pilot.pause()
        today = (await daemon.http.get("/v1/analytics", params={"since": NOW.date().isoformat()})).json()
        last30 = (await daemon.http.get("/v1/analytics")).json()
        card = {c.id: c for c in screen.query(StatCard)}
        assert card["card-requests"].value == "2" == str(today["total_requests"])
        assert card["card-cost-today"].value == money(today["total_cost"]) == "$0.0200"
        assert card["card-latency"].value == "800 ms"  # (600 + 1000) / 2
        assert card["card-cache"].value == "50.0%"
        assert card["card-budget"].value == "no limit"
        assert screen.query_one("#cost-chart").chart_title.startswith(  # type: ignore[attr-defined]
            f"Cost per day, 30 days: {money(last30['total_cost'])} · 3 req"
        )
        rows = cells(screen.query_one("#recent", DataTable))
        assert [r[2] for r in rows] == ["gpt-4o", "gpt-4o-mini", "claude-3-5-haiku", "gpt-4o-mini"]
        assert rows[0][4] == "ok" and rows[0][5] == "$0.0075"
        assert "no providers configured" in str(screen.query_one("#providers", Static).render())
    made = daemon.transport.paths()
    assert f"GET /v1/analytics?since={NOW.date().isoformat()}" in made
    assert f"GET /v1/analytics?since={NOW.date().replace(day=1).isoformat()}" in made
    assert "GET /v1/analytics" in made and "GET /v1/stats" in made and "GET /v1/traces?limit=12" in made


async def test_a_new_trace_appears_live_without_a_restart(daemon: Daemon) -> None:
    seed_trace(daemon, when=NOW - dt.timedelta(minutes=2))
    await daemon.flush()
    app = create_app(daemon.api, cwd=daemon.paths.data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await until(pilot, lambda: screen.data is not None, "dashboard loaded")
        await until(pilot, lambda: app.api and "GET /v1/events" in daemon.transport.paths(), "subscribed")
        await until(pilot, lambda: daemon.app.state.events.subscriber_count == 1, "subscriber registered")
        loads = screen.requests_made
        r = await daemon.http.post("/v1/tool-calls", json={"tool_name": "fs_read", "args": {"path": "a.py"}})
        new_id = r.json()["trace_id"]
        table = screen.query_one("#recent", DataTable)
        await until(pilot, lambda: any(new_id == str(k.value) for k in table.rows), "the live row")
        await until(pilot, lambda: screen.requests_made > loads, "the reload")
        await until(pilot, lambda: screen.data is not None and any(t["id"] == new_id for t in screen.data.traces),
                    "the reloaded list")  # fmt: skip
        assert cells(table)[0][1] == "mcp-tool"


async def test_every_screen_is_reachable_by_keys_and_palette(daemon: Daemon) -> None:
    app = create_app(daemon.api, cwd=daemon.paths.data_dir, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        for key, mode in (("f2", "analytics"), ("f3", "traces"), ("f4", "projects"), ("f5", "playground"),
                          ("f6", "history"), ("f7", "search"), ("f1", "dashboard")):  # fmt: skip
            await pilot.press(key)
            await until(pilot, lambda mode=mode: app.current_mode == mode, f"mode {mode}")
        await pilot.press("3")  # digits too, when no text box has focus
        await until(pilot, lambda: app.current_mode == "traces", "digit 3")
        await pilot.press("ctrl+p")
        await pilot.pause()
        for ch in "Go to History":
            await pilot.press("space" if ch == " " else ch)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: app.current_mode == "history", "palette → history")


async def test_traces_filter_and_viewer(daemon: Daemon) -> None:
    seed_trace(daemon, when=NOW - dt.timedelta(minutes=3))
    bad = seed_trace(daemon, when=NOW - dt.timedelta(minutes=2), status="error", cost=0.0,
                     tool_calls=[{"toolName": "git_diff", "args": {"ref": "HEAD~1", "paths": ["a.py"]}}])  # fmt: skip
    await daemon.flush()
    app = create_app(daemon.api, cwd=daemon.paths.data_dir, live=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        table = app.screen.query_one("#trace-list", DataTable)
        await until(pilot, lambda: table.row_count == 2, "two traces listed")
        app.screen.query_one("#status", Select).value = "error"
        await until(pilot, lambda: table.row_count == 1, "filtered to the error")
        assert "GET /v1/traces?limit=500&status=error" in daemon.transport.paths()
        table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TraceViewer) and app.screen.trace is not None, "viewer")
        viewer = app.screen
        assert str(viewer.query_one("#timeline", Static).render()).count("ms") == 2
        assert "escalated: L0 unavailable" in str(viewer.query_one("#timeline", Static).render())
        calls = cells(viewer.query_one("#calls", DataTable))
        assert calls == [["openai/gpt-4o-mini", "L1", "error", "100", "50", "$0.0000", "800 ms", "", "upstream 500"]]
        tree = viewer.query_one("#tools", Tree)
        labels = [str(n.label) for n in tree.root.children[0].children[0].children]
        assert labels == ['ref: "HEAD~1"', "paths: [1]"]
        assert f"GET /v1/traces/{bad}" in daemon.transport.paths()
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, TraceViewer), "back to the list")


async def test_analytics_range_picker_and_bad_range(daemon: Daemon) -> None:
    seed_month(daemon)
    await daemon.flush()
    app = create_app(daemon.api, cwd=daemon.paths.data_dir, live=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("f2")
        screen = app.screen
        await until(pilot, lambda: getattr(screen, "report", None) is not None, "report")
        models = cells(screen.query_one("#models", DataTable))
        assert [r[0] for r in models] == ["anthropic/claude-3-5-haiku", "openai/gpt-4o-mini", "openai/gpt-4o"]
        await pilot.click("#preset-90d")
        await until(pilot, lambda: "GET /v1/analytics?since=90d" in daemon.transport.paths(), "90 days asked")
        await until(pilot, lambda: len(cells(screen.query_one("#models", DataTable))) == 3
                    and screen.report["total_requests"] == 4, "90-day report")  # type: ignore[attr-defined]  # fmt: skip
        screen.query_one("#since", Input).value = "yesterday-ish"
        screen.query_one("#since", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: any("cannot read the time" in n.message for n in app._notifications), "error")
        assert app.is_running


async def test_projects_policy_is_validated_before_it_is_saved(daemon: Daemon, tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    app = create_app(daemon.api, cwd=repo / "src", live=False)
    policy = repo / "ai-mcp.config.json"
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f4")
        screen = app.screen
        editor = screen.query_one("#editor", TextArea)
        await until(pilot, lambda: '"name": "proj"' in editor.text, "template shown")
        editor.text = json.dumps({"routing": {"maxLayer": "L9"}})
        await pilot.press("ctrl+s")
        status = screen.query_one("#status", Static)
        await until(pilot, lambda: "not saved" in str(status.render()), "refused")
        assert "routing.maxLayer" in str(status.render()) and str(policy) in str(status.render())
        assert (not policy.exists() and list(repo.iterdir()) == [repo / ".git", repo / "src"]) or not policy.exists()
        editor.text = json.dumps({"name": "proj", "routing": {"maxLayer": "L2"}, "budgets": {"dailyUsd": 1.5}})
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "saved" in str(status.render()) and "not" not in str(status.render()), "saved")
        assert load_project_policy(policy).routing.max_layer == "L2"
        assert sorted(p.name for p in repo.iterdir()) == [".git", "ai-mcp.config.json", "src"]  # no temp left
        await until(pilot, lambda: "$1.5000" in str(screen.query_one("#budgets", Static).render()), "budget")


@pytest.fixture
def openai_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "OLLAMA_HOST"):
        monkeypatch.delenv(var, raising=False)
    with FakeOpenAI(api_key="sk-test") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        yield fake


async def test_playground_streams_two_models_side_by_side(paths: Paths, openai_fake: FakeOpenAI) -> None:
    openai_fake.answer_for("gpt-4o-mini", "small model answer here")
    openai_fake.answer_for("gpt-4o", "big model answer")
    paths.ensure()
    async with in_process_daemon(paths, load_settings(paths.config_file, environ={})) as d:
        app = create_app(d.api, cwd=paths.data_dir, live=False)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("f5")
            screen = app.screen
            models = screen.query_one("#model-list", SelectionList)
            await until(pilot, lambda: models.option_count > 0, "models listed")
            options = [models.get_option_at_index(i).value for i in range(models.option_count)]
            assert "openai/gpt-4o-mini" in options and "openai/gpt-4o" in options
            assert not any(str(o).startswith("mcpgw/") for o in options)
            assert len(models.selected) == 2  # two models ticked by default, so Enter just works
            models.deselect_all()
            models.select("openai/gpt-4o-mini")
            models.select("openai/gpt-4o")
            screen.query_one("#prompt", Input).value = "say hi"
            screen.query_one("#prompt", Input).focus()
            await pilot.press("enter")
            table = screen.query_one("#compare", DataTable)
            await until(pilot, lambda: table.row_count == 2 and all(r[1] == "ok" for r in cells(table)), "both done")
            panes = {p.border_title: p for p in screen.query(ModelPane)}
            assert panes["openai/gpt-4o-mini"].text == "small model answer here"
            assert panes["openai/gpt-4o"].text == "big model answer"
            assert "tok" in str(panes["openai/gpt-4o"].query_one(".figures", Label).render())
            rows = {r[0]: r for r in cells(table)}
            assert rows["openai/gpt-4o-mini"][6].startswith("$") and rows["openai/gpt-4o"][7] != "-"
        assert d.transport.paths().count("POST /v1/chat") == 2
        bodies = [r.body for r in openai_fake.requests if r.path.endswith("/chat/completions")]
        assert sorted(b["model"] for b in bodies) == ["gpt-4o", "gpt-4o-mini"] and all(b["stream"] for b in bodies)


async def test_history_replay_is_a_dry_run_until_confirmed(daemon: Daemon, tmp_path: Path) -> None:
    r = await daemon.http.post("/v1/history", json={"command": "daemon", "args": ["--help"], "cwd": str(tmp_path)})
    entry_id = r.json()["id"]
    await daemon.http.post("/v1/history", json={"command": "chat", "args": ["hi"], "success": False})
    app = create_app(daemon.api, cwd=tmp_path, live=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        screen = app.screen
        table = screen.query_one("#history", DataTable)
        await until(pilot, lambda: table.row_count == 2, "two entries")
        screen.query_one("#failed").value = True  # type: ignore[attr-defined]
        await until(pilot, lambda: table.row_count == 1, "failed only")
        assert "GET /v1/history?last=200&failed=true" in daemon.transport.paths()
        screen.query_one("#failed").value = False  # type: ignore[attr-defined]
        await until(pilot, lambda: table.row_count == 2, "all again")
        table.move_cursor(row=[r[0] for r in cells(table)].index(entry_id))
        table.focus()
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ReplayConfirm), "dry run shown")
        plan = str(app.screen.query_one("#plan", Static).render())
        assert "Would run: mcpgw daemon --help" in plan and str(tmp_path) in plan
        await pilot.press("n")
        log = screen.query_one("#replay-log", RichLog)
        await until(pilot, lambda: any("replay cancelled" in str(line.text) for line in log.lines), "cancelled")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ReplayConfirm), "dry run again")
        await pilot.press("y")
        await until(pilot, lambda: any("exit code 0" in line.text for line in log.lines), "replayed", tries=1500)
        assert any("daemon" in line.text and "Usage" in line.text for line in log.lines) or any(
            "Usage" in line.text for line in log.lines
        )


async def test_unreachable_daemon_shows_a_banner_and_recovers(daemon: Daemon) -> None:
    class Switch(httpx.AsyncBaseTransport):
        """The daemon's transport, or a refused connection while ``down``."""

        def __init__(self, inner: StreamingASGITransport) -> None:
            self.inner, self.down = inner, True

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if self.down:
                raise httpx.ConnectError("connection refused", request=request)
            return await self.inner.handle_async_request(request)

    switch = Switch(daemon.transport)
    api = TuiApi(AsyncDaemonClient(daemon.paths, transport=switch))
    app = McpgwApp(api, cwd=daemon.paths.data_dir, retry_base_s=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        banner = app.screen.query_one(ConnectionBanner)
        await until(pilot, lambda: banner.has_class("-down"), "banner shown")
        await until(pilot, lambda: "retrying in" in str(banner.render()), "the retry announced")
        assert "daemon unreachable" in str(banner.render())
        assert app.is_running
        seed_trace(daemon, when=NOW)
        await daemon.flush()
        switch.down = False
        await until(pilot, lambda: not banner.has_class("-down"), "banner gone", tries=500)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await until(pilot, lambda: screen.data is not None and len(screen.data.traces) == 1, "reloaded")


def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch, paths: Paths) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = create_app(TuiApi.for_paths(paths), cwd=paths.data_dir, live=False)
    assert app.no_color


def test_cli_imports_textual_only_inside_the_tui_command() -> None:
    import subprocess

    code = "import sys, mcpgw.cli.app; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
