"""Interactive review, hunk by hunk, with git's keys (y n e q a s ?), in the roadmap's display.

The reviewer only decides: it returns a :class:`Patch` holding the hunks the user accepted (split or
edited as they chose). Every accepted hunk is checked against the file as it would be with the hunks
accepted before it, so an edited hunk that no longer applies is caught here, like ``git add -p``.
Input and output are passed in (a line reader and a rich console), so the CLI can read keys from
``/dev/tty`` while the patch arrives on stdin.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.markup import escape

from mcpgw.errors import UsageError
from mcpgw.patch.apply import HunkResult, plan_file
from mcpgw.patch.parse import NO_NEWLINE, FilePatch, Hunk, Kind, Line, Patch

HELP = """\
y - yes, apply this change
n - no, skip it
e - edit this change in $EDITOR before applying
q - quit; apply only what was accepted so far
a - apply this change and all remaining ones
s - split this change into smaller ones
? - print this help"""

EDIT_GUIDE = """\
# ---
# To drop a '-' line, make it a ' ' line (context).
# To drop a '+' line, delete it.
# Lines starting with # are removed.
# Save an empty hunk (no '+' or '-' lines) to skip this change.
"""

Ask = Callable[[str], str]
Edit = Callable[[str], str]


def render_hunk(console: Console, path: str, hunk: Hunk, position: str = "") -> None:
    """Print ``📝 path (lines a-b)`` and the hunk with line numbers, context, and coloured -/+ lines."""
    end = hunk.old_start + max(hunk.old_len - 1, 0)
    where = f" {position}" if position else ""
    console.print(f"\n[bold cyan]📝 {escape(path)} (lines {hunk.old_start}-{end})[/]{where}\n")
    old_no, new_no = hunk.old_start, hunk.new_start
    width = len(str(max(old_no + hunk.old_len, new_no + hunk.new_len, 1)))
    for ln in hunk.lines:
        text = escape(ln.text)
        if ln.kind == "-":
            console.print(f"[red]- {old_no:>{width}} | {text}[/]")
            old_no += 1
        elif ln.kind == "+":
            console.print(f"[green]+ {new_no:>{width}} | {text}[/]")
            new_no += 1
        else:
            console.print(f"  {old_no:>{width}} | {text}")
            old_no += 1
            new_no += 1
        if ln.eol == "":
            console.print(f"[dim]{escape(NO_NEWLINE)}[/]")


def split_hunk(hunk: Hunk) -> list[Hunk]:
    """Split at the context between change groups (like ``git add -p``'s ``s``); one hunk if it cannot be."""
    groups: list[tuple[int, int]] = []  # [start, end) of each run of -/+ lines
    i = 0
    lines = hunk.lines
    while i < len(lines):
        if lines[i].kind == " ":
            i += 1
            continue
        start = i
        while i < len(lines) and lines[i].kind != " ":
            i += 1
        groups.append((start, i))
    if len(groups) < 2:
        return [hunk]
    parts: list[Hunk] = []
    for n in range(len(groups)):
        lo = groups[n - 1][1] if n else 0
        hi = groups[n + 1][0] if n + 1 < len(groups) else len(lines)
        old_start = hunk.old_start + sum(1 for ln in lines[:lo] if ln.kind != "+")
        new_start = hunk.new_start + sum(1 for ln in lines[:lo] if ln.kind != "-")
        parts.append(Hunk(old_start, new_start, lines[lo:hi], hunk.section, hunk.patch_line))
    return parts


def hunk_to_text(hunk: Hunk) -> str:
    out = [f"# Edit the change below; it must still apply to the file.\n{hunk.header()}\n"]
    for ln in hunk.lines:
        out.append(f"{ln.kind}{ln.text}\n")
        if ln.eol == "":
            out.append(NO_NEWLINE + "\n")
    out.append(EDIT_GUIDE)
    return "".join(out)


def hunk_from_text(text: str, original: Hunk) -> Hunk:
    """Parse an edited hunk back (counts are recomputed, starts kept); raises UsageError on a bad line."""
    lines: list[Line] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("#") or raw.startswith("@@"):
            continue
        if raw.startswith("\\"):
            if lines:
                lines[-1] = replace(lines[-1], eol="")
            continue
        tag = raw[:1] or " "
        if tag not in (" ", "-", "+"):
            raise UsageError(f"line {n} of the edited hunk starts with {tag!r}, not ' ', '-' or '+'")
        kind: Kind = " " if tag == " " else ("-" if tag == "-" else "+")
        eol = next((o.eol for o in original.lines if o.text == raw[1:] and o.kind == kind), "\n")
        lines.append(Line(kind, raw[1:], eol))
    return Hunk(original.old_start, original.new_start, tuple(lines), original.section, original.patch_line)


def run_editor(text: str, tty: IO[str] | None = None) -> str:
    """Open ``$VISUAL``/``$EDITOR`` (else vi) on ``text`` and return what was saved."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    fd, name = tempfile.mkstemp(prefix="mcpgw-hunk-", suffix=".diff")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(text)
        try:
            subprocess.run([*shlex.split(editor), name], stdin=tty, check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise UsageError(f"the editor {editor!r} failed: {exc}", fix="set $EDITOR to a working editor") from exc
        return Path(name).read_text(encoding="utf-8", errors="surrogateescape")
    finally:
        Path(name).unlink(missing_ok=True)


@dataclass
class Review:
    """The outcome: the patch to apply, and counts for the summary."""

    patch: Patch
    accepted: int = 0
    skipped: int = 0
    edited: int = 0
    failed: list[tuple[str, HunkResult]] = field(default_factory=list)
    quit: bool = False


class Reviewer:
    """Walks a patch hunk by hunk, asking with ``ask`` and editing with ``edit``."""

    def __init__(self, root: Path, console: Console, ask: Ask, edit: Edit = run_editor) -> None:
        self.root = root
        self.console = console
        self.ask = ask
        self.edit = edit
        self.all = False

    def _check(self, fp: FilePatch, accepted: list[Hunk], hunk: Hunk) -> HunkResult | None:
        """None if ``hunk`` applies after ``accepted``; else the failed result."""
        change = plan_file(self.root, replace(fp, hunks=(*accepted, hunk)))
        if change.results and change.results[-1].status == "failed":
            return change.results[-1]
        return None

    def _show_failure(self, result: HunkResult) -> None:
        self.console.print(f"[red]✗ this change does not apply here[/] {escape(result.note)}")
        for m in result.mismatches:
            found = "end of file" if m.actual is None else repr(m.actual)
            self.console.print(f"[red]  line {m.line}: expected {m.expected!r}, found {escape(found)}[/]")

    def _prompt(self, n: int, total: int) -> str:
        while True:
            answer = self.ask(f"Apply this change [{n}/{total}]? [y,n,e,q,a,s,?] ").strip().lower()
            if answer[:1] in ("y", "n", "e", "q", "a", "s"):
                return answer[:1]
            self.console.print(HELP)

    def _edit(self, fp: FilePatch, accepted: list[Hunk], hunk: Hunk) -> Hunk | None:
        text = hunk_to_text(hunk)
        while True:
            text = self.edit(text)
            try:
                edited = hunk_from_text(text, hunk)
            except UsageError as exc:
                self.console.print(f"[red]{escape(exc.message)}[/]")
                edited = None
            if edited is not None and not any(ln.kind != " " for ln in edited.lines):
                return None
            if edited is not None:
                failure = self._check(fp, accepted, edited)
                if failure is None:
                    return edited
                self._show_failure(failure)
            again = self.ask('Your edited change does not apply. Edit again (saying "n" discards it)? [y/n] ')
            if not again.strip().lower().startswith("y"):
                return None

    def review_file(self, fp: FilePatch, review: Review) -> FilePatch | None:
        if fp.binary:
            self.console.print(f"[red]✗ {escape(fp.path)}: binary patches are not supported; skipped[/]")
            review.skipped += 1
            return None
        if not fp.hunks:
            what = f"{fp.action} {fp.old_path} → {fp.new_path}" if fp.action == "rename" else f"mode change {fp.path}"
            if self.all or self.ask(f"Apply {what}? [y/n] ").strip().lower().startswith(("y", "a")):
                review.accepted += 1
                return fp
            review.skipped += 1
            return None
        queue = list(fp.hunks)
        accepted: list[Hunk] = []
        n = 0
        while queue and not review.quit:
            hunk = queue.pop(0)
            n += 1
            total = n + len(queue)
            render_hunk(self.console, fp.path, hunk, f"[{n}/{total}]")
            failure = self._check(fp, accepted, hunk)
            if failure is not None:
                self._show_failure(failure)
            key = "y" if self.all else self._prompt(n, total)
            if key == "s":
                parts = split_hunk(hunk)
                if len(parts) == 1:
                    self.console.print("[yellow]This change cannot be split.[/]")
                else:
                    self.console.print(f"Split into {len(parts)} changes.")
                queue[:0] = parts
                n -= 1
                continue
            if key == "q":
                review.quit = True
                review.skipped += 1 + len(queue)
                break
            if key == "a":
                self.all = True
                key = "y"
            if key == "e":
                edited = self._edit(fp, accepted, hunk)
                if edited is None:
                    self.console.print("[yellow]⊘ Skipped[/]")
                    review.skipped += 1
                    continue
                accepted.append(edited)
                review.accepted += 1
                review.edited += 1
                self.console.print("[green]✓ Accepted (edited)[/]")
                continue
            if key == "y" and failure is not None:
                review.failed.append((fp.path, failure))
                self.console.print("[red]✗ Not applied: the context does not match[/]")
                continue
            if key == "y":
                accepted.append(hunk)
                review.accepted += 1
                self.console.print("[green]✓ Accepted[/]")
            else:
                review.skipped += 1
                self.console.print("[yellow]⊘ Skipped[/]")
        if not accepted:
            return None
        return replace(fp, hunks=tuple(accepted))

    def run(self, patch: Patch) -> Review:
        review = Review(Patch())
        chosen: list[FilePatch] = []
        for fp in patch.files:
            if review.quit:
                review.skipped += len(fp.hunks) or 1
                continue
            selected = self.review_file(fp, review)
            if selected is not None:
                chosen.append(selected)
        review.patch = Patch(tuple(chosen))
        return review
