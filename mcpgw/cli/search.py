"""``mcpgw search "QUERY"``, ``mcpgw search index [PATH]``, ``mcpgw search stats``.

``search`` is both a command (with a positional query) and a group: :class:`QueryGroup` sends anything
that is not a sub-command name to the hidden ``query`` command. Commands only parse flags into options
and call ``run_*`` functions, which tests drive with an in-process client.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from mcpgw.cli import context
from mcpgw.cli.output import coloured, err, escape, info, interactive, out, print_json
from mcpgw.errors import IndexError_, UsageError

if TYPE_CHECKING:
    from mcpgw.client import DaemonClient

THRESHOLD_HELP = "Drop results scoring below this (0-1; hybrid: the estimated chance that a hit is the answer)."


class QueryGroup(TyperGroup):
    """A group whose first argument, when it is not a sub-command, is a search query."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["query", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=QueryGroup,
    help='Semantic code search. mcpgw search "QUERY" [options] | mcpgw search index [PATH] | mcpgw search stats',
    no_args_is_help=True,
)

POLL_S = 0.2
SNIPPET_LINES = 8


@dataclass
class QueryOptions:
    query: str
    root: Path
    types: list[str] = field(default_factory=list)
    path: str | None = None
    top_k: int = 10
    threshold: float = 0.0
    mode: str = "hybrid"
    rerank: bool | None = None


def run_search(client: DaemonClient, opts: QueryOptions) -> dict[str, Any]:
    """Ask the daemon; returns ``{"root", "mode", "notice", "results": [...]}`` with paths relative to root."""
    if not opts.query.strip():
        raise UsageError("the search query is empty", fix='mcpgw search "what you are looking for"')
    data: dict[str, Any] = client.post(
        "/v1/search",
        json={
            "query": opts.query,
            "root": str(opts.root.expanduser().absolute()),
            "type": opts.types,
            "path": opts.path,
            "top_k": opts.top_k,
            "threshold": opts.threshold,
            "mode": opts.mode,
            "rerank": opts.rerank,
        },
    )
    return data


