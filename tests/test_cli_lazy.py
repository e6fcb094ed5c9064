"""`main` builds only the module that provides the command being run; the map it uses must be complete."""

from __future__ import annotations

import typer.main

from mcpgw.cli import app as cli_app


def test_every_top_level_command_has_its_module() -> None:
    full = typer.main.get_command(cli_app.build_app())
    group_names = {name for _, name in cli_app.GROUPS if name}
    for name in full.commands:  # type: ignore[attr-defined]
        module = cli_app.module_for([name])
        assert module is not None, f"add {name!r} to COMMAND_MODULES"
        partial = typer.main.get_command(cli_app.build_app(module))
        assert name in partial.commands, name  # type: ignore[attr-defined]
    assert group_names <= set(full.commands)  # type: ignore[attr-defined]


def test_help_and_unknown_commands_get_the_whole_tree() -> None:
    assert cli_app.module_for([]) is None
    assert cli_app.module_for(["--help"]) is None
    assert cli_app.module_for(["no-such-command"]) is None
    assert cli_app.module_for(["daemon", "status", "--json"]) == "daemon"
    assert cli_app.module_for(["diff", "f.py", "task"]) == "chat"
