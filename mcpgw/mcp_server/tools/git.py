"""``git_status``, ``git_diff``, ``git_log`` on the repository at the server's root.

Git runs without a shell, with repository-configured helpers that could run commands switched off
(external diff, textconv, fsmonitor), and paths checked by the sandbox.
"""

from __future__ import annotations

import os
import re
from typing import Annotated

import anyio
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from mcpgw.errors import UsageError
from mcpgw.mcp_server.tools.base import ToolContext, read_only

GIT_TIMEOUT_S = 30.0
MAX_DIFF_BYTES = 256_000
SAFE_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./@{}~^\-]{0,200}$")
SAFE_GIT = ["-c", "core.fsmonitor=false", "-c", "core.pager=cat", "-c", "color.ui=false", "--no-pager"]


class GitFile(BaseModel):
    path: str
    index: str = Field(description="Status in the index (porcelain X column; '?' untracked).")
    worktree: str = Field(description="Status in the work tree (porcelain Y column).")
    orig_path: str | None = None


class GitStatus(BaseModel):
    branch: str | None
    upstream: str | None
    ahead: int
    behind: int
    clean: bool
    files: list[GitFile]


class DiffStat(BaseModel):
    path: str
    added: int | None = Field(description="Lines added (None for binary files).")
    deleted: int | None


class GitDiff(BaseModel):
    staged: bool
    files: list[DiffStat]
    diff: str = Field(description="Unified diff text.")
    truncated: bool


class Commit(BaseModel):
    hash: str
    author: str
    email: str
    date: str = Field(description="Author date, ISO-8601.")
    subject: str


class GitLog(BaseModel):
    commits: list[Commit]


async def run_git(ctx: ToolContext, *args: str) -> str:
    """Run one git command in the root; a failure is a UsageError carrying git's message."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        with anyio.fail_after(GIT_TIMEOUT_S):
            done = await anyio.run_process(["git", *SAFE_GIT, *args], cwd=ctx.root, env=env, check=False)
    except TimeoutError as exc:
        raise UsageError(f"git {args[0]} took longer than {GIT_TIMEOUT_S:.0f} s") from exc
    except FileNotFoundError as exc:
        raise UsageError("git is not installed", fix="install git") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        text = message[0] if message else f"exit {done.returncode}"
        fix = "run the server with --root set to a git work tree" if "not a git repository" in text else None
        raise UsageError(f"git {args[0]} failed: {text}", fix=fix)
    return done.stdout.decode("utf-8", errors="replace")


def _pathspec(ctx: ToolContext, path: str | None) -> list[str]:
    if not path:
        return []
    return ["--", ctx.sandbox.rel(ctx.sandbox.resolve(path))]


def _branch_line(head: str) -> tuple[str | None, str | None, int, int]:
    """Parse the ``## main...origin/main [ahead 1, behind 2]`` line."""
    for prefix in ("No commits yet on ", "Initial commit on "):
        head = head.removeprefix(prefix)
    track = ""
    if head.endswith("]") and " [" in head:
        head, track = head[:-1].split(" [", 1)
    branch, _, upstream = head.partition("...")
    ahead = behind = 0
    for part in track.split(", "):
        if part.startswith("ahead "):
            ahead = int(part[6:])
        elif part.startswith("behind "):
            behind = int(part[7:])
    return (None if branch.startswith("HEAD (") else branch), (upstream or None), ahead, behind


def parse_status(out: str) -> GitStatus:
    """Parse ``git status --porcelain=v1 -z --branch``."""
    branch = upstream = None
    ahead = behind = 0
    files: list[GitFile] = []
    records = out.split("\0")
    i = 0
    while i < len(records):
        rec = records[i]
        i += 1
        if not rec:
            continue
        if rec.startswith("## "):
            branch, upstream, ahead, behind = _branch_line(rec[3:])
            continue
        x, y, path = rec[0], rec[1], rec[3:]
        orig = None
        if x in "RC":
            orig = records[i]
            i += 1
        files.append(GitFile(path=path, index=x, worktree=y, orig_path=orig))
    return GitStatus(branch=branch, upstream=upstream, ahead=ahead, behind=behind, clean=not files, files=files)


