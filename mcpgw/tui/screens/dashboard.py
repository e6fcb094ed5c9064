"""Dashboard: today's figures, budget, provider status, the 30-day cost chart and the latest traces,
kept current by the daemon's event stream (a new trace shows at once and reloads the figures)."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from mcpgw.tui.api import DashboardData
from mcpgw.tui.messages import DaemonEvent, DashboardLoaded
from mcpgw.tui.screens.base import BaseScreen
from mcpgw.tui.widgets.cards import StatCard
from mcpgw.tui.widgets.charts import DayChart
from mcpgw.tui.widgets.fmt import count, local_time, millis, models_of, money, percent

RECENT = 12
TRACE_COLUMNS = ("time", "type", "model", "layer", "status", "cost", "duration")


def budget_card(budget: dict[str, Any]) -> tuple[str, str]:
    """(value, note) for the budget card from ``/v1/stats`` budgets.global."""
    daily, monthly = budget.get("daily_remaining_usd"), budget.get("monthly_remaining_usd")
    if daily is None and monthly is None:
        return "no limit", f"spent {money(budget.get('spent_month_usd'))} this month"
    if daily is not None:
        return money(daily) + " today", f"of {money(budget.get('daily_usd'))} a day"
    return money(monthly) + " month", f"of {money(budget.get('monthly_usd'))} a month"


def trace_cells(trace: dict[str, Any]) -> tuple[str, ...]:
    return (
        local_time(trace.get("created_at")) if trace.get("created_at") else dt.datetime.now().strftime("%H:%M:%S"),
        str(trace.get("request_type") or "-"),
        models_of(trace),
        str(trace.get("layer") or "-"),
        str(trace.get("status") or "-") + (" (cache)" if trace.get("from_cache") else ""),
        money(trace.get("total_cost")),
        millis(trace.get("total_duration_ms")),
    )


class DashboardScreen(BaseScreen):
    CSS_PATH = "dashboard.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "open_trace", "Open trace", show=False)]

    data: reactive[DashboardData | None] = reactive(None, init=False)
    recent: reactive[list[dict[str, Any]]] = reactive(list, init=False, always_update=True)

    def __init__(self) -> None:
        super().__init__()
        self.requests_made = 0

    def compose_body(self) -> ComposeResult:
        with Grid(id="cards"):
            yield StatCard("Requests today", id="card-requests")
            yield StatCard("Cost today", id="card-cost-today")
            yield StatCard("Cost this month", id="card-cost-month")
            yield StatCard("Avg latency today", id="card-latency")
            yield StatCard("Cache hits today", id="card-cache")
            yield StatCard("Budget left", id="card-budget")
        with Horizontal(id="middle"):
            yield DayChart("Cost per day (30 days)", bars=True, id="cost-chart")
            with Vertical(id="providers-box"):
                yield Static("Providers", classes="box-title")
                yield Static("…", id="providers")
        table: DataTable[str] = DataTable(id="recent", cursor_type="row", zebra_stripes=True)
        table.border_title = "Recent traces"
        yield table

    def reload(self) -> None:
        self.load(self._fetch, "dashboard")

    async def _fetch(self) -> None:
        self.requests_made += 1
        self.post_message(DashboardLoaded(await self.api.dashboard(recent=RECENT)))

    @on(DashboardLoaded)
    def _loaded(self, message: DashboardLoaded) -> None:
        self.data = message.data

    @on(DaemonEvent)
    def _event(self, message: DaemonEvent) -> None:
        if message.event != "trace":
            return
        if not any(t.get("id") == message.data.get("id") for t in self.recent):
            self.recent = [message.data, *self.recent][:RECENT]
        self.reload()  # exclusive: a burst of events cancels the older reloads, the last one lands

    def watch_data(self, data: DashboardData | None) -> None:
        if data is None:
            return
        today, month, last30 = data.today, data.month, data.last30
        self.card("requests").value = count(today["total_requests"])
        self.card("requests").note = f"{count(today['total_errors'])} errors"
        self.card("cost-today").value = money(today["total_cost"])
        tokens = today["total_tokens"]
        self.card("cost-today").note = f"{count(tokens['total'])} tokens"
        self.card("cost-month").value = money(month["total_cost"])
        self.card("cost-month").note = f"{count(month['total_requests'])} requests"
        self.card("latency").value = millis(today["avg_duration_ms"]) if today["total_requests"] else "-"
        self.card("latency").note = "per LLM call"
        rate = today["cached_requests"] / today["total_requests"] if today["total_requests"] else None
        self.card("cache").value = percent(rate)
        cache = data.stats.get("cache", {})
        self.card("cache").note = f"{money(cache.get('saved_usd'))} saved"
        value, note = budget_card(data.stats.get("budgets", {}).get("global", {}))
        self.card("budget").value = value
        self.card("budget").note = note
        chart = self.query_one("#cost-chart", DayChart)
        days = last30["breakdown"]["by_day"]
        chart.chart_title = (
            f"Cost per day, 30 days: {money(last30['total_cost'])} · {count(last30['total_requests'])} req"
        )
        chart.set_data([d["date"] for d in days], [("cost $", [d["cost"] for d in days])])
        self.query_one("#providers", Static).update(provider_lines(data.stats))
        self.recent = list(data.traces)

    def watch_recent(self, recent: list[dict[str, Any]]) -> None:
        table = self.query_one("#recent", DataTable)
        row = table.cursor_row
        rows = [(str(trace.get("id")), trace_cells(trace)) for trace in recent]
        table.clear(columns=True)  # columns sized to the rows they now hold
        for i, label in enumerate(TRACE_COLUMNS):
            table.add_column(label, width=max([len(label), *(len(cells[i]) for _, cells in rows)]))
        for key, cells in rows:
            table.add_row(*cells, key=key)
        table.move_cursor(row=min(row, max(table.row_count - 1, 0)))

    def card(self, name: str) -> StatCard:
        return self.query_one(f"#card-{name}", StatCard)

    def action_open_trace(self) -> None:
        table = self.query_one("#recent", DataTable)
        if not table.row_count:
            return
        trace_id = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
        from mcpgw.tui.screens.traces import TraceViewer

        self.app.push_screen(TraceViewer(trace_id))

    @on(DataTable.RowSelected, "#recent")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_trace()


def provider_lines(stats: dict[str, Any]) -> str:
    """One line per configured provider: availability, calls that worked and failed, the last error."""
    health = stats.get("health", {}).get("providers", {})
    lines = []
    for provider in stats.get("providers", []):
        name = provider["name"]
        state = health.get(name, {})
        if not state:
            mark, what = "○", "no calls yet"
        elif state.get("available", True):
            mark, what = "●", f"ok · {state.get('successes', 0)} ok / {state.get('failures', 0)} failed"
        else:
            mark, what = "✗", f"cooling down {state.get('cooldown_s', 0):.0f} s"
        lines.append(f"{mark} {name} ({provider.get('kind', '?')}) {what}")
        if state.get("last_error") and not state.get("available", True):
            lines.append(f"   {str(state['last_error'])[:60]}")
    return "\n".join(lines) or "no providers configured\n(set OPENAI_API_KEY, … or see `mcpgw config show`)"
