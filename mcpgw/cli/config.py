"""``mcpgw config init|show|validate|path``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mcpgw.cli import context
from mcpgw.cli.output import info, print_json

app = typer.Typer(help="User configuration and the project policy file.", no_args_is_help=True)


@app.command("path")
def config_path() -> None:
    """Print the path of the user config file."""
    print(context.paths().config_file)


@app.command("init")
def config_init(
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    project: Annotated[
        bool, typer.Option("--project", help="Write ai-mcp.config.json at the git root instead.")
    ] = False,
) -> None:
    """Write a commented starting config (user config.toml, or the project policy file)."""
    from mcpgw.config import CONFIG_TEMPLATE, find_git_root
    from mcpgw.errors import UsageError

    if project:
        import json

        root = find_git_root(Path.cwd()) or Path.cwd()
        target = root / "ai-mcp.config.json"
        text = (
            json.dumps(
                {
                    "version": "1.0",
                    "routing": {"defaultLayer": "L0", "maxLayer": "L2", "maxCostPerRequest": 0.10, "filePatterns": {}},
                    "features": {"enableCrossCheck": True, "enableAutoEscalate": False, "enableCache": True},
                },
                indent=2,
            )
            + "\n"
        )
    else:
        target = context.paths().config_file
        text = CONFIG_TEMPLATE
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", fix="pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(target)
    info(f"wrote {target}")


@app.command("validate")
def config_validate(
    file: Annotated[Path | None, typer.Argument(help="A config.toml or policy file (default: both in use).")] = None,
) -> None:
    """Check the user config and the project policy file; exit 1 naming the problem when invalid."""
    from mcpgw.config import find_project_file, load_project_policy, load_settings

    checked: list[Path] = []
    if file is not None:
        if file.suffix == ".toml":
            load_settings(file)
        else:
            load_project_policy(file)
        checked.append(file)
    else:
        cfg = context.paths().config_file
        load_settings(cfg)
        if cfg.exists():
            checked.append(cfg)
        project_file = find_project_file(Path.cwd())
        if project_file is not None:
            load_project_policy(project_file)
            checked.append(project_file)
    for path in checked:
        info(f"✓ {path} is valid")
    if not checked:
        info("✓ no config files; using defaults")


@app.command("show")
def config_show(json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the effective configuration with every secret masked."""
    from mcpgw.config import find_project_file, load_project_policy, masked_dump

    data = masked_dump(context.settings())
    project_file = find_project_file(Path.cwd())
    project = masked_dump(load_project_policy(project_file)) if project_file else None
    if json:
        print_json({"config": data, "project_file": str(project_file) if project_file else None, "project": project})
        return
    import tomllib  # noqa: F401  (only to document the format we print)

    from rich.pretty import Pretty

    from mcpgw.cli.output import out

    out().print(f"[bold]user config[/] ({context.paths().config_file})")
    out().print(Pretty(data))
    if project is not None:
        out().print(f"[bold]project policy[/] ({project_file})")
        out().print(Pretty(project))
