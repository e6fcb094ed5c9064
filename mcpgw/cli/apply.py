"""``mcpgw apply [PATCH|-] [-i] [--yes] [--check] [--reverse] [--undo [ID]]``.

Applying happens here, in the user's process (it has their files); the undo journal is in the daemon.
``--check`` never contacts the daemon. Without ``--yes``/``-i``/``--check`` the command shows what it
would do and asks, when there is a terminal to ask on.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from mcpgw.cli import context

if TYPE_CHECKING:
    from rich.console import Console

    from mcpgw.patch import Journal, Plan


@dataclass(frozen=True)
class ApplyOptions:
    patch: str | None
    interactive: bool = False
    yes: bool = False
    check: bool = False
    reverse: bool = False
    undo: bool = False


def repo_root(cwd: Path) -> Path:
    """The git work tree containing ``cwd`` (or ``cwd`` itself outside git)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True, check=False
        )
    except OSError:
        return cwd.resolve()
    top = out.stdout.strip()
    return Path(top).resolve() if out.returncode == 0 and top else cwd.resolve()


def read_patch(source: str | None) -> tuple[str, str]:
    """(patch text, label) from a file, ``-`` or piped stdin."""
    from mcpgw.errors import UsageError
    from mcpgw.patch.parse import decode

    if source in (None, "-"):
        if source is None and sys.stdin.isatty():
            raise UsageError("no patch given", fix="pass a patch file, or pipe one in: `git diff | mcpgw apply -i`")
        return decode(sys.stdin.buffer.read()), "<stdin>"
    path = Path(source).expanduser()
    try:
        return decode(path.read_bytes()), str(path)
    except OSError as exc:
        raise UsageError(f"cannot read the patch {path}: {exc.strerror}") from exc


