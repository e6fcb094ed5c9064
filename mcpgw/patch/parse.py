"""Unified diffs (git's and plain ``diff -u``) turned into small typed values.

``unidiff`` does the parsing; a first pass of our own checks every hunk's line counts so a malformed
patch is reported with the line number at fault (unidiff only says "hunk is shorter than expected").
Text is kept exactly: each line keeps its ending (``\\n``, ``\\r\\n`` or none, for "No newline at end
of file"), and undecodable bytes survive through ``surrogateescape``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from mcpgw.errors import PatchError

Kind = Literal[" ", "-", "+"]
Action = Literal["modify", "create", "delete", "rename"]

_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
_MODE = re.compile(r"^(old|new|deleted file|new file) mode (\d{6})$", re.MULTILINE)
NO_NEWLINE = "\\ No newline at end of file"


@dataclass(frozen=True)
class Line:
    """One hunk line: its kind, its text without the ending, and the ending ('' = no newline at EOF)."""

    kind: Kind
    text: str
    eol: str = "\n"


@dataclass(frozen=True)
class Hunk:
    """One ``@@`` block. Starts are 1-based as in the header; ``patch_line``: its line in the patch."""

    old_start: int
    new_start: int
    lines: tuple[Line, ...]
    section: str = ""
    patch_line: int = 0

    @property
    def old_len(self) -> int:
        return sum(1 for ln in self.lines if ln.kind != "+")

    @property
    def new_len(self) -> int:
        return sum(1 for ln in self.lines if ln.kind != "-")

    @property
    def old_side(self) -> list[Line]:
        return [ln for ln in self.lines if ln.kind != "+"]

    @property
    def new_side(self) -> list[Line]:
        return [ln for ln in self.lines if ln.kind != "-"]

    def header(self) -> str:
        section = f" {self.section.strip()}" if self.section.strip() else ""
        return f"@@ -{self.old_start},{self.old_len} +{self.new_start},{self.new_len} @@{section}"

    def reversed(self) -> Hunk:
        swap: dict[Kind, Kind] = {" ": " ", "-": "+", "+": "-"}
        lines = tuple(replace(ln, kind=swap[ln.kind]) for ln in self.lines)
        # Put the (now) removed lines before the added ones inside each change group, as diff does.
        ordered: list[Line] = []
        pending_add: list[Line] = []
        for ln in lines:
            if ln.kind == "+":
                pending_add.append(ln)
            elif ln.kind == "-":
                ordered.append(ln)
            else:
                ordered.extend(pending_add)
                pending_add = []
                ordered.append(ln)
        ordered.extend(pending_add)
        return Hunk(self.new_start, self.old_start, tuple(ordered), self.section, self.patch_line)


@dataclass(frozen=True)
class FilePatch:
    """The changes to one file. Paths are relative to the repository root, prefixes (a/ b/) removed."""

    old_path: str | None
    new_path: str | None
    hunks: tuple[Hunk, ...] = ()
    old_mode: int | None = None
    new_mode: int | None = None
    binary: bool = False
    patch_line: int = 0

    @property
    def action(self) -> Action:
        if self.old_path is None:
            return "create"
        if self.new_path is None:
            return "delete"
        if self.old_path != self.new_path:
            return "rename"
        return "modify"

    @property
    def path(self) -> str:
        """The path to show: the target, or the source for a deletion."""
        return self.new_path or self.old_path or "?"

    def reversed(self) -> FilePatch:
        return FilePatch(
            self.new_path,
            self.old_path,
            tuple(h.reversed() for h in self.hunks),
            self.new_mode,
            self.old_mode,
            self.binary,
            self.patch_line,
        )


@dataclass(frozen=True)
class Patch:
    files: tuple[FilePatch, ...] = field(default_factory=tuple)

    def reversed(self) -> Patch:
        return Patch(tuple(f.reversed() for f in self.files))

    @property
    def hunk_count(self) -> int:
        return sum(len(f.hunks) for f in self.files)


def decode(data: bytes) -> str:
    """Bytes to text that round-trips exactly (invalid UTF-8 kept as surrogates)."""
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def split_lines(text: str) -> list[str]:
    """Split on ``\n`` only, keeping the endings (``str.splitlines`` would also split on form feeds …)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def split_eol(raw: str) -> tuple[str, str]:
    """Split one line into its text and its ending."""
    if raw.endswith("\r\n"):
        return raw[:-2], "\r\n"
    if raw.endswith("\n"):
        return raw[:-1], "\n"
    return raw, ""


