"""Client-side command history: each ``mcpgw`` command is recorded in the daemon after it ends.

``run_recorded(app)`` runs the Typer app and records what ran (command, arguments, input files with their
SHA-256, cwd, git commit, duration, success or error). A command that goes through the gateway adds
cost, models, conversation and trace ids to the record with :func:`current` (``note_result``).

Recording never autostarts the daemon, never fails the command and never slows it noticeably: it is one
``POST /v1/history`` over the socket with a short timeout, sent only when the socket exists. The
transport is ``http.client`` on a raw Unix socket rather than httpx, so ``mcpgw history`` stays fast.
Set ``MCPGW_HISTORY=0`` to record nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcpgw import errors

if TYPE_CHECKING:
    import typer

    from mcpgw.paths import Paths

# Commands that are not worth recording: reading history, replays (the replayed command records itself),
# and daemon management.
NOT_RECORDED = frozenset({"history", "replay", "daemon"})
# The roadmap's modes; other commands use their own name as the mode.
MODES: dict[str, str] = {"chat": "chat", "code": "code", "apply": "diff", "diff": "diff", "analyze": "analyze"}
RECORD_TIMEOUT_S = 0.5
MAX_HASHED_FILES = 50
MAX_HASH_BYTES = 64 * 1024 * 1024


def sha256_file(path: Path) -> str | None:
    """The file's SHA-256 hex digest; None when it is missing, unreadable or too large to hash quickly."""
    try:
        if path.stat().st_size > MAX_HASH_BYTES:
            return None
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return None


def iso_utc(ts: float) -> str:
    """A unix time as the store's ISO-8601 UTC text (``2026-11-25T10:30:00.123Z``)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def git_commit(start: Path) -> str | None:
    """HEAD's commit id of the repository containing ``start``, read from ``.git`` (no subprocess)."""
    for candidate in (start, *start.parents):
        dot_git = candidate / ".git"
        if dot_git.is_dir():
            git_dir = dot_git
        elif dot_git.is_file():  # worktree or submodule: "gitdir: <path>"
            try:
                text = dot_git.read_text().strip()
            except OSError:
                return None
            if not text.startswith("gitdir:"):
                return None
            git_dir = (candidate / text[len("gitdir:") :].strip()).resolve()
        else:
            continue
        return _resolve_head(git_dir)
    return None


