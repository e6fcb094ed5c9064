"""Stat cards: a label, a big value and a small line under it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label


class StatCard(Widget):
    """One figure on the dashboard. Set ``value`` and ``note``; the card re-renders itself."""

    DEFAULT_CSS = """
    StatCard {
        height: 2;
        padding: 0 1;
        background: $boost;
    }
    StatCard > .label { color: $text-muted; width: 1fr; text-overflow: ellipsis; text-wrap: nowrap; }
    StatCard > .value { text-style: bold; width: 1fr; }
    StatCard > .note { color: $text-muted; width: 1fr; text-overflow: ellipsis; text-wrap: nowrap; display: none; }
    """

    value: reactive[str] = reactive("…")
    note: reactive[str] = reactive("")

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.border_title = None

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="label")
        yield Label(self.value, classes="value")
        yield Label(self.note, classes="note")

    def on_mount(self) -> None:
        self.watch_value(self.value)
        self.watch_note(self.note)

    def watch_value(self, value: str) -> None:
        for label in self.query(".value").results(Label):
            label.update(value)

    def watch_note(self, note: str) -> None:
        for label in self.query(".note").results(Label):
            label.update(note)