def _check_counts(lines: list[str]) -> None:
    """Walk the hunks and check each one has the lines its header promises, naming the bad line."""
    i = 0
    while i < len(lines):
        text = lines[i].rstrip("\r\n")
        if text.startswith("@@"):
            match = _HUNK_HEADER.match(text)
            if not match:
                raise PatchError(
                    f"malformed hunk header at line {i + 1}: {text!r}",
                    fix="a hunk header looks like '@@ -12,5 +12,6 @@'",
                )
            old_left = int(match.group(2) or 1)
            new_left = int(match.group(4) or 1)
            start = i + 1
            i += 1
            while old_left > 0 or new_left > 0:
                if i >= len(lines):
                    raise PatchError(
                        f"the hunk at line {start} ends early at line {i} (end of patch): "
                        f"{old_left} old and {new_left} new lines missing",
                        fix="the patch was truncated or edited by hand; regenerate it (e.g. with `git diff`)",
                    )
                body = lines[i].rstrip("\r\n")
                tag = body[:1]
                if tag == "\\":
                    i += 1
                    continue
                if tag in (" ", ""):
                    old_left -= 1
                    new_left -= 1
                elif tag == "-":
                    old_left -= 1
                elif tag == "+":
                    new_left -= 1
                else:
                    raise PatchError(
                        f"line {i + 1} is not a hunk line ({body[:60]!r}); the hunk at line {start} "
                        f"still expects {max(old_left, 0)} old and {max(new_left, 0)} new lines",
                        fix="hunk lines start with ' ', '-' or '+'; regenerate the patch (e.g. `git diff`)",
                    )
                if old_left < 0 or new_left < 0:
                    raise PatchError(
                        f"line {i + 1} makes the hunk at line {start} longer than its header says",
                        fix="fix the counts in the '@@' header or regenerate the patch",
                    )
                i += 1
            continue
        i += 1


def _strip_prefix(path: str | None, prefix: str, git: bool) -> str | None:
    if path is None or path == "/dev/null":
        return None
    path = path.split("\t", 1)[0]
    if git and path.startswith(prefix):
        return path[len(prefix) :]
    return path


def _modes(info: str) -> tuple[int | None, int | None]:
    old: int | None = None
    new: int | None = None
    for which, value in _MODE.findall(info):
        if which in ("old", "deleted file"):
            old = int(value, 8)
        else:
            new = int(value, 8)
    return old, new


def _hunk_lines(hunk: Any) -> tuple[Line, ...]:
    out: list[Line] = []
    for raw in hunk:
        if raw.line_type == "\\":
            if out:
                out[-1] = replace(out[-1], eol="")
            continue
        if raw.line_type not in (" ", "-", "+"):
            continue
        text, eol = split_eol(raw.value)
        kind: Kind = raw.line_type
        out.append(Line(kind, text, eol or "\n"))
    return tuple(out)


def parse_patch(text: str) -> Patch:
    """Parse a unified diff. Raises :class:`PatchError` naming the line for malformed input."""
    if "\x00" in text:
        raise PatchError("the patch contains NUL bytes: binary patches are not supported")
    raw_lines = split_lines(text)
    _check_counts(raw_lines)
    try:
        patch_set = PatchSet(raw_lines)
    except UnidiffParseError as exc:
        raise PatchError(
            f"malformed patch: {exc}", fix="regenerate the patch (e.g. with `git diff`)"
        ) from exc
    files: list[FilePatch] = []
    for pf in patch_set:
        info = str(pf.patch_info or "")
        git = info.startswith("diff --git") or (
            pf.source_file.startswith(("a/", "/dev/null")) and pf.target_file.startswith(("b/", "/dev/null"))
        )
        old = _strip_prefix(pf.source_file, "a/", git)
        new = _strip_prefix(pf.target_file, "b/", git)
        old_mode, new_mode = _modes(info)
        hunks = tuple(
            Hunk(
                h.source_start,
                h.target_start,
                _hunk_lines(h),
                h.section_header or "",
                max(0, (h[0].diff_line_no or 1) - 1) if len(h) else 0,
            )
            for h in pf
        )
        files.append(
            FilePatch(
                old,
                new,
                hunks,
                old_mode,
                new_mode,
                binary=bool(pf.is_binary_file) or "GIT binary patch" in info,
                patch_line=hunks[0].patch_line if hunks else 0,
            )
        )
    if not files:
        first_line = next((ln.rstrip("\r\n") for ln in raw_lines if ln.strip()), "")
        where = f" (line 1: {first_line[:60]!r})" if first_line else " (the input is empty)"
        raise PatchError(
            f"no file changes found in the patch{where}",
            fix="pass a unified diff such as the output of `git diff` or `diff -u`",
        )
    return Patch(tuple(files))
