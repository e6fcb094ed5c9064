"""The ``mcpgw`` command: wires every command group in one place and translates errors at the boundary.

Each group is a module in this package exposing ``app`` (a Typer sub-app) or ``register(app)`` for
top-level commands. Modules import their heavy dependencies inside the commands, and :func:`main` builds
only the module that provides the command being run (``--help`` and unknown commands get the whole tree),
so start-up stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from mcpgw._version import __version__

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
    ("agent", None),
    ("knowledge", "knowledge"),
    ("profile", "profile"),
)

# Top-level commands of the modules that register them (``None`` in GROUPS): which module to load for a
# command. A command missing here still works (the whole tree is built); tests/test_cli_lazy.py keeps it complete.
COMMAND_MODULES: dict[str, str] = {
    "chat": "chat", "code": "chat", "diff": "chat", "analyze": "chat", "create-project": "chat", "cache": "chat",
    "apply": "apply", "replay": "history", "doctor": "doctor", "tui": "tui",
    "tests": "agent", "refactor": "agent", "spec-first": "agent",
}  # fmt: skip


def _version(value: bool) -> None:
    if value:
        print(f"mcpgw {__version__}")
        raise typer.Exit()


def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """mcpgw — route every LLM request across cost layers, with budgets, traces and your code as context."""


def build_app(only: str | None = None) -> typer.Typer:
    """The root app with every group, or only the groups of module ``only``."""
    root_app = typer.Typer(
        name="mcpgw",
        help="mcpgw — a local-first AI gateway for developers.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    root_app.callback()(root)
    for module_name, name in GROUPS:
        if only is not None and module_name != only:
            continue
        module = importlib.import_module(f"mcpgw.cli.{module_name}")
        if name is None:
            module.register(root_app)
        else:
            root_app.add_typer(module.app, name=name)
    return root_app


def module_for(argv: Sequence[str]) -> str | None:
    """The module that provides the command in ``argv``, or None when the whole tree is needed."""
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None or any(a in ("-h", "--help") for a in argv[: argv.index(first)]):
        return None
    for module_name, name in GROUPS:
        if name == first:
            return module_name
    return COMMAND_MODULES.get(first)


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole tree, built on first use (tests, the README generator)
        globals()["app"] = built = build_app()
        return built
    raise AttributeError(name)


def main() -> None:
    """Console entry point: domain errors become one message, a ``Fix:`` line and an exit code."""
    from mcpgw.errors import MCPGWError
    from mcpgw.history import run_recorded

    try:
        # runs the command and records it in the history (when the daemon runs)
        run_recorded(build_app(module_for(sys.argv[1:])))
    except MCPGWError as exc:
        if os.environ.get("MCPGW_DEBUG") == "1":
            raise
        from mcpgw.cli.output import fail_line

        fail_line(exc.message, exc.fix)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
