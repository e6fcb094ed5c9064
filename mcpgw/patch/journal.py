"""The undo journal: what every file looked like before an apply, recorded before anything is written.

The CLI applies patches (it has the user's files); the journal lives in the daemon's database, reached
through a :class:`Journal` — :class:`DaemonJournal` over HTTP, :class:`MemoryJournal` in memory. Undo
restores each file byte for byte (content and mode, or removes a file the apply created) and refuses
when any file changed since the apply: the hash recorded for its "after" state no longer matches.
There is deliberately no ``--force``: overwriting someone's later edits is what undo must never do.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from mcpgw.errors import NotFound, PatchError
from mcpgw.ids import new_id
from mcpgw.patch.apply import FileWrite, Plan, read_file, resolve_in_root, sha256, write_files


@dataclass(frozen=True)
class JournalFile:
    """One path before and after an apply (``before=None``: did not exist; ``after_sha256=None``: deleted)."""

    path: str
    before: bytes | None
    before_mode: int | None
    after_sha256: str | None
    after_mode: int | None

    @property
    def existed_before(self) -> bool:
        return self.before is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "existed_before": self.before is not None,
            "before_b64": base64.b64encode(self.before).decode() if self.before is not None else None,
            "before_sha256": sha256(self.before) if self.before is not None else None,
            "before_mode": self.before_mode,
            "after_sha256": self.after_sha256,
            "after_mode": self.after_mode,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JournalFile:
        raw = data.get("before_b64")
        before = base64.b64decode(raw) if raw is not None else None
        if before is not None and data.get("before_sha256") not in (None, sha256(before)):
            raise PatchError(f"the journal copy of {data['path']} is corrupt (hash mismatch)")
        return cls(
            data["path"], before, data.get("before_mode"), data.get("after_sha256"), data.get("after_mode")
        )


@dataclass(frozen=True)
class JournalEntry:
    """One apply: its id, the repository root, a label for the patch, and every path it touched."""

    id: str
    root: str
    files: tuple[JournalFile, ...]
    source: str = ""
    created_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    undone: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "root": self.root,
            "source": self.source,
            "created_at": self.created_at,
            "undone": self.undone,
            "files": [f.to_json() for f in self.files],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JournalEntry:
        return cls(
            data["id"],
            data["root"],
            tuple(JournalFile.from_json(f) for f in data.get("files", [])),
            data.get("source", ""),
            str(data.get("created_at") or ""),
            bool(data.get("undone")),
        )


class Journal(Protocol):
    """Where apply records entries and undo finds them."""

    def record(self, entry: JournalEntry) -> None: ...

    def get(self, entry_id: str | None, root: str) -> JournalEntry:
        """The entry ``entry_id``, or (None) the latest not-undone entry for ``root``; NotFound if none."""
        ...

    def mark_undone(self, entry_id: str) -> None: ...


class MemoryJournal:
    """A journal kept in a list: for tests and for ``--check`` runs that must not reach the daemon."""

    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []

    def record(self, entry: JournalEntry) -> None:
        self.entries.append(entry)

    def get(self, entry_id: str | None, root: str) -> JournalEntry:
        for entry in reversed(self.entries):
            if entry_id is not None and entry.id.startswith(entry_id):
                return entry
            if entry_id is None and entry.root == root and not entry.undone:
                return entry
        raise NotFound(
            f"no apply {entry_id} in the journal" if entry_id else f"nothing to undo in {root}",
            fix="`mcpgw apply --undo ID` takes an id printed by `mcpgw apply`",
        )

    def mark_undone(self, entry_id: str) -> None:
        self.entries = [replace(e, undone=True) if e.id == entry_id else e for e in self.entries]


class _JsonClient(Protocol):
    def get(self, path: str) -> Any: ...

    def post(self, path: str, json: Any = None) -> Any: ...


class DaemonJournal:
    """The journal in the daemon's database, through the ``/v1/apply/journal`` routes."""

    def __init__(self, client: _JsonClient) -> None:
        self.client = client

    def record(self, entry: JournalEntry) -> None:
        self.client.post("/v1/apply/journal", json=entry.to_json())

    def get(self, entry_id: str | None, root: str) -> JournalEntry:
        from urllib.parse import quote

        if entry_id is None:
            data = self.client.get(f"/v1/apply/journal/latest?root={quote(root, safe='')}")
        else:
            data = self.client.get(f"/v1/apply/journal/{quote(entry_id, safe='')}")
        return JournalEntry.from_json(data)

    def mark_undone(self, entry_id: str) -> None:
        self.client.post(f"/v1/apply/journal/{entry_id}/undone", json={})


def entry_for(plan: Plan, source: str = "") -> JournalEntry:
    """The journal entry describing ``plan``: every path's current bytes and the hash it will have."""
    files = []
    for w in plan.writes():
        before, mode = read_file(resolve_in_root(plan.root, w.path))
        after = sha256(w.content) if w.content is not None else None
        files.append(JournalFile(w.path, before, mode, after, w.mode if w.content is not None else None))
    return JournalEntry(new_id(), str(plan.root), tuple(files), source)


def apply_plan(plan: Plan, journal: Journal, *, source: str = "") -> JournalEntry:
    """Write a checked plan: journal entry first (so a crash can still be undone), then the files."""
    if not plan.ok:
        names = ", ".join(c.path for c in plan.failed)
        raise PatchError(f"the patch does not apply to {names}; nothing was written")
    entry = entry_for(plan, source)
    journal.record(entry)
    write_files(plan.root, plan.writes())
    return entry


def check_undo(entry: JournalEntry) -> list[str]:
    """Why ``entry`` cannot be undone (one reason per file), or an empty list when it can."""
    if entry.undone:
        return [f"apply {entry.id} was already undone"]
    root = Path(entry.root)
    problems = []
    for f in entry.files:
        current, _ = read_file(resolve_in_root(root, f.path))
        if f.after_sha256 is None and current is not None:
            problems.append(f"{f.path} was deleted by the apply but exists again")
        elif f.after_sha256 is not None and current is None:
            problems.append(f"{f.path} was deleted since the apply")
        elif f.after_sha256 is not None and current is not None and sha256(current) != f.after_sha256:
            problems.append(f"{f.path} changed since the apply")
    return problems


def undo(journal: Journal, root: Path, entry_id: str | None = None) -> JournalEntry:
    """Restore every file of an apply byte for byte, refusing if any changed since; marks it undone."""
    entry = journal.get(entry_id, str(root.resolve()))
    problems = check_undo(entry)
    if problems:
        raise PatchError(
            f"cannot undo apply {entry.id}: " + "; ".join(problems),
            fix="undo never overwrites later edits; put those files back by hand (see `git diff`) and retry",
        )
    restores = [FileWrite(f.path, f.before, f.before_mode) for f in reversed(entry.files)]
    write_files(Path(entry.root), restores)
    journal.mark_undone(entry.id)
    return entry