def run_index(client: DaemonClient, root: Path, *, progress: bool) -> dict[str, Any]:
    """Start an index run and follow it to the end (with a progress bar on stderr when asked)."""
    job: dict[str, Any] = client.post("/v1/search/index", json={"root": str(root)})
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (
            TextColumn("indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
        )
        with Progress(*columns, console=err(), transient=True) as bar:
            task = bar.add_task("", total=None)
            while job["state"] == "running":
                time.sleep(POLL_S)
                job = client.get(f"/v1/search/jobs/{job['id']}")
                bar.update(
                    task, completed=job["done"], total=job["total"] or None, description=escape(job["current"][-50:])
                )
    else:
        while job["state"] == "running":
            time.sleep(POLL_S)
            job = client.get(f"/v1/search/jobs/{job['id']}")
    if job["state"] == "failed":
        error = job["error"] or {}
        raise IndexError_(error.get("message", "indexing failed"), fix=error.get("fix"))
    summary: dict[str, Any] = job["summary"]
    return summary


def run_stats(client: DaemonClient, root: Path | None) -> dict[str, Any]:
    params = {"root": str(root.expanduser().absolute())} if root else None
    data: dict[str, Any] = client.get("/v1/search/stats", params=params)
    return data


# --- rendering ----------------------------------------------------------------------------------------


def _snippet(hit: dict[str, Any], words: list[str]) -> tuple[str, int, set[int]]:
    """The most relevant ``SNIPPET_LINES`` lines of a hit, their first line number, lines to highlight."""
    lines = hit["text"].split("\n")
    pattern = re.compile("|".join(re.escape(w) for w in words), re.I) if words else None
    marked = {i for i, line in enumerate(lines) if pattern and pattern.search(line)}
    best = 0
    if marked and len(lines) > SNIPPET_LINES:
        best = max(
            range(len(lines) - SNIPPET_LINES + 1), key=lambda s: (sum(s <= i < s + SNIPPET_LINES for i in marked), -s)
        )
    window = lines[best : best + SNIPPET_LINES]
    first = hit["start_line"] + best
    return "\n".join(window), first, {first + i - best for i in marked if best <= i < best + SNIPPET_LINES}


_LEXERS = {"tsx": "tsx", "markdown": "markdown", "text": "text"}


def plain_snippet(code: str, first: int, highlight: set[int]) -> str:
    """A snippet laid out as rich's ``Syntax`` lays it out, without colours: ``❱`` marks a matching line."""
    lines = code.split("\n")
    width = len(str(first + len(lines) - 1))
    return "\n".join(
        f"{'❱' if first + i in highlight else ' '} {first + i:>{width}} {line.expandtabs(4)}".rstrip()
        for i, line in enumerate(lines)
    )


def notes(data: dict[str, Any], threshold: float) -> None:
    """What stderr should say about an answer: the daemon's notice; why there are no results."""
    if data.get("notice"):
        info(f"note: {data['notice']}")
    if data["results"]:
        return
    below, best = data.get("below_threshold") or 0, data.get("best_below_threshold")
    if below and best is not None:
        meaning = " (a hybrid score estimates the chance that a hit is the answer)" if data["mode"] == "hybrid" else ""
        info(
            f"no matches scoring {threshold:g} or more in {data['root']}: {below} scored less, the best "
            f"{best:.2f}{meaning}; lower --threshold to see them"
        )
    else:
        info(f"no matches in {data['root']}")


def render_results(data: dict[str, Any], query: str, threshold: float = 0.0) -> None:
    notes(data, threshold)
    results = data["results"]
    if not results:
        return
    words = [w for w in re.findall(r"\w{3,}", query)]
    if not coloured():  # piped or NO_COLOR: the same layout, without rich's and pygments' start-up
        blocks = []
        for hit in results:
            code, first, highlight = _snippet(hit, words)
            more = "\n   …" if hit["end_line"] - first + 1 > SNIPPET_LINES else ""
            blocks.append(
                f"📂 {hit['path']} (lines {hit['start_line']}-{hit['end_line']}) - similarity: {hit['score']:.2f}\n"
                f"{plain_snippet(code, first, highlight)}{more}\n\n"
            )
        sys.stdout.write("".join(blocks))
        return
    from rich.syntax import Syntax

    console = out()
    for hit in results:
        where = f"(lines {hit['start_line']}-{hit['end_line']})"
        console.print(f"📂 [bold]{escape(hit['path'])}[/] {where} - similarity: {hit['score']:.2f}")
        code, first, highlight = _snippet(hit, words)
        lexer = _LEXERS.get(hit["language"], hit["language"])
        console.print(
            Syntax(
                code,
                lexer,
                line_numbers=True,
                start_line=first,
                highlight_lines=highlight,
                word_wrap=False,
                theme="ansi_dark",
                background_color="default",
            )
        )
        if hit["end_line"] - first + 1 > SNIPPET_LINES:
            console.print("   …", style="dim")
        console.print()


def _n(count: int, noun: str) -> str:
    """``3 files``, ``1 file``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render_summary(summary: dict[str, Any]) -> None:
    skipped = summary.get("skipped") or {}
    skipped_text = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in skipped.items()) or "none"
    info(
        f"indexed {summary['root']}: {_n(summary['files'], 'file')}, {_n(summary['chunks'], 'chunk')} "
        f"({_n(summary['indexed'], 'file')} updated, {summary['unchanged']} unchanged, {summary['removed']} removed, "
        f"{_n(summary['embedded'], 'chunk')} embedded) in {summary['seconds']:.1f} s; skipped: {skipped_text}"
    )
    if summary.get("notice"):
        info(f"note: {summary['notice']}")


# --- commands -----------------------------------------------------------------------------------------


@app.command("query", hidden=True)
def search_query(
    query: Annotated[str, typer.Argument(help="What to look for, in words or code.")],
    root: Annotated[Path, typer.Option("--root", help="Project to search (default: the current directory).")] = Path(),
    type_: Annotated[
        list[str] | None, typer.Option("--type", help="Language or extension: py, ts, go, sql … (repeatable).")
    ] = None,
    path: Annotated[str | None, typer.Option("--path", help="Glob on the relative path, e.g. 'src/*'.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=1000, help="How many results.")] = 10,
    threshold: Annotated[float, typer.Option("--threshold", help=THRESHOLD_HELP)] = 0.0,
    mode: Annotated[str, typer.Option("--mode", help="hybrid, semantic or keyword.")] = "hybrid",
    rerank: Annotated[
        bool | None,
        typer.Option(
            "--rerank/--no-rerank",
            help="Hybrid: re-read the best hits with the cross-encoder (~30 ms more; default: search.rerank).",
        ),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search the indexed project for QUERY."""
    if mode not in ("hybrid", "semantic", "keyword"):
        raise UsageError(f"unknown mode {mode!r}", fix="use --mode hybrid, semantic or keyword")
    types = [t for value in type_ or [] for t in value.split(",") if t]
    opts = QueryOptions(query, root, types, path, top_k, threshold, mode, rerank)
    with context.client() as client:
        data = run_search(client, opts)
    if json:
        print_json(
            [
                {k: h[k] for k in ("path", "start_line", "end_line", "score", "text", "language", "kind")}
                for h in data["results"]
            ]
        )
        notes(data, threshold)  # stderr: stdout stays the JSON list
    else:
        render_results(data, query, threshold)


@app.command("index")
def search_index(
    path: Annotated[
        Path | None, typer.Argument(help="Directory to index (default: the git root of the current directory).")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Index (or update the index of) a project; unchanged files are skipped."""
    from mcpgw.config import find_git_root

    target = (path or find_git_root(Path.cwd()) or Path.cwd()).expanduser().absolute()
    if not target.is_dir():
        raise UsageError(f"{target} is not a directory", fix="mcpgw search index PATH-TO-A-PROJECT")
    with context.client() as client:
        summary = run_index(client, target, progress=interactive() and not json)
    if json:
        print_json(summary)
    else:
        render_summary(summary)


@app.command("stats")
def search_stats(
    root: Annotated[Path | None, typer.Option("--root", help="Only this project.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What is indexed: files, chunks, vectors, languages, embedder, last run."""
    with context.client() as client:
        data = run_stats(client, root)
    if json:
        print_json(data)
        return
    if not data["roots"]:
        info("nothing indexed yet: run `mcpgw search index`")
    for r in data["roots"]:
        langs = ", ".join(f"{k} {v}" for k, v in list(r["languages"].items())[:6])
        out().print(
            f"{escape(r['root'])}: {_n(r['files'], 'file')}, {_n(r['chunks'], 'chunk')}, {_n(r['vectors'], 'vector')} "
            f"({escape(str(r['embedder'] or 'keyword only'))}); {escape(langs)}; indexed {r['indexed_at']}",
        )
