"""``mcpgw route simulate``: replay a past request under other routing strategies (no model is called)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mcpgw.cli import context
from mcpgw.cli.output import out, print_json

app = typer.Typer(help="Routing tools.", no_args_is_help=True)


def run_simulate(client: Any, trace_id: str, strategies: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = client.post("/v1/routing/simulate", json={"traceId": trace_id, "strategies": strategies})
    return data


@app.command("simulate")
def route_simulate(
    trace_id: Annotated[str, typer.Argument(help="A trace id (or a unique prefix) from `mcpgw traces list`.")],
    strategies: Annotated[
        str, typer.Option("--strategies", "-s", help="Comma-separated: a layer (L0) or a range (L1-L2).")
    ] = "L0,L1-L2,L0-L3",
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Estimate cost and latency of a past request under other layer strategies."""
    with context.client() as client:
        data = run_simulate(client, trace_id, [s for s in strategies.split(",") if s.strip()])
    if json:
        print_json(data)
        return
    from rich.table import Table

    original = data["original"]
    out().print(
        f"trace {data['original_trace_id']}: {original['model']} ({original['layer']}), "
        f"{original['input_tokens']}→{original['output_tokens']} tokens, ${original['cost'] or 0:.6f}, "
        f"{original['duration_ms']} ms",
        markup=False,
    )
    table = Table("Strategy", "Cost", "Latency", "Model", "Cached")
    for r in data["results"]:
        if not r["available"]:
            table.add_row(r["strategy"], "-", "-", "no usable model", "-")
            continue
        cost = f"${r['estimated_cost']:.6f}" + (" (est.)" if r.get("cost_estimated") else "")
        latency = f"{r['estimated_latency_ms']} ms" if r["estimated_latency_ms"] is not None else "unknown"
        table.add_row(r["strategy"], cost, latency, r["model"], "Yes" if r["from_cache"] else "No")
    out().print(table)
