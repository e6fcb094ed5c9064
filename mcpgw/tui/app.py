"""The mcpgw TUI: one Textual app, a mode per screen (dashboard, analytics, traces, projects, playground,
history, search), switched by number keys or the command palette.

:func:`create_app` is the one factory the ``mcpgw tui`` command and the tests share. The app owns the
live connection: a worker follows ``GET /v1/events`` and posts :class:`~mcpgw.tui.messages.DaemonEvent`
and :class:`~mcpgw.tui.messages.DaemonStatus` messages; when the daemon is unreachable every screen shows a
banner and the worker retries with backoff, and when it is back every screen reloads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import httpx
from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen

from mcpgw import errors
from mcpgw.tui.api import TuiApi
from mcpgw.tui.messages import DaemonEvent, DaemonStatus
from mcpgw.tui.screens.analytics import AnalyticsScreen
from mcpgw.tui.screens.base import BaseScreen
from mcpgw.tui.screens.dashboard import DashboardScreen
from mcpgw.tui.screens.history import HistoryScreen
from mcpgw.tui.screens.playground import PlaygroundScreen
from mcpgw.tui.screens.projects import ProjectsScreen
from mcpgw.tui.screens.search import SearchScreen
from mcpgw.tui.screens.traces import TracesScreen

# (mode name, title, key): the order of the number keys and of the palette's "Go to" commands.
SCREENS: tuple[tuple[str, str, str], ...] = (
    ("dashboard", "Dashboard", "1"),
    ("analytics", "Analytics", "2"),
    ("traces", "Traces", "3"),
    ("projects", "Projects", "4"),
    ("playground", "Playground", "5"),
    ("history", "History", "6"),
    ("search", "Search", "7"),
)
RETRY_MAX_S = 10.0


class McpgwApp(App[None]):
    """The TUI. ``daemon_error`` is None while the daemon answers, else the reason it does not."""

    TITLE = "mcpgw"
    CSS_PATH = "app.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012 - typed by App as a ClassVar
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]  # noqa: RUF012 - typed by App as a ClassVar
    MODES: ClassVar[dict[str, type[Screen[None]]]] = {  # type: ignore[assignment]
        "dashboard": DashboardScreen,
        "analytics": AnalyticsScreen,
        "traces": TracesScreen,
        "projects": ProjectsScreen,
        "playground": PlaygroundScreen,
        "history": HistoryScreen,
        "search": SearchScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        # F-keys work everywhere (priority: even in a text box); digits when no text box has focus.
        *(Binding(f"f{key}", f"app.switch_mode('{mode}')", title, priority=True) for mode, title, key in SCREENS),
        *(Binding(key, f"app.switch_mode('{mode}')", title, show=False) for mode, title, key in SCREENS),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    daemon_error: reactive[str | None] = reactive(None)

    def __init__(self, api: TuiApi, *, cwd: Path, live: bool = True, retry_base_s: float = 0.5) -> None:
        super().__init__()
        self.api = api
        self.cwd = cwd
        self.live = live
        self.retry_base_s = retry_base_s
        self.live_screens: set[BaseScreen] = set()

    def on_mount(self) -> None:
        self.switch_mode("dashboard")
        if self.live:
            self.run_worker(self._follow_events(), name="events", group="events", exclusive=True)

    async def on_unmount(self) -> None:
        await self.api.aclose()

    async def _follow_events(self) -> None:
        """Follow the daemon's event stream forever; on a break, report it and retry with backoff."""
        delay = self.retry_base_s
        while True:
            try:
                async for event in self.api.events():
                    if self.daemon_error is not None:
                        self.post_message(DaemonStatus(None))
                    delay = self.retry_base_s
                    if event.event == "shutdown":
                        raise errors.DaemonError("the daemon is shutting down")
                    if event.event != "connected":
                        self.post_message(DaemonEvent(event.event, event.data))
                reason = "the daemon closed the event stream"
            except errors.DaemonError as exc:
                reason = f"daemon unreachable: {exc.message}"
            except errors.MCPGWError as exc:
                reason = f"the event stream failed: {exc.message}"
            except httpx.HTTPError as exc:
                reason = f"the connection to the daemon broke ({type(exc).__name__})"
            self.post_message(DaemonStatus(reason, retry_in=delay))
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    @on(DaemonStatus)
    def _daemon_status(self, message: DaemonStatus) -> None:
        was_down = self.daemon_error is not None
        if message.error is None:
            self.daemon_error = None
            if was_down:
                for screen in list(self.live_screens):
                    screen.reload()
        else:
            retry = f" — retrying in {message.retry_in:g} s" if message.retry_in else ""
            self.daemon_error = f"{message.error}{retry}"

    @on(DaemonEvent)
    def _daemon_event(self, message: DaemonEvent) -> None:
        for screen in list(self.live_screens):
            screen.post_message(DaemonEvent(message.event, message.data))

    def action_reload(self) -> None:
        if isinstance(self.screen, BaseScreen):
            self.screen.reload()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for mode, title, key in SCREENS:
            yield SystemCommand(
                f"Go to {title}",
                f"Show the {title.lower()} screen (F{key} or {key})",
                lambda mode=mode: self.switch_mode(mode),
            )
        yield SystemCommand("Reload", "Fetch this screen's data again (ctrl+r)", self.action_reload)
        yield from super().get_system_commands(screen)


def create_app(api: TuiApi, *, cwd: Path | None = None, live: bool = True) -> McpgwApp:
    """The TUI app over ``api`` (project and search screens work on the git root of ``cwd``)."""
    return McpgwApp(api, cwd=(cwd or Path.cwd()).resolve(), live=live)
