"""The banner every screen shows while the daemon cannot be reached."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


class ConnectionBanner(Static):
    """Hidden while ``error`` is None; otherwise one line saying what is wrong and that we retry."""

    DEFAULT_CSS = """
    ConnectionBanner {
        height: auto;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
        display: none;
    }
    ConnectionBanner.-down { display: block; }
    """

    error: reactive[str | None] = reactive(None)

    def watch_error(self, error: str | None) -> None:
        self.set_class(error is not None, "-down")
        if error is not None:
            self.update(f"⚠ {error}")