class Terminal:
    """Where the review talks to the user: keys from stdin, or ``/dev/tty`` when stdin carries the patch."""

    def __init__(self) -> None:
        from rich.console import Console

        from mcpgw.errors import UsageError

        self.tty_in: IO[str] | None = None
        self.input: IO[str] = sys.stdin
        if not sys.stdin.isatty():
            try:
                self.tty_in = open("/dev/tty", encoding="utf-8")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise UsageError(
                    "interactive review needs a terminal, and there is none",
                    fix="use --check to see what would change, or --yes to apply without review",
                ) from exc
            self.input = self.tty_in
        self.tty_out: IO[str] | None = None
        if not sys.stdout.isatty():
            try:
                self.tty_out = open("/dev/tty", "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            except OSError:
                self.tty_out = None
        self.console = (
            Console(file=self.tty_out, highlight=False, soft_wrap=True)
            if self.tty_out
            else Console(highlight=False, soft_wrap=True)
        )

    def ask(self, prompt: str) -> str:
        self.console.print(prompt, end="", markup=False)
        self.console.file.flush()
        line = self.input.readline()
        return line if line else "q"

    def edit(self, text: str) -> str:
        from mcpgw.patch.review import run_editor

        return run_editor(text, self.tty_in)

    def close(self) -> None:
        for f in (self.tty_in, self.tty_out):
            if f is not None:
                f.close()


def show_plan(console: Console, plan: Plan, *, verb: str = "patching") -> None:
    """``patch``-style report: one line per file, one per hunk that moved, and every failure in full."""
    from rich.markup import escape

    from mcpgw.patch.review import render_hunk

    for change in plan.changes:
        p = change.patch
        label = f"{p.old_path} → {p.new_path}" if p.action == "rename" else change.path
        action = {"create": "creating", "delete": "deleting", "rename": "renaming"}.get(p.action, verb)
        mark = "[green]✓[/]" if change.ok else "[red]✗[/]"
        console.print(f"{mark} {action} {escape(label)}")
        if change.error:
            console.print(f"  [red]{escape(change.error)}[/]")
        for r in change.results:
            if r.status == "offset":
                console.print(f"  {r.describe()}")
            elif r.status == "failed":
                console.print(f"  [red]{escape(r.describe())}[/]")
                render_hunk(console, change.path, r.hunk)
                for m in r.mismatches:
                    found = "end of file" if m.actual is None else repr(m.actual)
                    console.print(
                        f"  [red]line {m.line}: expected {escape(repr(m.expected))}, found {escape(found)}[/]"
                    )


def _summary(plan: Plan) -> str:
    hunks = sum(len(c.patch.hunks) for c in plan.changes)
    files = len(plan.changes)
    return f"{hunks} hunk{'s' if hunks != 1 else ''} in {files} file{'s' if files != 1 else ''}"


def _fail(plan: Plan) -> None:
    from mcpgw.errors import PatchError

    names = ", ".join(c.path for c in plan.failed)
    raise PatchError(
        f"the patch does not apply to {names}; nothing was written",
        fix="regenerate the patch against the current files, or review it with `mcpgw apply -i`",
    )


def run_undo(opts: ApplyOptions, journal: Journal, root: Path, console: Console) -> str:
    from rich.markup import escape

    from mcpgw.patch import undo

    entry = undo(journal, root, opts.patch)
    for f in entry.files:
        verb = "restored" if f.before is not None else "removed"
        console.print(f"[green]✓[/] {verb} {escape(f.path)}")
    console.print(f"undid apply {entry.id[:12]}")
    return entry.id


def run_apply(opts: ApplyOptions, journal: Journal | None, root: Path, console: Console) -> str | None:
    """Check, review (``-i``) or confirm, then apply. Returns the journal id, or None when nothing was written."""
    from mcpgw.errors import UsageError
    from mcpgw.patch import apply_plan, parse_patch, plan_apply

    text, label = read_patch(opts.patch)
    failed: list[str] = []
    patch = parse_patch(text)
    if opts.reverse:
        patch = patch.reversed()
    if opts.interactive:
        from mcpgw.patch.review import Reviewer

        term = Terminal()
        try:
            review = Reviewer(root, term.console, term.ask, term.edit).run(patch)
        finally:
            term.close()
        if not review.patch.files:
            console.print(f"nothing applied ({review.skipped} skipped)")
            if review.failed:
                raise UsageError("some accepted changes did not apply", fix="regenerate the patch")
            return None
        patch = review.patch
        failed = [path for path, _ in review.failed]
    plan = plan_apply(patch, root)
    if opts.check or not plan.ok:
        show_plan(console, plan, verb="checking")
        if not plan.ok:
            _fail(plan)
        console.print(f"the patch applies cleanly: {_summary(plan)} (nothing written: --check)")
        return None
    if not (opts.yes or opts.interactive):
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UsageError(
                "refusing to apply without confirmation",
                fix="pass --yes to apply, -i to review each change, or --check to see what would change",
            )
        show_plan(console, plan, verb="would patch")
        if not typer.confirm(f"Apply {_summary(plan)}?", default=False):
            console.print("nothing applied")
            return None
    assert journal is not None
    entry = apply_plan(plan, journal, source=label)
    show_plan(console, plan)
    console.print(f"applied {_summary(plan)}; undo with: mcpgw apply --undo {entry.id[:12]}")
    if failed:
        from mcpgw.errors import PatchError

        raise PatchError(f"{len(failed)} accepted change(s) did not apply and were left out: {', '.join(failed)}")
    return entry.id


def apply_cmd(
    patch: Annotated[
        str | None, typer.Argument(help="Patch file, or - for stdin (default when piped). With --undo: the apply id.")
    ] = None,
    interactive: Annotated[
        bool, typer.Option("-i", "--interactive", help="Review each change (y/n/e/q/a/s/?).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Report what would happen; change nothing.")] = False,
    reverse: Annotated[bool, typer.Option("--reverse", "-R", help="Apply the patch in reverse.")] = False,
    undo: Annotated[
        bool, typer.Option("--undo", help="Undo the latest apply in this repository (or the apply ID given).")
    ] = False,
) -> None:
    """Apply a unified diff: checked first, written atomically, journaled for --undo."""
    from mcpgw.cli.output import err
    from mcpgw.errors import UsageError
    from mcpgw.patch import DaemonJournal

    opts = ApplyOptions(patch, interactive, yes, check, reverse, undo)
    if undo and (interactive or check or reverse):
        raise UsageError("--undo cannot be combined with -i, --check or --reverse")
    root = repo_root(Path.cwd())
    if check:
        run_apply(opts, None, root, err())
        return
    with context.client() as client:
        journal = DaemonJournal(client)
        if undo:
            run_undo(opts, journal, root, err())
        else:
            run_apply(opts, journal, root, err())


def register(app: typer.Typer) -> None:
    """Wire ``mcpgw apply`` as a top-level command."""
    app.command("apply")(apply_cmd)
