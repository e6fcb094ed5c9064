"""``mcpgw mcp serve|install``: the MCP stdio server for editors, and their configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mcpgw.cli import context
from mcpgw.cli.output import info, print_json

app = typer.Typer(
    help="The MCP server for editors (Claude Desktop, VS Code, Cursor, Claude Code).", no_args_is_help=True
)

RootOpt = Annotated[
    Path | None,
    typer.Option("--root", help="Project directory the file, git and test tools act on (default: current directory)."),
]


@app.command("serve")
def mcp_serve(root: RootOpt = None) -> None:
    """Serve MCP over stdio: JSON-RPC on stdout, logs on stderr. Starts the daemon when a tool needs it."""
    import anyio

    from mcpgw.mcp_server.server import serve_stdio

    target = (root or Path.cwd()).expanduser().resolve()
    anyio.run(serve_stdio, target, context.paths())


@app.command("install")
def mcp_install(
    client: Annotated[
        str, typer.Option("--client", help="claude-desktop, vscode, cursor or claude-code.", show_default=False)
    ],
    root: RootOpt = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Write this file instead of the client's usual one.")
    ] = None,
    print_only: Annotated[bool, typer.Option("--print", help="Print the snippet; write nothing.")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Add mcpgw to an editor's MCP config (an existing file is backed up first), or print the snippet."""
    import json as jsonlib

    from mcpgw.mcp_server.install import install

    result = install(client, (root or Path.cwd()), path=config, print_only=print_only)
    if json:
        print_json(
            {
                "client": result.client,
                "path": str(result.path) if result.path else None,
                "backup": str(result.backup) if result.backup else None,
                "written": result.written,
                "snippet": result.snippet,
                "command_line": result.command_line,
            }
        )
        return
    if print_only:
        print(jsonlib.dumps(result.snippet, indent=2))
        if result.client == "claude-code":
            info(f"or run: {result.command_line}")
        return
    info(f"wrote the mcpgw server to {result.path}")
    if result.backup:
        info(f"the previous file is saved as {result.backup}")
    if result.client == "claude-code":
        info(f"(equivalent: {result.command_line})")
    info("restart the editor (or reload its MCP servers) to pick it up")
