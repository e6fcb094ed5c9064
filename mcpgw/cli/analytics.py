"""``mcpgw analytics [--by project|user|model|layer|provider|day] [--since D] [--until D] [--json]``, and
``mcpgw analytics top`` (most expensive requests) / ``mcpgw analytics errors`` (error rate per day)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from mcpgw.cli import context
from mcpgw.cli.output import escape, out, print_json

if TYPE_CHECKING:
    from mcpgw.client import DaemonClient

app = typer.Typer(help="Usage and cost analytics.", invoke_without_command=True)
By = Literal["project", "user", "model", "layer", "provider", "day"]
_RANGE_HELP = "Date (whole day), ISO time or span back from now (7d, 24h)."


@dataclass(frozen=True)
class AnalyticsOptions:
    by: By = "model"
    since: str | None = None
    until: str | None = None
    project: str | None = None
    user: str | None = None
    model: str | None = None

    def params(self) -> dict[str, str]:
        pairs = (("since", self.since), ("until", self.until), ("project", self.project), ("user", self.user),
                 ("model", self.model))  # fmt: skip
        return {k: v for k, v in pairs if v}


def run_analytics(client: DaemonClient, opts: AnalyticsOptions) -> dict[str, Any]:
    report: dict[str, Any] = client.get("/v1/analytics", params=opts.params())
    return report


def _money(value: float) -> str:
    from mcpgw.fmt import usd

    return usd(value)


def bar_chart(days: list[dict[str, Any]], *, width: int = 40) -> list[str]:
    """One line per day: date, a bar proportional to cost, cost and requests."""
    peak = max((d["cost"] for d in days), default=0.0)
    lines = []
    for d in days:
        filled = round(width * d["cost"] / peak) if peak > 0 else 0
        bar = "█" * filled if filled else ("▏" if d["cost"] > 0 else "")
        lines.append(f"{d['date']}  {bar:<{width}}  {_money(d['cost']):>12}  {d['requests']:>7} req")
    return lines


def render(report: dict[str, Any], by: By) -> None:
    from rich.table import Table

    tr = report["time_range"]
    tokens = report["total_tokens"]
    out().print(
        f"[bold]{tr['start'][:16].replace('T', ' ')} → {tr['end'][:16].replace('T', ' ')} UTC[/]  "
        f"requests {report['total_requests']:,}  errors {report['total_errors']:,} ({report['error_rate']:.1%})  "
        f"tokens {tokens['input']:,} in / {tokens['output']:,} out  cost [bold]{_money(report['total_cost'])}[/]"
    )
    rows = report["breakdown"]["by_day"] if by == "day" else None
    table = Table(box=None, header_style="bold", title=f"by {by}", title_justify="left")
    for col, justify in ((by, "left"), ("requests", "right"), ("errors", "right"), ("tokens in", "right"),
                         ("tokens out", "right"), ("cost", "right"), ("share", "right"), ("avg ms", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    items = (
        [(r["date"], r) for r in rows]
        if rows is not None
        else sorted(report["breakdown"][f"by_{by}"].items(), key=lambda kv: -kv[1]["cost"])
    )
    total = report["total_cost"] or 1.0
    for key, m in items:
        table.add_row(
            escape(key), f"{m['requests']:,}", f"{m['errors']:,}", f"{m['input_tokens']:,}", f"{m['output_tokens']:,}",
            _money(m["cost"]), f"{m['cost'] / total:.0%}", f"{m['avg_duration_ms']:.0f}",
        )  # fmt: skip
    out().print(table)
    days = report["breakdown"]["by_day"]
    while days and not days[0].get("requests"):  # start the chart where the data starts
        days = days[1:]
    if days:
        out().print("\n[bold]cost per day[/]")
        for line in bar_chart(days[-62:]):
            out().print(line, markup=False)


@app.callback()
def analytics(
    ctx: typer.Context,
    by: Annotated[By, typer.Option("--by", help="Breakdown to show.")] = "model",
    since: Annotated[str | None, typer.Option(help=_RANGE_HELP + " Default: 30 days ago.")] = None,
    until: Annotated[str | None, typer.Option(help=_RANGE_HELP + " Default: now.")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project id.")] = None,
    user: Annotated[str | None, typer.Option(help="Only this user id.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model (provider/model or model).")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON (the AnalyticsResponse).")] = False,
) -> None:
    """Requests, tokens and cost over a range, broken down by project, user, model, layer or day."""
    if ctx.invoked_subcommand:
        return
    opts = AnalyticsOptions(by, since, until, project, user, model)
    with context.client() as client:
        report = run_analytics(client, opts)
    if json:
        print_json(report)
    else:
        render(report, by)


@app.command("top")
def analytics_top(
    since: Annotated[str | None, typer.Option(help=_RANGE_HELP)] = None,
    until: Annotated[str | None, typer.Option(help=_RANGE_HELP)] = None,
    project: Annotated[str | None, typer.Option(help="Only this project id.")] = None,
    limit: Annotated[int, typer.Option("--last", "-n", min=1, help="How many.")] = 10,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The most expensive requests."""
    params: dict[str, Any] = {"limit": limit, **{k: v for k, v in (("since", since), ("until", until),
                                                                    ("project", project)) if v}}  # fmt: skip
    with context.client() as client:
        data = client.get("/v1/analytics/top", params=params)
    if json:
        print_json(data)
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold", title="most expensive requests", title_justify="left")
    for col in ("id", "time (UTC)", "type", "project", "models", "cost", "ms"):
        table.add_column(col)
    for t in data["requests"]:
        table.add_row(
            t["id"][:12], t["created_at"][:19].replace("T", " "), t["request_type"], t.get("project_id") or "",
            escape(", ".join(t["models"])), _money(t["total_cost"]), str(t["total_duration_ms"]),
        )  # fmt: skip
    out().print(table)


@app.command("errors")
def analytics_errors(
    since: Annotated[str | None, typer.Option(help=_RANGE_HELP)] = None,
    until: Annotated[str | None, typer.Option(help=_RANGE_HELP)] = None,
    project: Annotated[str | None, typer.Option(help="Only this project id.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Error rate of requests per day and per request type."""
    params = {k: v for k, v in (("since", since), ("until", until), ("project", project)) if v}
    with context.client() as client:
        data = client.get("/v1/analytics/errors", params=params)
    if json:
        print_json(data)
        return
    out().print(f"[bold]{data['errors']:,} of {data['requests']:,} requests failed ({data['error_rate']:.2%})[/]")
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("day", "requests", "errors", "error rate"):
        table.add_column(col, justify="left" if col == "day" else "right")
    for d in data["by_day"]:
        table.add_row(d["date"], f"{d['requests']:,}", f"{d['errors']:,}", f"{d['error_rate']:.2%}")
    out().print(table)
