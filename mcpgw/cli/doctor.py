"""``mcpgw doctor [--json] [-v]``: one line per check (✓ / ! / ✗), a ``Fix:`` line under each problem, a
summary line; exit 1 when a check fails. Never starts the daemon: when it is down the daemon-side checks
run here against the database file (read-only)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mcpgw.cli import context

if TYPE_CHECKING:
    from mcpgw.doctor import Check
    from mcpgw.paths import Paths

MARKS = {"pass": "✓", "warn": "!", "fail": "✗"}
COLORS = {"pass": "32", "warn": "33", "fail": "31"}
DAEMON_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class DoctorOptions:
    json: bool = False
    verbose: bool = False


def collect(paths: Paths, cwd: Path, verbose: bool = False) -> list[Check]:
    """Every check: the CLI's own, then the daemon's (from ``GET /v1/doctor``, or run here when it is down)."""
    from mcpgw.doctor import Check, check_daemon, check_version, host_checks, local_checks

    daemon_check, info = check_daemon(paths)
    if info is not None:
        # the daemon validates the config and the policy file too: no pydantic import here (fast)
        checks = [daemon_check, check_version(info), *_from_daemon(paths, verbose, cwd)]
        return [*checks, *host_checks(paths, cwd)]
    checks, info, settings = local_checks(paths, cwd)
    if settings is not None:
        import asyncio

        from mcpgw.doctor import offline_view

        checks += asyncio.run(offline_view(paths, settings, os.environ))
    else:
        checks.append(Check(
            "daemon checks", "fail", "skipped: the config is invalid (database, providers and budget not checked)",
            fix="fix the config first (see the config line above)",
        ))
    return [*checks, *host_checks(paths, cwd)]


def _from_daemon(paths: Paths, verbose: bool, cwd: Path) -> list[Check]:
    from urllib.parse import quote

    from mcpgw.daemonctl import socket_request
    from mcpgw.doctor import Check

    query = f"verbose={str(verbose).lower()}&cwd={quote(str(cwd))}"
    try:
        answer = socket_request(paths, "GET", f"/v1/doctor?{query}", timeout=DAEMON_TIMEOUT_S)
        status, data = answer.status, answer.json()
    except (OSError, ValueError) as exc:
        return [Check("daemon checks", "fail", f"the daemon did not answer GET /v1/doctor: {exc}",
                      fix="see `mcpgw daemon logs`; `mcpgw daemon restart`")]
    if status != 200 or not isinstance(data, dict) or not isinstance(data.get("checks"), list):
        detail = data.get("detail") if isinstance(data, dict) else None
        return [Check("daemon checks", "fail", f"GET /v1/doctor answered {status}: {detail or data}",
                      fix="`mcpgw daemon restart` (an older daemon may not have this route)")]
    return [Check.from_json(c) for c in data["checks"]]


def render(checks: list[Check], *, verbose: bool = False, color: bool = False) -> str:
    """The human report: aligned names, a Fix: line under each problem, details with -v, a summary line."""
    from mcpgw.doctor import summary

    width = max((len(c.name) for c in checks), default=0)
    lines: list[str] = []
    for c in checks:
        mark = MARKS[c.status]
        if color:
            mark = f"\x1b[{COLORS[c.status]}m{mark}\x1b[0m"
        lines.append(f"{mark} {c.name.ljust(width)}  {c.message}")
        if c.fix and c.status != "pass":
            lines.append(f"  {' ' * width}  Fix: {c.fix}")
        if verbose:
            lines += [f"  {' ' * width}  {k}: {v}" for k, v in c.details.items()]
    counts = summary(checks)
    lines.append("")
    lines.append(
        f"{counts['pass']} passed, {counts['warn']} warning{'s' if counts['warn'] != 1 else ''}, "
        f"{counts['fail']} failure{'s' if counts['fail'] != 1 else ''}"
    )
    return "\n".join(lines)


def run_doctor(opts: DoctorOptions, paths: Paths, cwd: Path) -> int:
    """Run, print, and return the exit code (1 when any check fails)."""
    from mcpgw.doctor import summary

    checks = collect(paths, cwd, opts.verbose)
    if opts.json:
        from mcpgw.cli.output import print_json

        print_json({"checks": [c.to_json(verbose=opts.verbose) for c in checks], "summary": summary(checks)})
    else:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        print(render(checks, verbose=opts.verbose, color=color))
    return 1 if any(c.status == "fail" for c in checks) else 0


def doctor_cmd(
    json: Annotated[bool, typer.Option("--json", help="Print JSON: {checks: [{name, status, message, fix}]}.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Show each check's details.")] = False,
) -> None:
    """Check the installation: daemon, config, database, providers, embedder, hooks, disk, budget."""
    code = run_doctor(DoctorOptions(json, verbose), context.paths(), Path.cwd())
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Wire ``mcpgw doctor`` as a top-level command."""
    app.command("doctor")(doctor_cmd)

