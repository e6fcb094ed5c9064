"""Traces: a filterable list (since, status, request type, project) and the trace viewer (routing
decisions as a timeline, the LLM calls table, tool calls with their arguments)."""

from __future__ import annotations

import contextlib
import json
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Select, Static, Tree

from mcpgw import errors
from mcpgw.tui.messages import DaemonEvent, LoadFailed, TraceLoaded, TracesLoaded
from mcpgw.tui.screens.base import BaseScreen
from mcpgw.tui.widgets.fmt import count, local_time, millis, models_of, money

STATUSES = ("ok", "error", "confirmation_required")
LIST_COLUMNS = ("time", "id", "type", "model", "layer", "status", "cost", "duration")
CALL_COLUMNS = ("model", "layer", "status", "in", "out", "cost", "duration", "cached", "error")


class TracesScreen(BaseScreen):
    CSS_PATH = "traces.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter"),
        Binding("enter", "open", "Open", show=False),
    ]

    traces: reactive[list[dict[str, Any]]] = reactive(list, init=False, always_update=True)

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="filters"):
            yield Input(placeholder="since: 24h, 7d, 2026-01-31", id="since")
            yield Select([(s, s) for s in STATUSES], prompt="any status", id="status")
            yield Input(placeholder="type: chat, mcp-tool…", id="type")
            yield Input(placeholder="project id", id="project")
        table: DataTable[str] = DataTable(id="trace-list", cursor_type="row", zebra_stripes=True)
        table.border_title = "Traces (newest first)"
        yield table

    def on_mount(self) -> None:
        self.query_one("#trace-list", DataTable).add_columns(*LIST_COLUMNS)

    def filters(self) -> dict[str, str | None]:
        status = self.query_one("#status", Select).value
        return {
            "since": self.query_one("#since", Input).value.strip() or None,
            "status": status if isinstance(status, str) else None,
            "request_type": self.query_one("#type", Input).value.strip() or None,
            "project": self.query_one("#project", Input).value.strip() or None,
        }

    def reload(self) -> None:
        flt = self.filters()
        self.load(lambda: self._fetch(flt), "traces")

    async def _fetch(self, flt: dict[str, str | None]) -> None:
        self.post_message(TracesLoaded(await self.api.traces(**flt, limit=500)))

    @on(TracesLoaded)
    def _loaded(self, message: TracesLoaded) -> None:
        self.traces = message.traces

    def watch_traces(self, traces: list[dict[str, Any]]) -> None:
        table = self.query_one("#trace-list", DataTable)
        table.clear()
        for t in traces:
            table.add_row(
                local_time(t["created_at"]), t["id"][-10:], t["request_type"], models_of(t), t.get("layer") or "-",
                t["status"], money(t["total_cost"]), millis(t["total_duration_ms"]), key=t["id"],
            )  # fmt: skip
        table.border_subtitle = f"{count(len(traces))} shown"

    @on(Input.Submitted, "#filters Input")
    @on(Select.Changed, "#status")
    def _filter_changed(self) -> None:
        self.reload()

    @on(DaemonEvent)
    def _event(self, message: DaemonEvent) -> None:
        if message.event == "trace":
            self.reload()

    def action_focus_filter(self) -> None:
        self.query_one("#since", Input).focus()

    def action_open(self) -> None:
        table = self.query_one("#trace-list", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key:
                self.app.push_screen(TraceViewer(key))

    @on(DataTable.RowSelected, "#trace-list")
    def _selected(self) -> None:
        self.action_open()


def timeline(decisions: list[dict[str, Any]], started: str | None) -> Text:
    """Routing decisions, one per line: offset from the first, layer, model and the reason."""
    text = Text()
    if not decisions:
        text.append("no routing decisions (not an LLM request, or it failed before routing)", style="dim")
        return text
    first = float(decisions[0].get("timestamp") or 0)
    for i, d in enumerate(decisions):
        offset = (float(d.get("timestamp") or first) - first) * 1000
        mark = "└─" if i == len(decisions) - 1 else "├─"
        text.append(f"{mark} +{offset:7.0f} ms  ", style="dim")
        text.append(f"{d.get('layer', '?'):<3} ", style="bold")
        text.append(f"{d.get('modelSelected', '?')}", style="cyan")
        text.append(f"  {d.get('reason', '')}\n")
    return text


def tool_parts(call: dict[str, Any]) -> tuple[str, Any]:
    """(name, arguments) of a tool call in the MCP trace shape or the OpenAI shape."""
    raw = call.get("function")
    function: dict[str, Any] = raw if isinstance(raw, dict) else {}
    name = call.get("toolName") or call.get("name") or function.get("name") or "?"
    args = call.get("args", call.get("arguments", function.get("arguments")))
    if isinstance(args, str):
        with contextlib.suppress(ValueError):
            args = json.loads(args)
    return str(name), args


def add_json(node: Any, value: Any, label: str) -> None:
    """Add ``value`` under ``node`` as a tree (dicts and lists expand; scalars are leaves)."""
    if isinstance(value, dict):
        branch = node.add(f"{label} {{{len(value)}}}", expand=True)
        for k, v in value.items():
            add_json(branch, v, f"{k}:")
    elif isinstance(value, list):
        branch = node.add(f"{label} [{len(value)}]", expand=True)
        for i, v in enumerate(value):
            add_json(branch, v, f"{i}:")
    else:
        node.add_leaf(f"{label} {json.dumps(value, default=str)}")


class TraceViewer(Screen[None]):
    """One trace in full. Escape goes back to the list."""

    CSS_PATH = "traces.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "app.pop_screen", "Back")]

    trace: reactive[dict[str, Any] | None] = reactive(None, init=False)

    def __init__(self, trace_id: str) -> None:
        super().__init__()
        self.trace_id = trace_id

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with VerticalScroll(id="viewer"):
            yield Static(f"trace {self.trace_id} …", id="summary")
            yield Static("Routing", classes="section")
            yield Static("", id="timeline")
            yield Static("LLM calls", classes="section")
            yield DataTable(id="calls", cursor_type="row", show_cursor=False)
            yield Static("Tool calls", classes="section")
            yield Tree("tool calls", id="tools")
            yield Static("", id="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#calls", DataTable).add_columns(*CALL_COLUMNS)
        self.run_worker(self._fetch(), name="trace", exclusive=True, exit_on_error=False)

    async def _fetch(self) -> None:
        from mcpgw.tui.app import McpgwApp

        app = self.app
        assert isinstance(app, McpgwApp)
        try:
            self.post_message(TraceLoaded(await app.api.trace(self.trace_id)))
        except errors.MCPGWError as exc:
            self.post_message(LoadFailed("trace", exc.message, exc.fix))

    @on(TraceLoaded)
    def _loaded(self, message: TraceLoaded) -> None:
        self.trace = message.trace

    @on(LoadFailed)
    def _failed(self, message: LoadFailed) -> None:
        self.query_one("#summary", Static).update(Text(f"✗ {message.message}", style="bold red"))

    def watch_trace(self, trace: dict[str, Any] | None) -> None:
        if trace is None:
            return
        created = trace.get("created_at")
        summary = Text()
        summary.append(f"{trace['id']}  ", style="bold")
        summary.append(f"{trace['request_type']} · {trace['status']} · {local_time(created)} · ")
        summary.append(f"{money(trace['total_cost'])} · {millis(trace['total_duration_ms'])}")
        if trace.get("project_id"):
            summary.append(f" · project {trace['project_id']}")
        self.query_one("#summary", Static).update(summary)
        self.query_one("#timeline", Static).update(timeline(trace.get("routing_decisions") or [], created))
        table = self.query_one("#calls", DataTable)
        table.clear()
        for c in trace.get("llm_call_rows") or []:
            table.add_row(
                f"{c['provider']}/{c['model']}", c.get("layer") or "-", c["status"], count(c["input_tokens"]),
                count(c["output_tokens"]), money(c["cost"]), millis(c["duration_ms"]), "yes" if c["cached"] else "",
                (c.get("error") or "")[:60],
            )  # fmt: skip
        tree = self.query_one("#tools", Tree)
        tree.clear()
        tree.root.set_label(f"{len(trace.get('tool_calls') or [])} tool call(s)")
        for call in trace.get("tool_calls") or []:
            name, args = tool_parts(call)
            node = tree.root.add(name, expand=True)
            add_json(node, args, "arguments")
            for key in ("result", "error", "durationMs"):
                if call.get(key) is not None:
                    node.add_leaf(f"{key}: {json.dumps(call[key], default=str)[:200]}")
        tree.root.expand()
        error = trace.get("error_info")
        self.query_one("#error", Static).update(
            Text(f"Error: {error.get('message', error)}", style="bold red") if isinstance(error, dict) else ""
        )
