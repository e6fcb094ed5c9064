"""File changes proposed by a model, made safely: read with clear errors, turned into a unified diff,
checked and written through :mod:`mcpgw.patch` (atomic, journaled, so ``mcpgw apply --undo`` works).

:class:`Workspace` serves loops that write the same files again and again (spec-first): it keeps one
live journal entry from the files' original state to their latest state, so one undo restores
everything the loop did.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpgw.errors import PatchError, UsageError
from mcpgw.patch import Journal, JournalEntry, Plan, apply_plan, plan_apply, undo
from mcpgw.patch.parse import NO_NEWLINE

Ask = Callable[[dict[str, Any]], dict[str, Any]]
"""Send one ``POST /v1/code-agent`` body through the daemon and return the answer's envelope."""

MAX_FILE_BYTES = 200_000


def rel_path(root: Path, path: str | Path) -> str:
    """``path`` relative to ``root`` (posix), refusing paths outside it."""
    real_root = root.resolve()
    full = Path(path) if Path(path).is_absolute() else real_root / path
    real = Path(os.path.realpath(full))
    if real != real_root and real_root not in real.parents:
        raise UsageError(f"{path} is outside the project {real_root}", fix="pass a file inside the project")
    return real.relative_to(real_root).as_posix()


def read_text(root: Path, rel: str, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of ``root/rel``, or a usage error saying why it cannot be used."""
    path = root / rel
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{rel}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{rel} is a directory", fix="pass a file") from None
    except OSError as exc:
        raise UsageError(f"{rel}: cannot read ({exc.strerror})") from exc
    if len(data) > max_bytes:
        raise UsageError(f"{rel} is {len(data)} bytes; the limit is {max_bytes}", fix="split the file first")
    if b"\0" in data[:8192]:
        raise UsageError(f"{rel} looks binary; mcpgw works on text files")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{rel} is not UTF-8 text") from None


def answer_code(envelope: Mapping[str, Any], original: str | None = None) -> str:
    """The code in a ``diff``/``generate`` answer (its first fenced block), ending like ``original``."""
    from mcpgw.routing.validate import extract_code

    text = str(envelope.get("result") or "")
    code, _ = extract_code(text)
    if not code.strip():
        raise UsageError("the model's answer holds no code", fix="try again, or pin a stronger model with --model")
    if (original is None or original.endswith("\n")) and not code.endswith("\n"):
        code += "\n"
    return code


def file_diff(rel: str, before: str | None, after: str | None) -> str:
    """A unified diff from ``before`` to ``after`` (None: the file does not exist), git-style paths."""
    old = (before or "").splitlines(keepends=True)
    new = (after or "").splitlines(keepends=True)
    lines = difflib.unified_diff(
        old,
        new,
        fromfile="/dev/null" if before is None else f"a/{rel}",
        tofile="/dev/null" if after is None else f"b/{rel}",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else f"{line}\n{NO_NEWLINE}\n")
    return "".join(out)


@dataclass
class Changeset:
    """New contents for some files under ``root`` (``None`` before: the file is created)."""

    root: Path
    before: dict[str, str | None] = field(default_factory=dict)
    after: dict[str, str] = field(default_factory=dict)

    def set(self, rel: str, before: str | None, after: str) -> None:
        self.before.setdefault(rel, before)
        self.after[rel] = after

    def diff(self) -> str:
        return "".join(file_diff(rel, self.before[rel], self.after[rel]) for rel in sorted(self.after))

    @property
    def changed(self) -> list[str]:
        return [rel for rel in sorted(self.after) if self.before[rel] != self.after[rel]]

    def plan(self) -> Plan:
        """Check the change against the files as they are now; raises when it no longer applies."""
        plan = plan_apply(self.diff(), self.root)
        if not plan.ok:
            names = ", ".join(c.path for c in plan.failed)
            raise PatchError(
                f"the change no longer applies to {names} (edited meanwhile?); nothing was written",
                fix="run the command again",
            )
        return plan

    def apply(self, journal: Journal, source: str) -> JournalEntry:
        """Write every changed file atomically, journaled first."""
        return apply_plan(self.plan(), journal, source=source)


class Workspace:
    """Files a loop writes repeatedly, kept as one journal entry from their original state to the latest."""

    def __init__(self, root: Path, journal: Journal, source: str) -> None:
        self.root = root.resolve()
        self.journal = journal
        self.source = source
        self.original: dict[str, str | None] = {}
        self.current: dict[str, str] = {}
        self.entry: JournalEntry | None = None

    def text(self, rel: str) -> str | None:
        """What the loop last wrote to ``rel`` (or what is on disk when it has not written it)."""
        if rel in self.current:
            return self.current[rel]
        return read_text(self.root, rel) if (self.root / rel).exists() else None

    def write(self, files: Mapping[str, str]) -> JournalEntry | None:
        """Bring ``files`` to the given contents; the previous entry is undone and replaced by one entry
        covering every file the loop has written, so a single ``mcpgw apply --undo`` restores them all."""
        for rel, content in files.items():
            if rel not in self.original:
                self.original[rel] = self.text(rel)
            self.current[rel] = content
        if self.entry is not None:
            undo(self.journal, self.root, self.entry.id)
            self.entry = None
        change = Changeset(self.root)
        for rel, content in self.current.items():
            change.set(rel, self.original[rel], content)
        if change.changed:
            self.entry = change.apply(self.journal, self.source)
        return self.entry
