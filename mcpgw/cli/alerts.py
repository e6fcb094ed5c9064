"""``mcpgw alerts list [--open] [--json]``, ``mcpgw alerts ack ID``, ``mcpgw alerts check``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mcpgw.cli import context
from mcpgw.cli.output import escape, info, out, print_json

app = typer.Typer(help="Cost alerts raised by the guardrail.", no_args_is_help=True)


def _print(alerts: list[dict[str, Any]]) -> None:
    if not alerts:
        out().print("no alerts")
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("id", "time (UTC)", "type", "metric", "message", "webhook", "ack"):
        table.add_column(col)
    for a in alerts:
        table.add_row(
            a["id"], a["timestamp"][:19].replace("T", " "), a["type"], a["metric"], escape(a["message"]),
            a["delivery"]["status"], "✓" if a["acknowledged"] else "",
        )  # fmt: skip
    out().print(table)


@app.command("list")
def alerts_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only alerts not acknowledged yet.")] = False,
    limit: Annotated[int, typer.Option("--last", "-n", min=1, help="How many (newest first).")] = 50,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List cost alerts, newest first."""
    with context.client() as client:
        alerts = client.get("/v1/alerts", params={"all": not open_only, "limit": limit})["alerts"]
    if json:
        print_json(alerts)
    else:
        _print(alerts)


@app.command("ack")
def alerts_ack(
    alert_id: Annotated[str, typer.Argument(metavar="ID", help="The alert id.")],
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Acknowledge an alert."""
    with context.client() as client:
        alert = client.post(f"/v1/alerts/{alert_id}/ack")
    if json:
        print_json(alert)
    else:
        info(f"acknowledged {alert['id']}: {alert['message']}")


@app.command("check")
def alerts_check(json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Run the guardrail's checks now; prints the alerts newly raised."""
    with context.client() as client:
        alerts = client.post("/v1/alerts/check")["alerts"]
    if json:
        print_json(alerts)
    else:
        _print(alerts)
