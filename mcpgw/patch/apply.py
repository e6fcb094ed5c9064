"""Check, then apply: a patch becomes a :class:`Plan` (every file's new bytes computed in memory), and
only a plan with no failure is written — journal first, then every file atomically.

Hunks are searched at their header's line first, then at growing distances either side (like
``patch``'s offset search, without fuzz: every context line must match). Line endings are kept per
file: context and untouched lines keep their own, added lines take the patch's CRLF when it has one,
else the file's dominant ending, so a CRLF file stays CRLF. File modes are kept unless the patch
changes them. Writes go to a temporary file in the same directory and are renamed over the target
only once every file's temporary copy is on disk, so a failure leaves every file as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mcpgw.errors import PatchError
from mcpgw.patch.parse import (
    FilePatch,
    Hunk,
    Line,
    Patch,
    decode,
    encode,
    parse_patch,
    split_eol,
    split_lines,
)

Status = Literal["applied", "offset", "failed"]
FileLine = tuple[str, str]  # (text, ending)


@dataclass(frozen=True)
class Mismatch:
    """A context or removed line of a hunk that differs from the file (``actual`` None = past the end)."""

    line: int
    expected: str
    actual: str | None


@dataclass(frozen=True)
class HunkResult:
    """How one hunk went: where it applied (1-based line) and by what offset, or why it failed."""

    index: int
    hunk: Hunk
    status: Status
    line: int = 0
    offset: int = 0
    mismatches: tuple[Mismatch, ...] = ()
    note: str = ""

    def describe(self) -> str:
        if self.status == "failed":
            return (
                f"Hunk #{self.index} FAILED at {self.hunk.old_start}{f' ({self.note})' if self.note else ''}"
            )
        if self.offset:
            plural = "s" if abs(self.offset) != 1 else ""
            return f"Hunk #{self.index} succeeded at {self.line} (offset {self.offset} line{plural})"
        return f"Hunk #{self.index} succeeded at {self.line}"


@dataclass(frozen=True)
class FileWrite:
    """One path's final state: new bytes and mode, or ``content=None`` to delete it."""

    path: str
    content: bytes | None
    mode: int | None = None


@dataclass
class FileChange:
    """One file of a plan: what is there now, what will be there, and how each hunk went."""

    patch: FilePatch
    before: bytes | None = None
    before_mode: int | None = None
    after: bytes | None = None
    after_mode: int | None = None
    results: list[HunkResult] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.status != "failed" for r in self.results)

    @property
    def path(self) -> str:
        return self.patch.path

    def writes(self) -> list[FileWrite]:
        """The filesystem changes this file needs, in order (a rename deletes the old path first)."""
        p = self.patch
        if p.action == "delete":
            return [FileWrite(p.old_path or "", None)]
        out = []
        if p.action == "rename" and p.old_path is not None:
            out.append(FileWrite(p.old_path, None))
        out.append(FileWrite(p.new_path or "", self.after, self.after_mode))
        return out


@dataclass
class Plan:
    """Every file's change, computed and checked in memory; nothing is written until :func:`apply_plan`."""

    root: Path
    changes: list[FileChange]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.changes)

    @property
    def failed(self) -> list[FileChange]:
        return [c for c in self.changes if not c.ok]

    def writes(self) -> list[FileWrite]:
        return [w for c in self.changes for w in c.writes()]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def resolve_in_root(root: Path, rel: str) -> Path:
    """``root/rel``, refusing absolute paths, ``..`` escapes, symlink escapes and the ``.git`` directory."""
    if not rel or os.path.isabs(rel) or rel.startswith("~"):
        raise PatchError(
            f"the patch names a path outside the repository: {rel!r}", fix="patch paths must be relative"
        )
    parts = Path(rel).parts
    if ".." in parts or (parts and parts[0] == ".git"):
        raise PatchError(
            f"the patch names a path outside the repository: {rel!r}",
            fix="only files inside the repository (and not in .git) can be patched",
        )
    real_root = root.resolve()
    target = real_root / rel
    parent = target.parent.resolve()
    if parent != real_root and real_root not in parent.parents:
        raise PatchError(f"{rel} resolves outside the repository (through a symlink): {parent}")
    if target.is_symlink():
        raise PatchError(
            f"{rel} is a symbolic link; mcpgw does not patch through links", fix="patch its target"
        )
    return target


