"""What every screen shares: header, the connection banner, the footer with its keys, guarded loads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header
from textual.worker import Worker, WorkerState

from mcpgw import errors
from mcpgw.tui.messages import DaemonStatus, LoadFailed
from mcpgw.tui.widgets.banner import ConnectionBanner

if TYPE_CHECKING:
    from mcpgw.tui.api import TuiApi
    from mcpgw.tui.app import McpgwApp


class BaseScreen(Screen[None]):
    """A top-level screen (one app mode). Subclasses write ``compose_body`` and ``reload``."""

    AUTO_FOCUS = "DataTable, TextArea, SelectionList"

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield ConnectionBanner()
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError

    @property
    def mcpgw(self) -> McpgwApp:
        from mcpgw.tui.app import McpgwApp

        app = self.app
        assert isinstance(app, McpgwApp)
        return app

    @property
    def api(self) -> TuiApi:
        return self.mcpgw.api

    def on_mount(self) -> None:
        self.mcpgw.live_screens.add(self)
        self.watch(self.mcpgw, "daemon_error", self._show_banner)
        self.reload()

    def on_unmount(self) -> None:
        self.mcpgw.live_screens.discard(self)

    def _show_banner(self, error: str | None) -> None:
        self.query_one(ConnectionBanner).error = error

    def reload(self) -> None:
        """Fetch this screen's data again (on mount, on ctrl+r, when the daemon is back)."""

    def load(self, job: Callable[[], Awaitable[None]], name: str) -> None:
        """Run ``job()`` as this screen's exclusive worker ``name``, translating expected failures.

        ``job`` is a factory, not a coroutine: a run replaced before it starts then leaves nothing unawaited.
        """

        async def guarded() -> None:
            await self._guarded(job, name)

        self.run_worker(cast(Any, guarded), name=name, group=name, exclusive=True, exit_on_error=False)

    async def _guarded(self, job: Callable[[], Awaitable[None]], name: str) -> None:
        try:
            await job()
        except errors.DaemonError as exc:
            if self.mcpgw.daemon_error is None:  # the event worker's message (with its retry) wins
                self.mcpgw.post_message(DaemonStatus(f"daemon unreachable: {exc.message}"))
            return
        except errors.MCPGWError as exc:
            self.post_message(LoadFailed(name, exc.message, exc.fix))
            return
        if self.mcpgw.daemon_error is not None:
            self.mcpgw.post_message(DaemonStatus(None))

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        fix = f"\nFix: {message.fix}" if message.fix else ""
        self.notify(f"{message.message}{fix}", title=message.what, severity="error", timeout=8)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(f"{type(error).__name__}: {error}", title=f"{event.worker.name} failed", severity="error")
