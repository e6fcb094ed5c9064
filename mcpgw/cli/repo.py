"""``mcpgw repo``: the project graph and ranked repo map (``map``), and change impact (``related``).

The daemon builds the map (its database holds the per-file tag cache); this module only turns flags
into a request, shows progress on cold builds and writes the answer. No tree-sitter or numpy here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mcpgw.errors import MCPGWError, UsageError

if TYPE_CHECKING:
    from mcpgw.client import DaemonClient

app = typer.Typer(help="Project graph and ranked repo map of a code base.", no_args_is_help=True)

FORMATS = ("json", "text", "mermaid", "dot")
_BY_SUFFIX = {
    ".json": "json",
    ".txt": "text",
    ".md": "text",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
    ".dot": "dot",
    ".gv": "dot",
}
_PICTURE_SUFFIXES = (".svg", ".html")


@dataclass(frozen=True)
class RepoMapOptions:
    path: Path
    format: str
    output: Path | None = None
    visualize: Path | None = None  # where the SVG/HTML picture goes
    focus: tuple[str, ...] = ()
    tokens: int = 1024
    include_tests: bool = True
    max_depth: int | None = None


@dataclass
class RepoMapResult:
    response: dict[str, Any]
    written: list[Path]
    stdout: str | None  # what to print when nothing was written to --output


def _git_root(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def map_options(
    path: Path | None,
    output: Path | None,
    fmt: str | None,
    visualize: bool,
    focus: list[str] | None,
    tokens: int,
    include_tests: bool,
    max_depth: int | None,
    as_json: bool,
    cwd: Path,
) -> RepoMapOptions:
    """Flags -> options: resolve paths, infer the format from ``--output``'s suffix, check values."""
    root = (cwd / path).resolve() if path is not None else (_git_root(cwd) or cwd)
    if not root.is_dir():
        raise UsageError(f"{path}: no such directory", fix="pass the project directory (default: the git root)")
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}", fix="e.g. --format text")
    if tokens <= 0:
        raise UsageError(f"--tokens must be positive, got {tokens}", fix="e.g. --tokens 1024")
    if max_depth is not None and max_depth < 0:
        raise UsageError(f"--max-depth must be 0 or more, got {max_depth}", fix="e.g. --max-depth 3")
    picture: Path | None = None
    out = (cwd / output) if output is not None else None
    if out is not None and out.suffix.lower() in _PICTURE_SUFFIXES:
        picture, out = out, None
    elif visualize:
        picture = out.with_suffix(".svg") if out is not None else cwd / "repo-map.svg"
    if as_json:
        fmt = "json"
    if fmt is None:
        fmt = _BY_SUFFIX.get(out.suffix.lower(), "json") if out is not None else "text"
    focus_paths = []
    for item in focus or []:
        for part in item.split(","):
            if part.strip():
                focus_paths.append(str((cwd / part.strip()).resolve()))
    return RepoMapOptions(root, fmt, out, picture, tuple(focus_paths), tokens, include_tests, max_depth)


def run_repo_map(
    client: DaemonClient, opts: RepoMapOptions, progress: Callable[[int, int], None] | None = None
) -> RepoMapResult:
    """Ask the daemon for the map (streamed, for progress), then write ``--output`` and the picture."""
    body = {
        "path": str(opts.path),
        "format": opts.format,
        "focus": list(opts.focus),
        "tokens": opts.tokens,
        "includeTests": opts.include_tests,
        "maxDepth": opts.max_depth,
        "visualize": opts.visualize is not None,
        "stream": True,
    }
    response: dict[str, Any] | None = None
    with client.stream("POST", "/v1/repo/map", json=body) as stream:
        for line in stream.iter_lines():
            if not line.strip():
                continue
            event = json.loads(line)
            if event.get("type") == "progress" and progress is not None:
                progress(int(event["done"]), int(event["total"]))
            elif event.get("type") == "error":
                raise MCPGWError(str(event.get("detail")), fix=event.get("fix"))
            elif event.get("type") == "result":
                response = event
    if response is None:
        raise MCPGWError("the daemon ended the repo map answer early", fix="see `mcpgw daemon logs`")
    text = (
        json.dumps(response["graph"], indent=2, ensure_ascii=False) + "\n"
        if opts.format == "json"
        else str(response.get("output", ""))
    )
    written: list[Path] = []
    if opts.output is not None:
        _write(opts.output, text)
        written.append(opts.output)
    if opts.visualize is not None and response.get("svg"):
        svg = str(response["svg"])
        if opts.visualize.suffix.lower() == ".html":
            svg = f"<!doctype html>\n<meta charset='utf-8'>\n<title>repo map</title>\n<body>\n{svg}</body>\n"
        _write(opts.visualize, svg)
        written.append(opts.visualize)
    return RepoMapResult(response, written, None if opts.output is not None else text)


