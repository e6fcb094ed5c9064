"""``mcpgw knowledge build --include GLOB… [--name N] [--keyword-only] [--json]``, ``knowledge list``,
``knowledge search "Q"`` and ``knowledge rm NAME``: the current project's knowledge packs, which the
gateway injects into prompts of this project."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from mcpgw.cli import context
from mcpgw.cli.output import info, interactive, out, print_json

app = typer.Typer(help="Knowledge packs: project docs searched and injected into prompts.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def project_root() -> Path:
    """The project of the current directory: its git root, or the directory itself."""
    from mcpgw.config import find_git_root

    cwd = Path.cwd()
    return find_git_root(cwd) or cwd


@dataclass(frozen=True)
class BuildOptions:
    include: list[str] = field(default_factory=list)
    name: str = "docs"
    description: str | None = None
    embed: bool = True
    json: bool = False


def run_knowledge_build(client: Any, root: Path, opts: BuildOptions) -> dict[str, Any]:
    body = {"project_root": str(root), "include": opts.include, "name": opts.name,
            "description": opts.description, "embed": opts.embed}  # fmt: skip
    if interactive() and not opts.json:
        from mcpgw.cli.output import err

        with err().status(f"building knowledge pack {opts.name}…"):
            report: dict[str, Any] = client.post("/v1/knowledge/build", json=body)
    else:
        report = client.post("/v1/knowledge/build", json=body)
    if opts.json:
        print_json(report)
        return report
    if report.get("notice"):
        info(report["notice"])
    out().print(
        f"pack {report['pack']}: {report['files']} files ({report['added']} added, {report['updated']} updated, "
        f"{report['unchanged']} unchanged, {report['removed']} removed), {report['sections']} sections written"
        + (f", vectors by {report['embedder']}" if report.get("embedder") else ", keyword only"),
        markup=False,
    )
    return report


@app.command("build")
def knowledge_build(
    include: Annotated[
        list[str] | None,
        typer.Option("--include", "-i", help="Glob relative to the project root (repeatable), e.g. 'docs/**/*.md'."),
    ] = None,
    name: Annotated[str, typer.Option("--name", "-n", help="Pack name.")] = "docs",
    description: Annotated[str | None, typer.Option("--description", help="What the pack holds.")] = None,
    keyword_only: Annotated[bool, typer.Option("--keyword-only", help="Do not compute vectors.")] = False,
    json: JsonOpt = False,
) -> None:
    """Build or refresh a pack from docs (only changed files are re-read). Without --include, the pack's
    previous globs are used."""
    opts = BuildOptions(list(include or []), name, description, not keyword_only, json)
    with context.client() as client:
        run_knowledge_build(client, project_root(), opts)


@app.command("list")
def knowledge_list(
    all_projects: Annotated[bool, typer.Option("--all", help="Packs of every project.")] = False,
    json: JsonOpt = False,
) -> None:
    """The packs of this project."""
    params = {} if all_projects else {"project_root": str(project_root())}
    with context.client() as client:
        packs = client.get("/v1/knowledge", params=params)["packs"]
    if json:
        print_json(packs)
        return
    if not packs:
        info('no knowledge packs here; build one: mcpgw knowledge build --include "docs/**/*.md"')
        return
    for p in packs:
        vectors = f", {p['vectors']} vectors" if p.get("vectors") else ""
        out().print(
            f"{p['name']}: {p['documents']} documents, {p['sections']} sections{vectors} "
            f"(updated {p['updated_at'][:16].replace('T', ' ')})\n  include: {', '.join(p['include'])}\n"
            f"  {p['summary'] or ''}",
            markup=False,
        )


@app.command("search")
def knowledge_search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=50, help="How many sections.")] = 5,
    json: JsonOpt = False,
) -> None:
    """Search this project's packs (the same retrieval the gateway uses for prompts)."""
    params = {"q": query, "project_root": str(project_root()), "limit": limit}
    with context.client() as client:
        result = client.get("/v1/knowledge/search", params=params)
    if json:
        print_json(result)
        return
    if result.get("notice"):
        info(result["notice"])
    if not result["hits"]:
        info("no section matches")
        return
    for h in result["hits"]:
        preview = " ".join(h["content"].split())[:200]
        out().print(f"{h['title']}  [{h['doc_type']}, {h['pack']}]\n  {preview}", markup=False)


@app.command("rm")
def knowledge_rm(name: Annotated[str, typer.Argument(help="Pack name.")], json: JsonOpt = False) -> None:
    """Delete a pack of this project."""
    from urllib.parse import quote

    with context.client() as client:
        result = client.delete(f"/v1/knowledge/{quote(name, safe='')}", params={"project_root": str(project_root())})
    if json:
        print_json(result)
    else:
        info(f"deleted knowledge pack {result['deleted']}")