def _dominant_eol(lines: Sequence[FileLine]) -> str | None:
    crlf = sum(1 for _, eol in lines if eol == "\r\n")
    lf = sum(1 for _, eol in lines if eol == "\n")
    if not crlf and not lf:
        return None
    return "\r\n" if crlf > lf else "\n"


def _matches(lines: Sequence[FileLine], want: Sequence[Line], pos: int) -> bool:
    return all(lines[pos + i][0] == w.text for i, w in enumerate(want))


def _find(lines: Sequence[FileLine], want: Sequence[Line], expected: int, lo: int) -> int | None:
    """The position nearest ``expected`` (at or after ``lo``) where ``want`` matches, or None."""
    top = len(lines) - len(want)
    if top < lo:
        return None
    expected = min(max(expected, lo), top)
    if not want:
        return expected
    for dist in range(max(expected - lo, top - expected) + 1):
        for pos in (expected - dist, expected + dist) if dist else (expected,):
            if lo <= pos <= top and _matches(lines, want, pos):
                return pos
    return None


def _mismatches(lines: Sequence[FileLine], want: Sequence[Line], pos: int) -> tuple[Mismatch, ...]:
    out = []
    for i, w in enumerate(want):
        actual = lines[pos + i][0] if 0 <= pos + i < len(lines) else None
        if actual != w.text:
            out.append(Mismatch(pos + i + 1, w.text, actual))
    return tuple(out)


def apply_hunks(lines: list[FileLine], hunks: Sequence[Hunk]) -> tuple[list[FileLine], list[HunkResult]]:
    """Apply hunks in order to a file's lines; failed hunks are reported and leave the lines alone."""
    out = list(lines)
    dominant = _dominant_eol(out)
    results: list[HunkResult] = []
    delta = 0  # lines added minus removed by the hunks applied so far
    drift = 0  # offset at which the previous hunk was found
    lo = 0
    for index, hunk in enumerate(hunks, start=1):
        old = hunk.old_side
        base = (hunk.old_start if hunk.old_len == 0 else hunk.old_start - 1) + delta
        pos = _find(out, old, base + drift, lo)
        if pos is None:
            note = ""
            new = hunk.new_side
            if new != old and _find(out, new, base + drift, 0) is not None:
                note = "it looks already applied; use --reverse to undo it"
            at = min(max(base + drift, 0), max(len(out) - 1, 0))
            results.append(HunkResult(index, hunk, "failed", mismatches=_mismatches(out, old, at), note=note))
            continue
        replacement: list[FileLine] = []
        k = 0
        for ln in hunk.lines:
            if ln.kind == "-":
                k += 1
            elif ln.kind == " ":
                replacement.append(out[pos + k])
                k += 1
            else:
                eol = ln.eol if ln.eol in ("", "\r\n") else (dominant or ln.eol)
                replacement.append((ln.text, eol))
        out[pos : pos + len(old)] = replacement
        offset = pos - base
        results.append(HunkResult(index, hunk, "offset" if offset else "applied", pos + 1, offset))
        drift = offset
        delta += hunk.new_len - hunk.old_len
        last_change = max((i for i, ln in enumerate(hunk.new_side) if ln.kind == "+"), default=-1)
        lo = pos + last_change + 1
    return out, results


def _fix_final_newline(lines: list[FileLine]) -> None:
    """A line that lost its newline but is no longer last (lines added after it) gets one back."""
    for i in range(len(lines) - 1):
        text, eol = lines[i]
        if eol == "":
            lines[i] = (text, _dominant_eol(lines) or "\n")


def to_lines(data: bytes) -> list[FileLine]:
    return [split_eol(raw) for raw in split_lines(decode(data))]


def from_lines(lines: Sequence[FileLine]) -> bytes:
    return encode("".join(text + eol for text, eol in lines))