def register(server: MCPServer, ctx: ToolContext) -> None:
    @server.tool(
        annotations=read_only("Git status"),
        description=(
            "The git status of the repository at the root: branch, upstream, ahead/behind counts and every "
            "changed or untracked file with its index and work-tree status letters (porcelain format)."
        ),
    )
    async def git_status() -> GitStatus:
        return parse_status(await run_git(ctx, "status", "--porcelain=v1", "-z", "--branch"))

    @server.tool(
        annotations=read_only("Git diff"),
        description=(
            "The unified diff of uncommitted changes in the repository at the root: work tree against the "
            "index, or the index against HEAD with staged=true. Optionally limited to one path. Includes "
            "per-file added/deleted line counts; the text is capped at 256 KB."
        ),
    )
    async def git_diff(
        path: Annotated[
            str | None, Field(description="Limit to this file or directory (relative to the root).")
        ] = None,
        staged: Annotated[bool, Field(description="Diff the index against HEAD instead of the work tree.")] = False,
        context_lines: Annotated[int, Field(ge=0, le=100, description="Lines of context around changes.")] = 3,
    ) -> GitDiff:
        spec = _pathspec(ctx, path)
        base = ["diff", "--no-ext-diff", "--no-textconv", "--no-color"] + (["--cached"] if staged else [])
        numstat = await run_git(ctx, *base, "--numstat", "-z", *spec)
        text = await run_git(ctx, *base, f"-U{context_lines}", *spec)
        stats: list[DiffStat] = []
        fields = numstat.split("\0")
        i = 0
        while i < len(fields):
            rec = fields[i]
            i += 1
            if not rec:
                continue
            added, deleted, name = rec.split("\t", 2)
            if not name:  # a rename: the old and new names follow as their own fields
                name = fields[i + 1] if i + 1 < len(fields) else fields[i]
                i += 2
            stats.append(
                DiffStat(
                    path=name,
                    added=None if added == "-" else int(added),
                    deleted=None if deleted == "-" else int(deleted),
                )
            )
        data = text.encode()
        truncated = len(data) > MAX_DIFF_BYTES
        if truncated:
            text = data[:MAX_DIFF_BYTES].decode("utf-8", errors="ignore")
        return GitDiff(staged=staged, files=stats, diff=text, truncated=truncated)

    @server.tool(
        annotations=read_only("Git log"),
        description=(
            "Recent commits of the repository at the root (newest first): hash, author, email, ISO date and "
            "subject. Optionally from another ref (branch, tag, hash) and limited to one path."
        ),
    )
    async def git_log(
        max_count: Annotated[int, Field(ge=1, le=500, description="How many commits.")] = 20,
        ref: Annotated[str | None, Field(description="Branch, tag or commit to start from (default HEAD).")] = None,
        path: Annotated[str | None, Field(description="Only commits touching this path.")] = None,
    ) -> GitLog:
        if ref is not None and not SAFE_REF.match(ref):
            raise UsageError(f"{ref!r} is not a valid git ref", fix="pass a branch, tag or commit hash")
        fmt = "%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1e"
        out = await run_git(
            ctx,
            "log",
            f"--max-count={max_count}",
            f"--format={fmt}",
            *([ref] if ref else []),
            *(_pathspec(ctx, path) or ["--"]),
        )
        commits = []
        for rec in out.split("\x1e"):
            rec = rec.strip("\n")
            if not rec:
                continue
            h, author, email, date, subject = rec.split("\x1f", 4)
            commits.append(Commit(hash=h, author=author, email=email, date=date, subject=subject))
        return GitLog(commits=commits)
