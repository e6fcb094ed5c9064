"""Analytics over a date range: cost by layer and by model (bars), cost and tokens per day (lines), a
table of models. The range picker takes what ``mcpgw analytics --since/--until`` takes."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Button, DataTable, Input, Static

from mcpgw.tui.messages import AnalyticsLoaded
from mcpgw.tui.screens.base import BaseScreen
from mcpgw.tui.widgets.charts import BarChart, DayChart
from mcpgw.tui.widgets.fmt import count, money

PRESETS = (("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"))
MODEL_COLUMNS = ("model", "requests", "errors", "tokens in", "tokens out", "cost", "share", "avg ms")


def ranked(group: dict[str, dict[str, Any]], limit: int = 8) -> tuple[tuple[str, float], ...]:
    """The ``limit`` most expensive entries of a breakdown, most expensive at the top of the chart."""
    items = sorted(group.items(), key=lambda kv: -kv[1]["cost"])[:limit]
    return tuple((name, m["cost"]) for name, m in reversed(items))


class AnalyticsScreen(BaseScreen):
    CSS_PATH = "analytics.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("slash", "focus_range", "Range")]

    report: reactive[dict[str, Any] | None] = reactive(None, init=False)

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="range"):
            yield Input(placeholder="since (30d, 2026-01-01)", id="since")
            yield Input(placeholder="until (now)", id="until")
            for value, label in PRESETS:
                yield Button(label, id=f"preset-{value}", compact=True)
        yield Static("…", id="totals")
        with VerticalScroll(id="body"):
            with Horizontal(id="bars"):
                yield BarChart("Cost by layer", id="by-layer")
                yield BarChart("Cost by model", id="by-model")
            yield DayChart("Cost ($, left) and tokens (right) per day", id="per-day")
            table: DataTable[str] = DataTable(id="models", cursor_type="row", zebra_stripes=True)
            table.border_title = "Models"
            yield table

    def on_mount(self) -> None:
        self.query_one("#models", DataTable).add_columns(*MODEL_COLUMNS)

    def reload(self) -> None:
        since = self.query_one("#since", Input).value.strip() or None
        until = self.query_one("#until", Input).value.strip() or None
        self.load(lambda: self._fetch(since, until), "analytics")

    async def _fetch(self, since: str | None, until: str | None) -> None:
        self.post_message(AnalyticsLoaded(await self.api.analytics(since, until)))

    @on(AnalyticsLoaded)
    def _loaded(self, message: AnalyticsLoaded) -> None:
        self.report = message.report

    @on(Input.Submitted, "#range Input")
    def _range_submitted(self) -> None:
        self.reload()

    @on(Button.Pressed, "#range Button")
    def _preset(self, event: Button.Pressed) -> None:
        self.query_one("#since", Input).value = (event.button.id or "").removeprefix("preset-")
        self.query_one("#until", Input).value = ""
        self.reload()

    def action_focus_range(self) -> None:
        self.query_one("#since", Input).focus()

    def watch_report(self, report: dict[str, Any] | None) -> None:
        if report is None:
            return
        tr, tokens = report["time_range"], report["total_tokens"]
        self.query_one("#totals", Static).update(
            f"{tr['start'][:16].replace('T', ' ')} → {tr['end'][:16].replace('T', ' ')} UTC   "
            f"requests {count(report['total_requests'])}   errors {count(report['total_errors'])} "
            f"({report['error_rate']:.1%})   tokens {count(tokens['input'])} in / {count(tokens['output'])} out   "
            f"cost {money(report['total_cost'])}"
        )
        breakdown = report["breakdown"]
        self.query_one("#by-layer", BarChart).bars = ranked(breakdown["by_layer"])
        self.query_one("#by-model", BarChart).bars = ranked(breakdown["by_model"])
        days = breakdown["by_day"]
        self.query_one("#per-day", DayChart).set_data(
            [d["date"] for d in days],
            [("cost $", [d["cost"] for d in days]), ("tokens", [float(d["tokens"]) for d in days])],
        )
        table = self.query_one("#models", DataTable)
        table.clear()
        total = report["total_cost"] or 1.0
        for name, m in sorted(breakdown["by_model"].items(), key=lambda kv: -kv[1]["cost"]):
            table.add_row(
                name, count(m["requests"]), count(m["errors"]), count(m["input_tokens"]), count(m["output_tokens"]),
                money(m["cost"]), f"{m['cost'] / total:.0%}", f"{m['avg_duration_ms']:.0f}", key=name,
            )  # fmt: skip