def read_file(path: Path) -> tuple[bytes | None, int | None]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise PatchError(f"cannot read {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise PatchError(f"{path} is not a regular file")
    return path.read_bytes(), stat.S_IMODE(st.st_mode)


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def plan_file(root: Path, fp: FilePatch) -> FileChange:
    """Compute one file's change without touching the disk."""
    change = FileChange(fp)
    if fp.binary:
        change.error = "binary patches are not supported; apply it with `git apply`"
        return change
    try:
        source = resolve_in_root(root, fp.old_path) if fp.old_path else None
        target = resolve_in_root(root, fp.new_path) if fp.new_path else None
    except PatchError as exc:
        change.error = exc.message
        return change
    if fp.action == "create":
        assert target is not None
        existing, _ = read_file(target)
        if existing is not None:
            change.error = "the file already exists"
            return change
        lines: list[FileLine] = []
        change.after_mode = (fp.new_mode & 0o777) if fp.new_mode else _default_mode()
    else:
        assert source is not None
        change.before, change.before_mode = read_file(source)
        if change.before is None:
            change.error = "the file does not exist"
            return change
        if fp.action == "rename" and target is not None and target.exists():
            change.error = f"the rename target {fp.new_path} already exists"
            return change
        lines = to_lines(change.before)
        change.after_mode = (fp.new_mode & 0o777) if fp.new_mode else change.before_mode
    new_lines, change.results = apply_hunks(lines, fp.hunks)
    _fix_final_newline(new_lines)
    if not change.ok:
        return change
    if fp.action == "delete":
        if new_lines:
            change.error = f"the file has {len(new_lines)} line(s) the patch does not delete"
        change.after_mode = None
        return change
    change.after = from_lines(new_lines)
    return change


def plan_apply(patch: Patch | str, root: Path, *, reverse: bool = False) -> Plan:
    """Parse (if needed) and check a patch against the files under ``root``; writes nothing."""
    parsed = parse_patch(patch) if isinstance(patch, str) else patch
    if reverse:
        parsed = parsed.reversed()
    root = root.resolve()
    seen: set[str] = set()
    changes = []
    for fp in parsed.files:
        change = plan_file(root, fp)
        for w in change.writes():
            if w.path in seen and change.error is None:
                change.error = f"{w.path} appears twice in the patch"
            seen.add(w.path)
        changes.append(change)
    return Plan(root, changes)


def write_files(root: Path, writes: Sequence[FileWrite]) -> None:
    """Write every file atomically, all or nothing: temporary copies first, then renames/unlinks.

    If a rename or unlink fails part-way, the files already replaced are put back from their
    previous content before the error is raised.
    """
    staged: list[tuple[Path, Path | None, bytes | None, int | None]] = []
    try:
        for w in writes:
            target = resolve_in_root(root, w.path)
            previous, previous_mode = read_file(target)
            tmp: Path | None = None
            if w.content is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".mcpgw-tmp", dir=target.parent)
                tmp = Path(name)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(w.content)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, w.mode if w.mode is not None else _default_mode())
            staged.append((target, tmp, previous, previous_mode))
    except (OSError, PatchError) as exc:
        for _, tmp, _, _ in staged:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        if isinstance(exc, PatchError):
            raise PatchError(f"{exc.message}; nothing was changed") from exc
        raise PatchError(f"cannot write {exc.filename}: {exc.strerror}; nothing was changed") from exc
    done: list[tuple[Path, bytes | None, int | None]] = []
    try:
        for target, tmp, previous, mode in staged:
            if tmp is not None:
                os.replace(tmp, target)
            elif previous is not None:
                target.unlink()
            done.append((target, previous, mode))
    except OSError as exc:
        for target, previous, mode in reversed(done):
            with contextlib.suppress(OSError):
                if previous is None:
                    target.unlink(missing_ok=True)
                else:
                    target.write_bytes(previous)
                    if mode is not None:
                        os.chmod(target, mode)
        for _, tmp, _, _ in staged:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        raise PatchError(
            f"cannot write {exc.filename}: {exc.strerror}; the changes were rolled back"
        ) from exc
