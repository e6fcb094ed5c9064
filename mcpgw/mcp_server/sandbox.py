"""File access confined to one root directory, for the MCP file tools.

Every path is checked twice: lexically (``..`` and absolute paths must stay under the root) and after
resolving symlinks (``realpath`` must stay under the root's realpath), so a symlink that points out is
refused even when its name looks harmless. Reads and writes are size-limited; binary files are refused
unless the caller asks for base64; writes are atomic (temporary file + rename) and never touch ``.git``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mcpgw.errors import NotFound, UsageError

MAX_READ_BYTES = 1_048_576
MAX_WRITE_BYTES = 1_048_576
MAX_LIST_ENTRIES = 2000

Encoding = Literal["text", "base64"]


class SandboxViolation(UsageError):
    """A path that leaves the root, or an operation the sandbox does not allow."""

    status = 403
    type = "sandbox-violation"


@dataclass(frozen=True)
class FileContent:
    path: str
    encoding: Encoding
    content: str
    size: int


@dataclass(frozen=True)
class Entry:
    path: str
    type: Literal["file", "dir", "symlink", "other"]
    size: int
    target_inside: bool | None = None


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def is_binary(data: bytes) -> bool:
    """NUL bytes or invalid UTF-8 in the first 8 KiB: treat as binary."""
    head = data[:8192]
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 4  # a multi-byte character cut at the boundary is fine
    return False


class Sandbox:
    """Resolve, read, write and list paths under ``root`` and nowhere else."""

    def __init__(self, root: str | Path, *, max_read: int = MAX_READ_BYTES, max_write: int = MAX_WRITE_BYTES):
        real = os.path.realpath(root)
        if not os.path.isdir(real):
            raise UsageError(f"the root {root} is not a directory", fix="pass --root DIR with an existing directory")
        self.root = real
        self.max_read = max_read
        self.max_write = max_write

    def rel(self, real: str) -> str:
        """The path relative to the root, as shown to clients ('.' for the root)."""
        return os.path.relpath(real, self.root)

    def resolve(self, path: str) -> str:
        """The real path of ``path`` (relative to the root, or absolute inside it); refuses escapes."""
        if "\0" in path:
            raise SandboxViolation("the path contains a NUL byte")
        raw = path.strip() or "."
        lexical = os.path.normpath(os.path.join(self.root, os.path.expanduser(raw) if raw.startswith("~") else raw))
        if not _within(lexical, self.root):
            raise SandboxViolation(
                f"{path!r} is outside the root {self.root}",
                fix="use a path relative to the root, without '..' leaving it",
            )
        real = os.path.realpath(lexical)
        if not _within(real, self.root):
            raise SandboxViolation(
                f"{path!r} resolves through a symlink to {real}, outside the root {self.root}",
                fix="only files under the root can be used; symlinks that point out are refused",
            )
        return real

    def read(self, path: str, *, encoding: Encoding = "text", max_bytes: int | None = None) -> FileContent:
        real = self.resolve(path)
        limit = min(max_bytes or self.max_read, self.max_read)
        try:
            st = os.stat(real)
        except FileNotFoundError as exc:
            raise NotFound(f"{path!r} does not exist under the root", fix="list files with fs_list") from exc
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"{path!r} is a directory", fix="use fs_list for directories")
        if not stat.S_ISREG(st.st_mode):
            raise SandboxViolation(f"{path!r} is not a regular file")
        if st.st_size > limit:
            raise UsageError(
                f"{path!r} is {st.st_size} bytes, over the {limit}-byte read limit",
                fix="read a smaller file, or search it with code_search",
            )
        with open(real, "rb") as fh:
            data = fh.read(limit + 1)
        if encoding == "base64":
            return FileContent(self.rel(real), "base64", base64.b64encode(data).decode("ascii"), len(data))
        if is_binary(data):
            raise UsageError(f"{path!r} is a binary file", fix="pass encoding='base64' to read it as base64")
        return FileContent(self.rel(real), "text", data.decode("utf-8", errors="replace"), len(data))

    def write(
        self, path: str, content: str, *, encoding: Encoding = "text", create_dirs: bool = False, overwrite: bool = True
    ) -> tuple[str, int, bool]:
        """Write atomically; returns (relative path, bytes written, created)."""
        if encoding == "base64":
            try:
                data = base64.b64decode(content, validate=True)
            except ValueError as exc:
                raise UsageError("content is not valid base64", fix="encode the bytes with standard base64") from exc
        else:
            data = content.encode("utf-8")
        if len(data) > self.max_write:
            raise UsageError(
                f"content is {len(data)} bytes, over the {self.max_write}-byte write limit", fix="write smaller files"
            )
        real = self.resolve(path)
        if real == self.root:
            raise UsageError("cannot write to the root directory itself", fix="name a file under the root")
        if ".git" in Path(self.rel(real)).parts:
            raise SandboxViolation(f"{path!r} is inside .git; writes there are refused", fix="write project files only")
        parent = os.path.dirname(real)
        if not os.path.isdir(parent):
            if not create_dirs:
                raise NotFound(f"the directory of {path!r} does not exist", fix="pass create_dirs=true to create it")
            os.makedirs(parent, exist_ok=True)
            if not _within(os.path.realpath(parent), self.root):  # a race made it escape
                raise SandboxViolation(f"the directory of {path!r} left the root")
        existed = os.path.lexists(real)
        if existed and os.path.isdir(real):
            raise UsageError(f"{path!r} is a directory", fix="name a file")
        if existed and not overwrite:
            raise UsageError(f"{path!r} already exists", fix="pass overwrite=true to replace it")
        mode = stat.S_IMODE(os.stat(real).st_mode) if existed else 0o644
        fd, tmp = tempfile.mkstemp(prefix=".mcpgw-", suffix=".tmp", dir=parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, real)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return self.rel(real), len(data), not existed

    def list(
        self, path: str = ".", *, recursive: bool = False, max_depth: int = 3, include_hidden: bool = False
    ) -> tuple[list[Entry], bool]:
        """Entries under ``path`` (sorted; never following symlinks); returns (entries, truncated)."""
        real = self.resolve(path)
        if not os.path.isdir(real):
            if os.path.exists(real):
                raise UsageError(f"{path!r} is a file", fix="use fs_read for files")
            raise NotFound(f"{path!r} does not exist under the root")
        entries: list[Entry] = []
        stack: list[tuple[str, int]] = [(real, 0)]
        while stack:
            current, depth = stack.pop()
            try:
                names = sorted(os.listdir(current))
            except PermissionError:
                continue
            for name in names:
                if not include_hidden and name.startswith("."):
                    continue
                full = os.path.join(current, name)
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    target_inside = _within(os.path.realpath(full), self.root)
                    entries.append(Entry(self.rel(full), "symlink", 0, target_inside))
                elif stat.S_ISDIR(st.st_mode):
                    entries.append(Entry(self.rel(full), "dir", 0))
                    if recursive and depth + 1 < max_depth and name != ".git":
                        stack.append((full, depth + 1))
                elif stat.S_ISREG(st.st_mode):
                    entries.append(Entry(self.rel(full), "file", st.st_size))
                else:
                    entries.append(Entry(self.rel(full), "other", 0))
                if len(entries) >= MAX_LIST_ENTRIES:
                    return sorted(entries, key=lambda e: e.path), True
        return sorted(entries, key=lambda e: e.path), False
