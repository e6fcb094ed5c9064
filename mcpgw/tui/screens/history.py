"""History: browse and filter the commands you ran; replay one — a dry run first (the command, its
directory, input files changed since), then, after you confirm, the real run with its output below.

The replay rules are ``mcpgw replay``'s (:mod:`mcpgw.cli.history`), reused, not re-implemented."""

from __future__ import annotations

import asyncio
import shlex
import sys
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Input, RichLog, Static

from mcpgw.cli.history import command_line, file_changes, replay_argv
from mcpgw.tui.messages import HistoryLoaded, ReplayOutput, ReplayPlanned
from mcpgw.tui.screens.base import BaseScreen
from mcpgw.tui.widgets.fmt import local_time, millis

COLUMNS = ("id", "time", "command", "mode", "cost", "duration", "ok")


def cost_text(cost: float) -> str:
    if not cost:
        return "-"
    return f"${cost:.3f}" if cost >= 0.001 else f"${cost:.6f}"


class ReplayConfirm(ModalScreen[bool]):
    """The dry run, shown before anything runs: Replay (y) or Cancel (n / escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Replay"),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]
    DEFAULT_CSS = """
    ReplayConfirm { align: center middle; }
    ReplayConfirm > Vertical { width: 80%; max-width: 100; height: auto; border: thick $primary; background: $surface;
                               padding: 1 2; }
    ReplayConfirm #plan { height: auto; }
    ReplayConfirm #buttons { height: auto; margin-top: 1; align-horizontal: right; }
    ReplayConfirm Button { margin-left: 2; }
    """

    def __init__(self, plan: ReplayPlanned) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("Dry run — nothing has run yet.\n\n", style="bold")
        text.append("Would run: ", style="dim")
        text.append(f"{self.plan.command}\n")
        text.append("       in: ", style="dim")
        text.append(f"{self.plan.cwd}\n")
        if self.plan.changes:
            text.append(
                f"\n! {len(self.plan.changes)} input file(s) changed since the original run:\n", style="bold yellow"
            )
            for path, what in self.plan.changes:
                text.append(f"  - {path} ({what})\n")
            text.append("Replaying uses the files as they are now.\n")
        with Vertical():
            yield Static(text, id="plan")
            with Horizontal(id="buttons"):
                yield Button("Cancel (n)", id="cancel")
                yield Button("Replay (y)", id="replay", variant="warning")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "replay")


class HistoryScreen(BaseScreen):
    CSS_PATH = "history.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Filter"),
        Binding("r", "replay", "Replay"),
    ]

    entries: reactive[list[dict[str, Any]]] = reactive(list, init=False, always_update=True)

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="filters"):
            yield Input(placeholder="search text", id="search")
            yield Input(placeholder="mode (chat, diff…)", id="mode")
            yield Checkbox("failed only", id="failed", compact=True)
        with Vertical(id="main"):
            table: DataTable[str] = DataTable(id="history", cursor_type="row", zebra_stripes=True)
            table.border_title = "Commands (newest first) — r replays"
            yield table
            log = RichLog(id="replay-log", wrap=True, markup=False)
            log.border_title = "Replay output"
            yield log

    def on_mount(self) -> None:
        self.query_one("#history", DataTable).add_columns(*COLUMNS)

    def reload(self) -> None:
        search = self.query_one("#search", Input).value.strip() or None
        mode = self.query_one("#mode", Input).value.strip() or None
        failed = self.query_one("#failed", Checkbox).value
        self.load(lambda: self._fetch(search, mode, failed), "history")

    async def _fetch(self, search: str | None, mode: str | None, failed: bool) -> None:
        self.post_message(HistoryLoaded(await self.api.history(search=search, mode=mode, failed=failed)))

    @on(HistoryLoaded)
    def _loaded(self, message: HistoryLoaded) -> None:
        self.entries = message.entries

    def watch_entries(self, entries: list[dict[str, Any]]) -> None:
        table = self.query_one("#history", DataTable)
        table.clear()
        for e in entries:
            table.add_row(
                e["id"], local_time(e["timestamp"]), command_line(e), e.get("mode") or "-",
                cost_text(float(e.get("cost") or 0)), millis(e.get("duration_ms")), "✓" if e["success"] else "✗",
                key=e["id"],
            )  # fmt: skip

    @on(Input.Submitted, "#filters Input")
    @on(Checkbox.Changed, "#failed")
    def _filter(self) -> None:
        self.reload()

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    @on(DataTable.RowSelected, "#history")
    def _selected(self) -> None:
        self.action_replay()

    def action_replay(self) -> None:
        table = self.query_one("#history", DataTable)
        if not table.row_count:
            return
        ref = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if ref:
            self.load(lambda: self._plan(ref), "replay-plan")

    async def _plan(self, ref: str) -> None:
        """The dry run: fetch the entry, compare its input files with the disk (off the event loop)."""
        entry = await self.api.history_entry(ref)
        changes = await asyncio.to_thread(file_changes, entry)
        command = "mcpgw " + shlex.join(replay_argv(entry))
        self.post_message(ReplayPlanned(entry, command, str(entry.get("cwd") or Path.cwd()), changes))

    @on(ReplayPlanned)
    def _planned(self, plan: ReplayPlanned) -> None:
        log = self.query_one("#replay-log", RichLog)
        log.write(f"dry run {plan.entry['id']}: {plan.command}  (in {plan.cwd})")

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self._start_replay(plan)
            else:
                log.write("replay cancelled")

        self.app.push_screen(ReplayConfirm(plan), decided)

    def _start_replay(self, plan: ReplayPlanned) -> None:
        cwd = Path(plan.cwd)
        if not cwd.is_dir():
            self.notify(f"the original directory {cwd} no longer exists", severity="error")
            return
        self.run_worker(self._replay(replay_argv(plan.entry), cwd), name="replay", group="replay",
                        exclusive=True, exit_on_error=False)  # fmt: skip

    async def _replay(self, argv: list[str], cwd: Path) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mcpgw", *argv, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        assert proc.stdout is not None
        self.post_message(ReplayOutput(f"$ mcpgw {shlex.join(argv)}"))
        try:
            async for raw in proc.stdout:
                self.post_message(ReplayOutput(raw.decode(errors="replace").rstrip("\n")))
            code = await proc.wait()
        finally:
            if proc.returncode is None:  # the worker was cancelled (screen closed, app quit)
                proc.kill()
                await proc.wait()
        self.post_message(ReplayOutput(f"exit code {code}", done=True, code=code))

    @on(ReplayOutput)
    def _output(self, message: ReplayOutput) -> None:
        self.query_one("#replay-log", RichLog).write(message.line)
        if message.done:
            self.reload()
