"""``mcpgw keys create|list|revoke``: API keys for the OpenAI-compatible TCP listener."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mcpgw.cli import context
from mcpgw.cli.output import info, print_json

app = typer.Typer(help="API keys for the TCP listener (`mcpgw daemon start --tcp HOST:PORT`).", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="viewer (read-only), developer (model calls) or admin.")],
    project: Annotated[str | None, typer.Option("--project", help="Limit the key to this project.")] = None,
    name: Annotated[str, typer.Option("--name", help="A label to recognise the key by.")] = "",
    json: JsonOpt = False,
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from mcpgw.security.auth import parse_role

    parse_role(role)
    body: dict[str, Any] = {"role": role, "name": name}
    if project is not None:
        body["project"] = project
    with context.client() as client:
        data = client.post("/v1/keys", json=body)
    if json:
        print_json(data)
        return
    print(data["key"])
    scope = f" for project {data['project_id']}" if data["project_id"] else ""
    info(f"created {data['role']} key {data['id']}{scope}; this is the only time it is shown")


@app.command("list")
def keys_list(
    active: Annotated[bool, typer.Option("--active", help="Only keys that are not revoked.")] = False,
    json: JsonOpt = False,
) -> None:
    """List keys (id, prefix, role, project, created, last used, revoked)."""
    with context.client() as client:
        data = client.get("/v1/keys", params={"all": str(not active).lower()})
    keys = data["keys"]
    if json:
        print_json(keys)
        return
    if not keys:
        info("no API keys; create one with `mcpgw keys create --role developer`")
        return
    from rich.table import Table

    from mcpgw.cli.output import out

    table = Table(box=None, pad_edge=False)
    for column in ("id", "key", "role", "project", "name", "created", "last used", "status"):
        table.add_column(column)
    for k in keys:
        table.add_row(
            k["id"],
            k["prefix"] + "…",
            k["role"],
            k["project_id"] or "*",
            k["name"],
            k["created_at"][:19].replace("T", " "),
            (k["last_used_at"] or "never")[:19].replace("T", " "),
            "active" if k["active"] else f"revoked {k['revoked_at'][:10]}",
        )
    out().print(table)


@app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (or a unique prefix of it).")],
    json: JsonOpt = False,
) -> None:
    """Revoke a key; requests with it get 401 from now on."""
    with context.client() as client:
        data = client.delete(f"/v1/keys/{key_id}")
    if json:
        print_json(data)
    else:
        info(f"revoked key {data['id']} ({data['prefix']}…)")
