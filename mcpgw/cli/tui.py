"""``mcpgw tui``: the Textual interface. Textual is imported inside the command only, so the rest of the
CLI stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def tui(
    cwd: Annotated[
        Path | None, typer.Option("--cwd", help="Project directory for the projects and search screens.")
    ] = None,
) -> None:
    """Open the terminal UI: dashboard, analytics, traces, projects, playground, history, search."""
    from mcpgw.cli import context
    from mcpgw.daemonctl import start_daemon
    from mcpgw.tui.api import TuiApi
    from mcpgw.tui.app import create_app

    paths = context.paths()
    start_daemon(paths)
    create_app(TuiApi.for_paths(paths), cwd=cwd).run()


def register(root: typer.Typer) -> None:
    """Wire ``mcpgw tui`` as a top-level command."""
    root.command("tui")(tui)
