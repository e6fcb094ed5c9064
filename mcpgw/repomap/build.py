"""Build a repo map: list files, get their tags (from the cache or by parsing), graph, rank.

Synchronous on purpose: the daemon runs :func:`build_repo_map` in a worker thread with its own
database connection; tests and benchmarks call it directly. Progress is reported through a callback
(``progress(done, total)`` while files are parsed), never printed.

Warm builds are cheap because a file whose size and mtime match its cached row is trusted without
being read; a changed mtime costs a read and a hash, and only new content is parsed.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpgw.errors import UsageError
from mcpgw.repomap.cache import CachedRow, NewRow, TagCache
from mcpgw.repomap.graph import ProjectGraph, build_graph
from mcpgw.repomap.rank import rank_definitions, rank_files, related_files
from mcpgw.repomap.render import Picture, TextMap, picture, render_text
from mcpgw.repomap.scan import (
    check_overrides,
    detect_frameworks,
    is_test_path,
    language_of,
    list_files,
    rule_category,
)
from mcpgw.repomap.tags import TAGS_VERSION, FileTags, count_lines, extract_tags, supports

Progress = Callable[[int, int], None]
MAX_PARSE_BYTES = 1_000_000  # larger files (generated code, data) become file nodes without definitions
_BINARY = "binary"


@dataclass(frozen=True)
class MapOptions:
    """What to map. ``categories`` maps globs to categories (the project config's ``repoMap.categories``)."""

    include_tests: bool = True
    max_depth: int | None = None
    categories: Mapping[str, str] = field(default_factory=dict)


@dataclass
class BuildStats:
    files: int = 0
    parsed: int = 0
    cached: int = 0
    syntax_errors: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "parsed": self.parsed,
            "cached": self.cached,
            "syntaxErrors": self.syntax_errors,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RepoMap:
    """A built graph and what can be asked of it (ranked views, text map, pictures)."""

    root: Path
    graph: ProjectGraph
    stats: BuildStats

    def relative(self, path: str | Path) -> str:
        """A user-given path (absolute, or relative to the root) as a file id of this map."""
        candidate = Path(path)
        if candidate.is_absolute():
            try:
                rel = candidate.resolve().relative_to(self.root).as_posix()
            except ValueError as exc:
                raise UsageError(
                    f"{path} is not inside {self.root}", fix="give a file inside the mapped directory"
                ) from exc
        else:
            rel = candidate.as_posix().removeprefix("./")
        if rel not in self.graph.files:
            raise UsageError(
                f"{rel} is not a file of the map of {self.root}",
                fix="check the path (tests are left out with --no-tests; --max-depth limits depth)",
            )
        return rel

    def ranks(self, focus: Sequence[str] = ()) -> dict[str, float]:
        return rank_files(self.graph, [self.relative(f) for f in focus])

    def to_dict(self, focus: Sequence[str] = ()) -> dict[str, Any]:
        """The documented ProjectGraph JSON, with each file's PageRank in ``rank``."""
        ranks = self.ranks(focus)
        for node in self.graph.nodes:
            if node.type == "file":
                node.rank = round(ranks.get(node.id, 0.0), 6)
        return self.graph.to_dict()

    def text(self, tokens: int, focus: Sequence[str] = ()) -> TextMap:
        if tokens <= 0:
            raise UsageError(f"the token budget must be positive, got {tokens}", fix="pass --tokens N with N > 0")
        ranks = self.ranks(focus)
        return render_text(self.graph, ranks, rank_definitions(self.graph, ranks), tokens)

    def picture(self, focus: Sequence[str] = (), max_nodes: int = 60) -> Picture:
        return picture(self.graph, self.ranks(focus), max_nodes=max_nodes)

    def related(self, path: str | Path, limit: int = 20) -> list[dict[str, object]]:
        return related_files(self.graph, self.relative(path), limit=limit)


def _resolve_root(path: str | Path) -> Path:
    root = Path(path).expanduser()
    if not root.exists():
        raise UsageError(f"{path}: no such directory", fix="pass the path of a project directory")
    if not root.is_dir():
        raise UsageError(f"{path} is a file, not a directory", fix="pass the project's directory")
    return root.resolve()


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _tags_for(data: bytes, rel: str) -> FileTags:
    if b"\0" in data[:8192]:
        return FileTags(lang=_BINARY, loc=0)
    lang = language_of(rel)
    if len(data) > MAX_PARSE_BYTES or not supports(lang):
        return FileTags(lang=lang, loc=count_lines(data))
    return extract_tags(data, lang)


def build_repo_map(
    path: str | Path,
    conn: Any | None = None,
    *,
    options: MapOptions | None = None,
    progress: Progress | None = None,
) -> RepoMap:
    """Map the project at ``path``. ``conn`` (from ``mcpgw.store.connect_sync``, migrated) caches tags."""
    started = time.perf_counter()
    opts = options or MapOptions()
    overrides = check_overrides(opts.categories)
    if opts.max_depth is not None and opts.max_depth < 0:
        raise UsageError(f"--max-depth must be 0 or more, got {opts.max_depth}", fix="pass --max-depth N, N >= 0")
    root = _resolve_root(path)
    root_text = str(root)
    paths = list_files(root, max_depth=opts.max_depth)
    if not opts.include_tests:
        paths = [p for p in paths if rule_category(p, overrides) != "test" and not is_test_path(p)]
    cache = TagCache(conn) if conn is not None else None
    cached = cache.load(root_text) if cache is not None else {}
    stats = BuildStats()
    tags_by_path: dict[str, FileTags] = {}
    pending: list[tuple[str, os.stat_result]] = []
    touched: list[tuple[str, str, int, int]] = []
    for rel in paths:
        full = f"{root_text}/{rel}"
        try:
            st = os.stat(full)
        except OSError:
            continue  # vanished or a dangling symlink
        if not _is_regular(st):
            continue
        row = _fresh(cached.get(full), st)
        if row is not None:
            tags_by_path[rel] = FileTags.from_json(row.data)
            stats.cached += 1
        else:
            pending.append((rel, st))
    new_rows: list[NewRow] = []
    total = len(pending)
    step = max(1, total // 100)
    for done, (rel, st) in enumerate(pending, 1):
        full = f"{root_text}/{rel}"
        try:
            data = Path(full).read_bytes()
        except OSError:
            continue
        digest = _hash(data)
        same = next((r for r in cached.get(full, ()) if r.content_hash == digest and r.version == TAGS_VERSION), None)
        if same is not None:
            tags = FileTags.from_json(same.data)
            touched.append((full, digest, st.st_mtime_ns, st.st_size))
            stats.cached += 1
        else:
            tags = _tags_for(data, rel)
            new_rows.append(NewRow(full, digest, TAGS_VERSION, st.st_mtime_ns, st.st_size, tags.to_json()))
            stats.parsed += 1
        tags_by_path[rel] = tags
        if progress is not None and (done % step == 0 or done == total):
            progress(done, total)
    if cache is not None and (new_rows or touched or set(cached) - {f"{root_text}/{p}" for p in tags_by_path}):
        cache.save(root_text, new_rows, touched, {f"{root_text}/{p}" for p in tags_by_path})
    files = {p: t for p, t in sorted(tags_by_path.items()) if t.lang != _BINARY}
    manifests = _read_manifests(root, files)
    graph = build_graph(
        root_text,
        files,
        manifests=manifests,
        overrides=overrides,
        frameworks=detect_frameworks(root, list(files)),
    )
    stats.files = len(files)
    stats.syntax_errors = sum(1 for t in files.values() if t.syntax_error)
    stats.seconds = time.perf_counter() - started
    return RepoMap(root, graph, stats)


def _is_regular(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISREG(st.st_mode)


def _fresh(rows: list[CachedRow] | None, st: os.stat_result) -> CachedRow | None:
    for row in rows or ():
        if row.version == TAGS_VERSION and row.mtime_ns == st.st_mtime_ns and row.size == st.st_size:
            return row
    return None


def _read_manifests(root: Path, files: Mapping[str, FileTags]) -> dict[str, str]:
    out: dict[str, str] = {}
    for rel in files:
        name = rel.rsplit("/", 1)[-1]
        if name == "go.mod" or (name.startswith(("tsconfig", "jsconfig")) and name.endswith(".json")):
            try:
                out[rel] = (root / rel).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
    return out
