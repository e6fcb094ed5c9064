"""``mcpgw traces list [--last N] [--failed] [--json]`` and ``mcpgw traces show ID [--json]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mcpgw.cli import context
from mcpgw.cli.output import escape, out, print_json

if TYPE_CHECKING:
    from mcpgw.client import DaemonClient

app = typer.Typer(help="Request traces: what each request did, cost and took.", no_args_is_help=True)


@dataclass(frozen=True)
class ListOptions:
    last: int = 20
    failed: bool = False
    since: str | None = None
    project: str | None = None
    request_type: str | None = None


def run_list(client: DaemonClient, opts: ListOptions) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"limit": opts.last}
    for key, value in (("since", opts.since), ("project", opts.project), ("request_type", opts.request_type)):
        if value:
            params[key] = value
    if opts.failed:
        params["status"] = "error"
    traces: list[dict[str, Any]] = client.get("/v1/traces", params=params)["traces"]
    return traces


def _money(value: float | None) -> str:
    return f"${value or 0:.6f}".rstrip("0").rstrip(".") if value else "$0"


@app.command("list")
def traces_list(
    last: Annotated[int, typer.Option("--last", "-n", min=1, help="How many traces (newest first).")] = 20,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed requests.")] = False,
    since: Annotated[str | None, typer.Option(help="Date, ISO time or span back from now (7d, 24h).")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project id.")] = None,
    request_type: Annotated[str | None, typer.Option("--type", help="Only this request type (chat, …).")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List recent traces."""
    with context.client() as client:
        traces = run_list(client, ListOptions(last, failed, since, project, request_type))
    if json:
        print_json(traces)
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col, justify in (("id", "left"), ("time (UTC)", "left"), ("type", "left"), ("status", "left"),
                         ("layer", "left"), ("models", "left"), ("cost", "right"), ("ms", "right")):  # fmt: skip
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for t in traces:
        status = t["status"] if t["status"] == "ok" else f"[red]{t['status']}[/]"
        table.add_row(
            t["id"][:12], t["created_at"][:19].replace("T", " "), t["request_type"], status, t.get("layer") or "",
            escape(", ".join(t.get("models") or [])), _money(t["total_cost"]), str(t["total_duration_ms"]),
        )  # fmt: skip
    if traces:
        out().print(table)
    else:
        out().print("no traces yet")


def _pick(item: dict[str, Any], *keys: str) -> Any:
    """The first key present (traces use snake_case or the roadmap's camelCase)."""
    return next((item[k] for k in keys if item.get(k) is not None), None)


def render_tree(trace: dict[str, Any]) -> Any:
    """A rich Tree: error first, then routing decisions, LLM calls and tool calls."""
    from rich.tree import Tree

    head = (
        f"[bold]{trace['id']}[/]  {trace['request_type']}  {trace['status']}  "
        f"{_money(trace['total_cost'])}  {trace['total_duration_ms']} ms  {trace['created_at']}"
    )
    tree = Tree(head)
    error = trace.get("error_info")
    if error:
        message = error.get("message") if isinstance(error, dict) else error
        kind = error.get("type", "error") if isinstance(error, dict) else "error"
        tree.add(f"[bold red]error[/] {escape(str(kind))}: {escape(str(message))}")
    for key in ("project_id", "user_id", "conversation_id"):
        if trace.get(key):
            tree.add(f"[dim]{key}[/] {escape(str(trace[key]))}")
    routing = tree.add(f"routing decisions ({len(trace.get('routing_decisions') or [])})")
    for d in trace.get("routing_decisions") or []:
        model = d.get("modelSelected") or d.get("model_selected") or d.get("model") or ""
        reason = escape(str(d.get("reason", "")))
        routing.add(f"{escape(str(d.get('layer', '')))} → {escape(str(model))}  [dim]{reason}[/]")
    calls = tree.add(f"LLM calls ({len(trace.get('llm_calls') or [])})")
    for c in trace.get("llm_calls") or []:
        flag = "" if (c.get("status") or "ok") == "ok" else f"  [red]{escape(str(c.get('error') or 'error'))}[/]"
        cached = "  [cyan]cached[/]" if c.get("cached") else ""
        purpose = f"  [dim]{escape(str(c['purpose']))}[/]" if c.get("purpose") else ""
        tokens_in = _pick(c, "input_tokens", "inputTokens") or 0
        tokens_out = _pick(c, "output_tokens", "outputTokens") or 0
        calls.add(
            f"{escape(str(c.get('provider')))}/{escape(str(c.get('model')))}  {c.get('layer') or ''}  "
            f"tokens {tokens_in}→{tokens_out}  {_money(c.get('cost'))}  "
            f"{_pick(c, 'duration_ms', 'durationMs') or 0} ms{purpose}{cached}{flag}"
        )
    tools = tree.add(f"tool calls ({len(trace.get('tool_calls') or [])})")
    import json

    for t in trace.get("tool_calls") or []:
        name = _pick(t, "tool_name", "toolName", "name") or "tool"
        args = json.dumps(_pick(t, "args", "arguments") or {}, ensure_ascii=False, default=str)
        flag = f"  [red]{escape(str(t['error']))}[/]" if t.get("error") else ""
        tools.add(f"{escape(str(name))}({escape(args[:300])})  {_pick(t, 'duration_ms', 'durationMs') or 0} ms{flag}")
    return tree


@app.command("show")
def traces_show(
    trace_id: Annotated[str, typer.Argument(metavar="ID", help="A trace id (or a unique prefix).")],
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one trace as a tree: error, routing decisions, LLM calls, tool calls (secrets masked)."""
    with context.client() as client:
        trace = client.get(f"/v1/traces/{trace_id}")
    if json:
        print_json(trace)
    else:
        out().print(render_tree(trace))
