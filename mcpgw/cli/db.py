"""``mcpgw db path|backup``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mcpgw.cli import context
from mcpgw.cli.output import info, print_json

app = typer.Typer(help="The SQLite database.", no_args_is_help=True)


@app.command("path")
def db_path() -> None:
    """Print the database path."""
    print(context.paths().db_path)


@app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="Where to write the copy.")],
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write an online, consistent copy of the database (the daemon keeps serving)."""
    with context.client() as client:
        data = client.post("/v1/db/backup", json={"path": str(file.expanduser().absolute())})
    if json:
        print_json(data)
    else:
        info(f"backed up {data['pages']} pages ({data['bytes']} bytes) to {data['path']}")
