"""``mcpgw hooks install|uninstall|list|test|run``: git hooks that review code through the gateway."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Git hooks: pre-commit review and pre-push analysis.", no_args_is_help=True)


def _repo() -> Path:
    from mcpgw.hooks import repo_root

    return repo_root(Path.cwd())


@app.command("install")
def hooks_install(
    pre_commit: Annotated[bool, typer.Option("--pre-commit", help="Install the pre-commit hook.")] = False,
    pre_push: Annotated[bool, typer.Option("--pre-push", help="Install the pre-push hook.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing <hook>.legacy copy.")] = False,
) -> None:
    """Install hooks (both when neither flag is given); an existing hook is kept as <hook>.legacy and chained."""
    from mcpgw.cli.output import info
    from mcpgw.hooks import HOOKS, install

    names = [n for n, on in (("pre-commit", pre_commit), ("pre-push", pre_push)) if on] or list(HOOKS)
    for line in install(_repo(), names, force=force):
        info(line)


@app.command("uninstall")
def hooks_uninstall() -> None:
    """Remove mcpgw's hooks and restore any hook they replaced."""
    from mcpgw.cli.output import info
    from mcpgw.hooks import uninstall

    for line in uninstall(_repo()):
        info(line)


@app.command("list")
def hooks_list(json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show which hooks are installed, and where (core.hooksPath is respected)."""
    from mcpgw.cli.output import print_json
    from mcpgw.hooks import list_hooks

    statuses = list_hooks(_repo())
    if json:
        print_json([s.to_json() for s in statuses])
        return
    for s in statuses:
        state = "installed" if s.installed else ("other hook present" if s.foreign else "not installed")
        legacy = ", chains to .legacy" if s.legacy else ""
        print(f"{s.name:<11} {state}{legacy}  {s.path}")


@app.command("test")
def hooks_test(hook: Annotated[str, typer.Argument(help="pre-commit or pre-push.")]) -> None:
    """Run a hook's checks now, on the staged files (pre-commit) or the changes vs. upstream (pre-push)."""
    from mcpgw.hooks import EXIT_BLOCKED, run_hook

    code = run_hook(hook, _repo(), verbose=True)
    print("would block" if code == EXIT_BLOCKED else "would pass", file=sys.stderr)
    raise typer.Exit(1 if code else 0)


@app.command("run", hidden=True)
def hooks_run(
    hook: Annotated[str, typer.Argument(help="pre-commit or pre-push.")],
    files: Annotated[list[str] | None, typer.Argument(help="Files to check (pre-commit framework).")] = None,
) -> None:
    """What the installed hooks call (exit 3 = block)."""
    from mcpgw.hooks import run_hook

    stdin_text = sys.stdin.read() if hook == "pre-push" and not sys.stdin.isatty() else ""
    paths = (files or []) if hook == "pre-commit" else []
    raise typer.Exit(run_hook(hook, _repo(), files=paths, stdin_text=stdin_text))
