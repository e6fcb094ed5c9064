"""``mcpgw history [--last N] [--mode M] [--failed] [--search TEXT] [--json]``, ``mcpgw history rm ID|--before
DATE`` and ``mcpgw replay ID [--dry-run] [--update-files]``.

Import-light on purpose (no rich, no httpx when the daemon is up): ``mcpgw history`` is a one-shot command
with a 150 ms budget. Entries live in the daemon; the recording side is :mod:`mcpgw.history`.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import typer

from mcpgw.cli import context

app = typer.Typer(
    help="Commands you ran: list (default), search, delete. Replay one with `mcpgw replay ID`.",
    invoke_without_command=True,
)

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class ListOptions:
    last: int = 20
    mode: str | None = None
    failed: bool = False
    search: str | None = None
    json: bool = False


def _call(method: str, path: str, body: Any = None) -> Any:
    from mcpgw.history import daemon_call

    return daemon_call(context.paths(), method, path, body)


def list_query(opts: ListOptions) -> str:
    params: dict[str, str | int] = {"last": opts.last}
    if opts.mode:
        params["mode"] = opts.mode
    if opts.failed:
        params["failed"] = "true"
    if opts.search:
        params["search"] = opts.search
    return "/v1/history?" + urlencode(params)


def command_line(entry: dict[str, Any]) -> str:
    """The command as typed, without the program name: ``apply --yes fix.diff``."""
    return " ".join([entry["command"], *(shlex.quote(a) for a in entry["args"])])


def _when(timestamp: str, now: datetime) -> str:
    try:
        moment = datetime.fromisoformat(timestamp).astimezone()
    except ValueError:
        return timestamp
    if moment.date() == now.date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")


def _cost(cost: float) -> str:
    if not cost:
        return "-"
    return f"${cost:.3f}" if cost >= 0.001 else f"${cost:.6f}"


def format_table(entries: list[dict[str, Any]], width: int, now: datetime | None = None) -> str:
    """The roadmap's table: ID | Time | Command | Cost | Status, the command cut to fit ``width``."""
    now = now or datetime.now().astimezone()
    rows = [
        (e["id"], _when(e["timestamp"], now), command_line(e), _cost(float(e["cost"] or 0)),
         "✓" if e["success"] else "✗")
        for e in entries
    ]
    head = ("ID", "Time", "Command", "Cost", "Status")
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(5)]
    fixed = widths[0] + widths[1] + widths[3] + widths[4] + 4 * 3
    widths[2] = max(len(head[2]), min(widths[2], width - fixed))

    def line(cells: tuple[str, ...]) -> str:
        text = cells[2] if len(cells[2]) <= widths[2] else cells[2][: widths[2] - 1] + "…"
        parts = (cells[0], cells[1], text, cells[3], cells[4])
        return " | ".join(p.ljust(widths[i]) for i, p in enumerate(parts)).rstrip()

    out = [line(head), "-|-".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def run_history_list(opts: ListOptions) -> None:
    import shutil

    from mcpgw.cli.output import print_json

    entries: list[dict[str, Any]] = _call("GET", list_query(opts))["entries"]
    if opts.json:
        print_json(entries)
        return
    if not entries:
        print("no matching history entries" if (opts.mode or opts.failed or opts.search) else "no history yet",
              file=sys.stderr)
        return
    print(format_table(entries, shutil.get_terminal_size((100, 24)).columns))


@app.callback()
def history_list(
    ctx: typer.Context,
    last: Annotated[int, typer.Option("--last", "-n", min=1, help="How many entries (newest first).")] = 20,
    mode: Annotated[str | None, typer.Option("--mode", help="Only this mode: chat, code, diff, analyze, …")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only commands that failed.")] = False,
    search: Annotated[str | None, typer.Option("--search", help="Only entries containing TEXT.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the commands you ran, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    run_history_list(ListOptions(last, mode, failed, search, json))


def parse_before(text: str, now: datetime | None = None) -> str:
    """``--before``: an ISO date/time (local time when it has no offset) or an age like ``7d``, ``12h``, ``2w``."""
    from mcpgw.errors import UsageError

    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip())
    if match:
        moment = now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError as exc:
            raise UsageError(
                f"--before {text!r} is not a date", fix="use an ISO date/time (2026-01-31, 2026-01-31T09:00) or 7d/12h"
            ) from exc
        if moment.tzinfo is None:
            moment = moment.astimezone()  # the user's local time
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@app.command("rm")
def history_rm(
    entry_id: Annotated[str | None, typer.Argument(metavar="ID", help="The entry to delete.")] = None,
    before: Annotated[
        str | None, typer.Option("--before", metavar="DATE", help="Delete entries older than DATE (ISO or 7d/12h).")
    ] = None,
) -> None:
    """Delete one entry, or every entry recorded before a date."""
    from mcpgw.errors import UsageError

    if (entry_id is None) == (before is None):
        raise UsageError("give either an ID or --before DATE", fix="e.g. `mcpgw history rm 1a2b3c4d`")
    if entry_id is not None:
        result = _call("DELETE", "/v1/history/" + quote(entry_id, safe=""))
        print(f"deleted history entry {result['ids'][0]}", file=sys.stderr)
    else:
        assert before is not None
        result = _call("DELETE", "/v1/history?" + urlencode({"before": parse_before(before)}))
        n = int(result["deleted"])
        print(f"deleted {n} history entr{'y' if n == 1 else 'ies'} before {result['before']}", file=sys.stderr)


# ---- replay ----


@dataclass(frozen=True)
class ReplayOptions:
    entry_id: str
    dry_run: bool = False
    update_files: bool = False


def file_changes(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """Input files of the entry whose content differs now: (path, "changed" | "deleted")."""
    from mcpgw.history import sha256_file

    base = Path(entry.get("cwd") or ".")
    changes: list[tuple[str, str]] = []
    for f in entry.get("files") or []:
        path = base / f["path"]
        if not path.exists():
            changes.append((f["path"], "deleted"))
        elif f.get("sha256") and sha256_file(path) != f["sha256"]:
            changes.append((f["path"], "changed"))
    return changes


def replay_argv(entry: dict[str, Any]) -> list[str]:
    return [*str(entry["command"]).split(), *entry["args"]]


def run_replay(opts: ReplayOptions) -> int:
    """Warn about changed inputs, then re-run the command in its original directory; returns its exit code."""
    import subprocess

    from mcpgw.errors import UsageError

    entry: dict[str, Any] = _call("GET", "/v1/history/" + quote(opts.entry_id, safe=""))
    argv = replay_argv(entry)
    shown = "mcpgw " + shlex.join(argv)
    cwd = Path(entry.get("cwd") or Path.cwd())
    changes = file_changes(entry)
    if changes:
        plural = "s" if len(changes) != 1 else ""
        print(f"! {len(changes)} file{plural} changed since the original run:", file=sys.stderr)
        for path, what in changes:
            print(f"  - {path} ({what})", file=sys.stderr)
    if opts.dry_run:
        print(f"Would run: {shown}")
        print(f"       in: {cwd}")
        return 0
    if not cwd.is_dir():
        raise UsageError(f"the original directory {cwd} no longer exists", fix=f"run it yourself: {shown}")
    if changes and not opts.update_files:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise UsageError(
                "inputs changed since the original run; not replaying",
                fix="pass --update-files to replay against the files as they are now (--dry-run shows the command)",
            )
        if not typer.confirm("Replay against the files as they are now?", default=False, err=True):
            return 1
    print(f"replaying {entry['id']}: {shown}", file=sys.stderr)
    return subprocess.call([sys.executable, "-m", "mcpgw", *argv], cwd=cwd)


def replay_cmd(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="The history entry (see `mcpgw history`).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the command; run and change nothing.")] = False,
    update_files: Annotated[
        bool, typer.Option("--update-files", help="Replay even though input files changed, using them as they are now.")
    ] = False,
) -> None:
    """Re-run a command from the history (warns first when its input files changed)."""
    code = run_replay(ReplayOptions(entry_id, dry_run, update_files))
    if code:
        raise typer.Exit(code)


def register(root: typer.Typer) -> None:
    """Wire ``mcpgw replay`` as a top-level command (the ``history`` group is ``app``)."""
    root.command("replay")(replay_cmd)