def _resolve_head(git_dir: Path) -> str | None:
    try:
        head = (git_dir / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head[4:].strip()
    common = git_dir
    with contextlib.suppress(OSError):
        common = (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
    for base in (git_dir, common):
        with contextlib.suppress(OSError):
            return (base / ref).read_text().strip() or None
    with contextlib.suppress(OSError):
        for line in (common / "packed-refs").read_text().splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    return None  # a branch with no commits yet


@dataclass
class Record:
    """What one command did; commands fill in the gateway facts while they run."""

    command: str
    args: list[str]
    started_at: float = field(default_factory=time.time)
    cwd: str = field(default_factory=os.getcwd)
    mode: str | None = None
    files: dict[str, str | None] = field(default_factory=dict)
    conversation_id: str | None = None
    trace_id: str | None = None
    project_id: str | None = None
    cost: float = 0.0
    models: list[str] = field(default_factory=list)

    def add_files(self, paths: Iterable[str | Path]) -> None:
        """Remember input files and their current content hash (call before changing them)."""
        for p in paths:
            if len(self.files) >= MAX_HASHED_FILES:
                return
            key = str(p)
            if key not in self.files:
                self.files[key] = sha256_file(Path(self.cwd, p))

    def note_result(self, result: Mapping[str, Any]) -> None:
        """Add a gateway answer (the native envelope, or a GatewayResult dump) to the record."""
        routing = result.get("routing") or {}
        context = result.get("context") or {}
        performance = result.get("performance") or {}
        model = routing.get("model")
        if model and model not in self.models:
            self.models.append(str(model))
        self.cost += float(performance.get("cost_usd") or 0.0)
        self.conversation_id = context.get("conversation_id") or self.conversation_id
        self.trace_id = context.get("trace_id") or self.trace_id

    def extra(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "files": [{"path": p, "sha256": h} for p, h in self.files.items()],
            "conversation_id": self.conversation_id,
            "trace_id": self.trace_id,
            "project_id": self.project_id,
            "cost": round(self.cost, 8),
            "models": self.models,
            "cwd": self.cwd,
            "git_commit": git_commit(Path(self.cwd)),
        }


_current: Record | None = None


def current() -> Record | None:
    """The record of the command running now (None outside :func:`run_recorded` or when not recorded)."""
    return _current


def split_command(root: Any, argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split argv into the sub-command path (``["daemon", "start"]``) and the rest, using the click tree."""
    path: list[str] = []
    node = root
    for i, token in enumerate(argv):
        commands = getattr(node, "commands", None)
        if token.startswith("-") or not isinstance(commands, dict) or token not in commands:
            return path, list(argv[i:])
        path.append(token)
        node = commands[token]
    return path, []


def should_record(path: Sequence[str], rest: Sequence[str]) -> bool:
    if not path or path[0] in NOT_RECORDED:
        return False
    if os.environ.get("MCPGW_HISTORY", "1") in ("0", "false", "no", "off"):
        return False
    return not any(a in ("-h", "--help") for a in rest)


def run_recorded(app: typer.Typer, argv: Sequence[str] | None = None) -> None:
    """Run the CLI app on ``argv`` (default ``sys.argv[1:]``), then record the command in the history.

    Exceptions and ``SystemExit`` pass through unchanged: recording happens on the way out.
    """
    global _current
    import typer.main

    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    path, rest = split_command(command, args)
    if not should_record(path, rest):
        command(args=args, prog_name="mcpgw")
        return
    rec = Record(" ".join(path), rest, mode=MODES.get(path[0], path[0]))
    rec.add_files(a for a in rest if not a.startswith("-") and Path(rec.cwd, a).is_file())
    _current = rec
    success, error = False, None
    try:
        command(args=args, prog_name="mcpgw")
        success = True
    except SystemExit as exc:
        success = exc.code in (0, None)
        if not success:
            error = f"exit code {exc.code}"
        raise
    except errors.MCPGWError as exc:
        error = exc.message
        raise
    except KeyboardInterrupt:
        error = "interrupted"
        raise
    except BaseException as exc:  # recorded and re-raised untouched
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        _current = None
        record(rec.command, rec.args, rec.started_at, success, error, rec.extra())


def record(
    command: str,
    args: Sequence[str],
    started_at: float,
    success: bool,
    error: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str | None:
    """Send one history entry to the daemon if it is running. Returns its id, or None when not recorded.

    Never raises and never starts the daemon: history is a convenience, the command's outcome is not.
    """
    payload: dict[str, Any] = {
        "command": command,
        "args": list(args),
        "timestamp": iso_utc(started_at),
        "success": success,
        "error": error[:2000] if error else None,
        "duration_ms": max(0, int((time.time() - started_at) * 1000)),
    }
    payload.update({k: v for k, v in (extra or {}).items() if k not in payload})
    try:
        from mcpgw.paths import resolve_paths

        paths = resolve_paths()
        if not paths.socket_path.exists():
            return None
        from mcpgw.daemonctl import socket_request

        answer = socket_request(paths, "POST", "/v1/history", payload, timeout=RECORD_TIMEOUT_S)
        status, body = answer.status, answer.json()
    except (OSError, ValueError, errors.MCPGWError):
        return None
    if status != 200 or not isinstance(body, dict):
        return None
    return str(body.get("id")) if body.get("id") else None


def daemon_call(paths: Paths, method: str, path: str, body: Any = None, *, timeout: float = 30.0) -> Any:
    """Call the daemon (on its socket directly when it is up, else through httpx, which starts it).

    Error answers become the matching :mod:`mcpgw.errors` exception.
    """
    from mcpgw.client import DaemonClient

    with DaemonClient(paths, timeout=timeout) as client:
        return client.call(method, path, body)
