"""Finding documentation files by glob, telling their type, and splitting them into sections.

Pure functions over the file system: no database, no embedder. A section is what retrieval returns and
what gets injected into a prompt, so it is kept small (at most ``MAX_SECTION_CHARS``) and carries a title
that names its file and heading ("docs/auth.md › Token refresh").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from mcpgw.errors import UsageError

DOC_TYPES = ("readme", "adr", "architecture", "api", "guide")
MAX_FILE_BYTES = 1_000_000
MAX_SECTION_CHARS = 2_400  # ~600 tokens: several sections fit the injection budget
_SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", "dist", "build"})
_MD_HEADING = re.compile(r"^(#{1,4})\s+(.+?)\s*#*\s*$")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
_ADR_NAME = re.compile(r"(^|/)(\d{3,4})[-_][\w-]+\.(md|markdown|rst|txt)$", re.IGNORECASE)


@dataclass(frozen=True)
class Section:
    title: str
    content: str


@dataclass
class DocFile:
    """One matched file: its path relative to the root, content hash, type and sections."""

    path: str
    file_hash: str
    doc_type: str
    title: str
    modified: str
    sections: list[Section] = field(default_factory=list)


def match_files(root: Path, patterns: list[str]) -> list[Path]:
    """Files under ``root`` matched by any glob (``docs/**/*.md``), sorted, never outside ``root``."""
    cleaned = [p.strip() for p in patterns if p and p.strip()]
    if not cleaned:
        raise UsageError("no --include pattern given", fix='pass at least one glob, e.g. --include "docs/**/*.md"')
    base = root.resolve()
    found: dict[str, Path] = {}
    for pattern in cleaned:
        if pattern.startswith("/") or ".." in PurePosixPath(pattern).parts:
            raise UsageError(
                f"pattern {pattern!r} points outside the project",
                fix="use globs relative to the project root, e.g. docs/**/*.md",
            )
        for path in base.glob(pattern):
            rel = path.relative_to(base)
            if any(part in _SKIP_DIRS for part in rel.parts[:-1]) or not path.is_file():
                continue
            real = path.resolve()
            if not real.is_relative_to(base):  # a symlink that leaves the project
                continue
            found.setdefault(rel.as_posix(), path)
    return [found[k] for k in sorted(found)]


def read_doc(root: Path, path: Path) -> DocFile | None:
    """Read, classify and split one file; None for binary, unreadable, empty or oversized files."""
    try:
        data = path.read_bytes()
        stat = path.stat()
    except OSError:
        return None
    if not data.strip() or len(data) > MAX_FILE_BYTES or b"\x00" in data[:4096]:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    raw = split_sections(text, rel)
    title = next((h.split(" › ")[0] for h, _ in raw if h), PurePosixPath(rel).stem)
    doc = DocFile(
        path=rel,
        file_hash=hashlib.sha256(data).hexdigest(),
        doc_type=detect_type(rel, text),
        title=title,
        modified=datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    for heading, body in raw:
        label = f"{rel} › {heading}" if heading else rel
        for piece in _bounded(body):
            doc.sections.append(Section(label, piece))
    return doc


def detect_type(rel_path: str, text: str) -> str:
    """readme / adr / architecture / api / guide, from the path first, then the headings."""
    lower = rel_path.lower()
    name = PurePosixPath(lower).name
    parts = PurePosixPath(lower).parts[:-1]
    if name.startswith("readme"):
        return "readme"
    adr_dir = any(p in ("adr", "adrs", "decisions", "decision-records") for p in parts)
    if adr_dir or (_ADR_NAME.search(lower) and "status" in text.lower() and "decision" in text.lower()):
        return "adr"
    if name.startswith(("architecture", "design")) or any(p in ("architecture", "design") for p in parts):
        return "architecture"
    if name.startswith(("api", "openapi", "reference")) or any(p in ("api", "reference") for p in parts):
        return "api"
    headings = " ".join(h.lower() for h, _ in split_sections(text, rel_path)[:12])
    if re.search(r"\badr\b|architecture decision", headings) or (
        "decision" in headings and "context" in headings and "consequences" in headings
    ):
        return "adr"
    if "architecture" in headings:
        return "architecture"
    if re.search(r"\bapi\b|endpoints?\b", headings):
        return "api"
    return "guide"


def split_sections(text: str, rel_path: str) -> list[tuple[str, str]]:
    """``(heading, body)`` pairs: Markdown ``#`` headings, reStructuredText underlined titles, or the
    whole text under no heading. Headings nest into their parents' names ("Auth › Tokens")."""
    lines = text.splitlines()
    out: list[tuple[str, str]] = []
    trail: list[tuple[int, str]] = []
    heading = ""
    body: list[str] = []
    in_fence = False
    rst = rel_path.lower().endswith((".rst", ".txt"))
    rst_levels: list[str] = []

    def flush() -> None:
        content = "\n".join(body).strip()
        if content:
            out.append((heading, content))

    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        level, name = 0, ""
        if not in_fence:
            match = _MD_HEADING.match(line)
            if match and not rst:
                level, name = len(match.group(1)), match.group(2).strip()
            elif (
                rst and line.strip() and i + 1 < len(lines) and _RST_UNDERLINE.match(lines[i + 1])
                and len(lines[i + 1].strip()) >= len(line.strip())
            ):  # fmt: skip
                char = lines[i + 1].strip()[0]
                if char not in rst_levels:
                    rst_levels.append(char)
                level, name = rst_levels.index(char) + 1, line.strip()
                i += 1
        if level:
            flush()
            trail = [(lvl, h) for lvl, h in trail if lvl < level] + [(level, name)]
            heading = " › ".join(h for _, h in trail[-2:])
            body = []
        else:
            body.append(line)
        i += 1
    flush()
    return out or [("", text.strip())]


def _bounded(body: str) -> list[str]:
    """Cut a long section at paragraph breaks into pieces of at most ``MAX_SECTION_CHARS``."""
    if len(body) <= MAX_SECTION_CHARS:
        return [body]
    pieces: list[str] = []
    current = ""
    for para in re.split(r"\n\s*\n", body):
        while len(para) > MAX_SECTION_CHARS:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(para[:MAX_SECTION_CHARS])
            para = para[MAX_SECTION_CHARS:]
        if current and len(current) + len(para) + 2 > MAX_SECTION_CHARS:
            pieces.append(current)
            current = para
        else:
            current = f"{current}\n\n{para}" if current else para
    if current.strip():
        pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]
