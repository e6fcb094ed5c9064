"""Playground: one prompt to up to four configured models at once, streamed side by side, then a
comparison table (time to first token, total time, tokens, cost). Every run goes through the gateway
(``POST /v1/chat`` with ``stream``, cache off), so it is traced and counted like any other request."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Label, SelectionList, Static

from mcpgw import errors
from mcpgw.tui.messages import ModelsLoaded, PlaygroundChunk, PlaygroundDone
from mcpgw.tui.screens.base import BaseScreen
from mcpgw.tui.widgets.fmt import count, millis, money

MAX_MODELS = 4
COMPARE_COLUMNS = ("model", "status", "first token", "total", "tokens in", "tokens out", "cost", "layer")


@dataclass
class Run:
    """One model's run: what streamed in and how it ended."""

    model: str
    started: float
    text: str = ""
    first_token_ms: float | None = None
    envelope: dict[str, Any] | None = None
    error: str | None = None
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class ModelPane(Widget):
    """One model's answer as it streams, with its figures underneath."""

    DEFAULT_CSS = """
    ModelPane { border: round $primary 50%; height: 1fr; }
    ModelPane > VerticalScroll { height: 1fr; }
    ModelPane > .figures { height: 1; color: $text-muted; }
    ModelPane.-error { border: round $error; }
    """

    text: reactive[str] = reactive("")
    figures: reactive[str] = reactive("waiting…")

    def __init__(self, model: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = model

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("", classes="answer")
        yield Label(self.figures, classes="figures")

    def on_mount(self) -> None:
        self.watch_text(self.text)
        self.watch_figures(self.figures)

    def watch_text(self, text: str) -> None:
        for answer in self.query(".answer").results(Static):
            answer.update(text)
        for scroll in self.query(VerticalScroll):
            scroll.scroll_end(animate=False)

    def watch_figures(self, figures: str) -> None:
        for label in self.query(".figures").results(Label):
            label.update(figures)


class PlaygroundScreen(BaseScreen):
    CSS_PATH = "playground.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+g", "run", "Run"),
        Binding("slash", "focus_prompt", "Prompt"),
    ]

    models: reactive[list[str]] = reactive(list, init=False)

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[Run] = []
        self.generation = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="prompt-row"):
            yield Input(placeholder="Prompt — Enter runs it on the selected models", id="prompt")
            yield Button("Run", id="run", variant="primary", compact=True)
        with Horizontal(id="work"):
            with Vertical(id="model-box"):
                yield Label(f"Models (up to {MAX_MODELS})", classes="box-title")
                yield SelectionList[str](id="model-list")
            with Vertical(id="output"):
                yield Grid(id="panes")
                table: DataTable[str] = DataTable(id="compare", cursor_type="row")
                table.border_title = "Comparison"
                yield table

    def on_mount(self) -> None:
        self.query_one("#compare", DataTable).add_columns(*COMPARE_COLUMNS)

    def reload(self) -> None:
        self.load(self._fetch_models, "models")

    async def _fetch_models(self) -> None:
        self.post_message(ModelsLoaded(await self.api.models()))

    @on(ModelsLoaded)
    def _models_loaded(self, message: ModelsLoaded) -> None:
        self.models = message.models

    def watch_models(self, models: list[str]) -> None:
        selection = self.query_one("#model-list", SelectionList)
        chosen = set(selection.selected) or set(models[:2])  # start with two models ticked: Enter just works
        selection.clear_options()
        selection.add_options([(m, m, m in chosen) for m in models])
        if not models:
            self.notify("no models configured: set a provider key (OPENAI_API_KEY, …)", severity="warning")

    @on(SelectionList.SelectedChanged, "#model-list")
    def _limit(self, event: SelectionList.SelectedChanged[str]) -> None:
        selected = event.selection_list.selected
        if len(selected) > MAX_MODELS:
            event.selection_list.deselect(selected[-1])
            self.notify(f"at most {MAX_MODELS} models side by side", severity="warning")

    def action_focus_prompt(self) -> None:
        self.query_one("#prompt", Input).focus()

    @on(Input.Submitted, "#prompt")
    @on(Button.Pressed, "#run")
    def _run_pressed(self) -> None:
        self.action_run()

    def action_run(self) -> None:
        prompt = self.query_one("#prompt", Input).value.strip()
        chosen = list(self.query_one("#model-list", SelectionList).selected)[:MAX_MODELS]
        if not prompt:
            self.notify("type a prompt first", severity="warning")
            return
        if not chosen:
            self.notify("select at least one model (space toggles)", severity="warning")
            return
        self.start(prompt, chosen)

    def start(self, prompt: str, models: list[str]) -> None:
        """Start one streaming worker per model; earlier runs are cancelled."""
        self.generation += 1
        self.workers.cancel_group(self, "playground")
        now = time.monotonic()
        self.runs = [Run(model=m, started=now) for m in models]
        panes = self.query_one("#panes", Grid)
        panes.remove_children()
        panes.set_class(len(models) > 1, "-multi")
        panes.mount_all(ModelPane(m, id=f"pane-{i}") for i, m in enumerate(models))
        self._refresh_table()
        for index, model in enumerate(models):
            self.run_worker(self._stream(self.generation, index, model, prompt), group="playground",
                            name=f"playground-{index}", exit_on_error=False)  # fmt: skip

    async def _stream(self, generation: int, index: int, model: str, prompt: str) -> None:
        try:
            async for item in self.api.chat_stream(model, prompt):
                if generation != self.generation:
                    return
                if item.kind == "chunk":
                    self.post_message(PlaygroundChunk(index, item.text))
                elif item.kind == "result":
                    self.post_message(PlaygroundDone(index, item.envelope, None))
                    return
                else:
                    self.post_message(PlaygroundDone(index, None, str(item.problem.get("detail") or item.problem)))
                    return
            self.post_message(PlaygroundDone(index, None, "the stream ended without a result"))
        except errors.MCPGWError as exc:
            self.post_message(PlaygroundDone(index, None, exc.message))

    def pane(self, index: int) -> ModelPane:
        return self.query_one(f"#pane-{index}", ModelPane)

    @on(PlaygroundChunk)
    def _chunk(self, message: PlaygroundChunk) -> None:
        if message.index >= len(self.runs):
            return
        run = self.runs[message.index]
        if run.first_token_ms is None:
            run.first_token_ms = (time.monotonic() - run.started) * 1000
        run.text += message.text
        pane = self.pane(message.index)
        pane.text = run.text
        pane.figures = f"streaming… first token {millis(run.first_token_ms)}"

    @on(PlaygroundDone)
    def _done(self, message: PlaygroundDone) -> None:
        if message.index >= len(self.runs):
            return
        run = self.runs[message.index]
        run.done, run.envelope, run.error = True, message.envelope, message.error
        pane = self.pane(message.index)
        if message.envelope is not None:
            perf = message.envelope.get("performance", {})
            if not run.text:
                run.text = str(message.envelope.get("result") or "")
                pane.text = run.text
            pane.figures = (f"{money(perf.get('cost_usd'))} · {millis(perf.get('duration_ms'))} · "
                            f"{count(perf.get('input_tokens'))}→{count(perf.get('output_tokens'))} tok")  # fmt: skip
        else:
            pane.add_class("-error")
            pane.text = f"✗ {message.error}"
            pane.figures = "failed"
        self._refresh_table()

    def _refresh_table(self) -> None:
        table = self.query_one("#compare", DataTable)
        table.clear()
        for run in self.runs:
            perf = (run.envelope or {}).get("performance", {})
            routing = (run.envelope or {}).get("routing", {})
            status = "error" if run.error else ("ok" if run.done else "running")
            table.add_row(
                run.model, status, millis(run.first_token_ms), millis(perf.get("duration_ms")) if perf else "-",
                count(perf.get("input_tokens")) if perf else "-", count(perf.get("output_tokens")) if perf else "-",
                money(perf.get("cost_usd")) if perf else "-", routing.get("layer") or "-",
            )  # fmt: skip