def _write(path: Path, text: str) -> None:
    """Write atomically: a temporary sibling, then rename, so a failure never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror}", fix="choose a writable --output path") from exc


def run_repo_related(client: DaemonClient, root: Path, file: Path, limit: int) -> dict[str, Any]:
    result: dict[str, Any] = client.post(
        "/v1/repo/related", json={"path": str(root), "file": str(file), "limit": limit}
    )
    return result


@app.command("map")
def repo_map(
    path: Annotated[Path | None, typer.Argument(help="Project directory (default: the git root, else here).")] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file (.json/.txt/.mmd/.dot pick the format; .svg/.html write the picture).",
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="json (the ProjectGraph), text (ranked signatures), mermaid or dot. "
            "Default: text on stdout, else from --output's suffix.",
        ),
    ] = None,
    visualize: Annotated[
        bool, typer.Option("--visualize", help="Also write a self-contained SVG of the module graph.")
    ] = False,
    focus: Annotated[
        list[str] | None,
        typer.Option(
            "--focus", help="File(s) in focus; ranking is personalised toward them (repeat or comma-separate)."
        ),
    ] = None,
    tokens: Annotated[
        int,
        typer.Option(
            "--tokens",
            "-t",
            help="Token budget of the text map (estimated as the mean of chars/4 and "
            "words+punctuation; the map lands within 10% of it).",
        ),
    ] = 1024,
    include_tests: Annotated[bool, typer.Option("--include-tests/--no-tests", help="Map test files too.")] = True,
    max_depth: Annotated[
        int | None, typer.Option("--max-depth", help="Directory levels below PATH to include (0 = top only).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Map a project: files, classes, functions and their imports/calls, ranked by PageRank."""
    from mcpgw.cli.context import client
    from mcpgw.cli.output import err, info

    opts = map_options(path, output, fmt, visualize, focus, tokens, include_tests, max_depth, as_json, Path.cwd())
    with client() as daemon:
        if err().is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(
                TextColumn("parsing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err(),
                transient=True,
            ) as bar:
                task = bar.add_task("parse", total=None)
                result = run_repo_map(daemon, opts, lambda done, total: bar.update(task, completed=done, total=total))
        else:
            result = run_repo_map(daemon, opts)
    if result.stdout is not None:
        typer.echo(result.stdout, nl=False)
    stats = result.response.get("stats", {})
    summary = (
        f"mapped {stats.get('files', 0)} files ({stats.get('parsed', 0)} parsed, {stats.get('cached', 0)} "
        f"cached) in {stats.get('seconds', 0)} s"
    )
    if "textMap" in result.response:
        tm = result.response["textMap"]
        summary += f"; text map {tm['tokens']}/{tm['budget']} tokens, {tm['definitions']} definitions"
    info(summary)
    for written in result.written:
        info(f"wrote {written}")


@app.command("related")
def repo_related(
    file: Annotated[Path, typer.Argument(help="The file you are changing.")],
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many files to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the files most likely affected by a change to FILE (reverse dependencies, ranked)."""
    from mcpgw.cli.context import client
    from mcpgw.cli.output import out, print_json

    target = (Path.cwd() / file).resolve()
    if not target.is_file():
        raise UsageError(f"{file}: no such file", fix="pass a file of the project")
    if limit <= 0:
        raise UsageError(f"--limit must be positive, got {limit}", fix="e.g. --limit 20")
    root = _git_root(target.parent) or target.parent
    with client() as daemon:
        result = run_repo_related(daemon, root, target, limit)
    if as_json:
        print_json(result)
        return
    if not result["related"]:
        out().print(f"nothing in {result['root']} depends on {result['file']}", markup=False)
        return
    for row in result["related"]:
        out().print(f"{row['score']:.4f}  {row['distance']}  {row['path']}  ({row['relation']})", markup=False)
