"""The ``mcpgw`` command: wires every command group in one place and translates errors at the boundary.

Each group is a module in this package exposing ``app`` (a Typer sub-app) or ``register(app)`` for
top-level commands. Modules import their heavy dependencies inside the commands, so start-up stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated

import typer

from mcpgw._version import __version__

app = typer.Typer(
    name="mcpgw",
    help="mcpgw — a local-first AI gateway for developers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# (module, sub-command name or None for modules that register top-level commands)
GROUPS: tuple[tuple[str, str | None], ...] = (
    ("daemon", "daemon"),
    ("config", "config"),
    ("db", "db"),
    ("chat", None),
    ("search", "search"),
    ("route", "route"),
    ("apply", None),
    ("mcp", "mcp"),
    ("history", "history"),
    ("history", None),
    ("doctor", None),
    ("hooks", "hooks"),
    ("keys", "keys"),
    ("repo", "repo"),
    ("traces", "traces"),
    ("analytics", "analytics"),
    ("alerts", "alerts"),
    ("tui", None),
    ("knowledge", "knowledge"),
    ("profile", "profile"),
)


def _version(value: bool) -> None:
    if value:
        print(f"mcpgw {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """mcpgw — route every LLM request across cost layers, with budgets, traces and your code as context."""


for _module, _name in GROUPS:
    _mod = importlib.import_module(f"mcpgw.cli.{_module}")
    if _name is None:
        _mod.register(app)
    else:
        app.add_typer(_mod.app, name=_name)


def main() -> None:
    """Console entry point: domain errors become one message, a ``Fix:`` line and an exit code."""
    from mcpgw.errors import MCPGWError
    from mcpgw.history import run_recorded

    try:
        run_recorded(app)  # runs the command and records it in the history (when the daemon runs)
    except MCPGWError as exc:
        if os.environ.get("MCPGW_DEBUG") == "1":
            raise
        from mcpgw.cli.output import fail_line

        fail_line(exc.message, exc.fix)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
