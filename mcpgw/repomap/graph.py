"""The project graph: nodes (file, module, class, function), edges (import, calls, extends, implements).

The JSON shape (:meth:`ProjectGraph.to_dict`) is the documented interface from the roadmap's
``ProjectGraph``/``CodeNode``/``DependencyEdge``, with a few extra optional node fields
(``name``, ``language``, ``line``, ``signature``, ``rank``).

Node ids: a file is its repo-relative path (``pkg/mod.py``); a definition is ``path::Qual.name``;
a module (a directory holding source files) is its path with a trailing slash (``pkg/``; ``./`` for
the root). A file's ``imports`` are its import specifiers as written (external ones included); the
``import`` edges are the ones resolved to files inside the project. A module's ``imports`` are the
modules its files import, its ``exports`` the files it contains.

Resolution is static and best effort:

- Python: absolute imports by dotted module name (package roots found from ``__init__.py``, plus
  root-relative names for ``src/`` layouts and scripts), relative imports from the file's package;
  ``from pkg import name`` links to ``pkg/name.py`` when that is a module, else to ``pkg``.
- JS/TS: relative specifiers with the usual extension and ``index`` lookup (``./x.js`` may mean
  ``x.ts``), ``@/`` and ``~/`` aliases, and ``tsconfig.json`` ``paths``; bare package names are external.
- Go: import paths under a ``go.mod`` module path link to every non-test file of that package.
- Calls and bases are resolved by name: a definition in the same file wins, then one in a file it
  imports (or, in Go, the same package), then the only definition of that name in the project;
  ambiguous names stay unresolved rather than guessed.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mcpgw.repomap.scan import is_test_path, rule_category
from mcpgw.repomap.tags import Def, FileTags

_JS_EXTS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_JS_LANGS = frozenset({"javascript", "typescript", "tsx"})
# Call names too generic to resolve across files by name alone.
_GENERIC = frozenset(
    {
        "get",
        "set",
        "run",
        "main",
        "init",
        "__init__",
        "new",
        "call",
        "update",
        "close",
        "open",
        "read",
        "write",
        "start",
        "stop",
        "add",
        "remove",
        "push",
        "pop",
        "append",
        "map",
        "filter",
        "reduce",
        "log",
        "print",
        "format",
        "parse",
        "load",
        "save",
        "send",
        "then",
        "catch",
        "toString",
        "apply",
        "String",
        "Error",
        "len",
        "str",
        "int",
        "dict",
        "list",
        "setup",
        "handle",
        "execute",
        "process",
        "create",
        "delete",
        "find",
        "render",
        "test",
        "exec",
        "join",
        "split",
        "keys",
        "values",
        "items",
    }
)


@dataclass
class Node:
    id: str
    type: str
    path: str
    category: str
    imports: list[str]
    exports: list[str]
    loc: int
    complexity: int | None = None
    name: str | None = None
    language: str | None = None
    line: int | None = None
    signature: str | None = None
    rank: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "path": self.path,
            "category": self.category,
            "imports": self.imports,
            "exports": self.exports,
            "loc": self.loc,
        }
        for key in ("complexity", "name", "language", "line", "signature", "rank"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass
class Edge:
    source: str
    target: str
    type: str
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "type": self.type, "weight": self.weight}


@dataclass
class ProjectGraph:
    """The graph plus the indexes ranking and rendering need (not part of the JSON)."""

    root: str
    edges: list[Edge]
    metadata: dict[str, Any]
    files: dict[str, FileTags]
    categories: dict[str, str]  # file -> category
    imports: dict[str, Counter[str]]  # file -> resolved import targets
    # file -> file -> weight, imports plus cross-file references: what PageRank walks.
    file_deps: dict[str, dict[str, float]] = field(default_factory=dict)
    # (file, def index) -> weighted references from other files (calls, bases)
    def_refs: dict[tuple[str, int], float] = field(default_factory=dict)
    _nodes: list[Node] | None = None

    @property
    def nodes(self) -> list[Node]:
        """Built on first use: ranking and the text map do not need 40k node objects."""
        if self._nodes is None:
            self._nodes = _nodes(self.files, self.imports, self.categories)
        return self._nodes

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
            "metadata": self.metadata,
        }


def def_id(path: str, d: Def) -> str:
    return f"{path}::{d.qual}"


def module_id(path: str) -> str:
    parent = posixpath.dirname(path)
    return f"{parent}/" if parent else "./"


class _Resolver:
    """Turns import specifiers into project files (see the module docstring for the rules)."""

    def __init__(self, files: Mapping[str, FileTags], manifests: Mapping[str, str], root_name: str = "") -> None:
        self.paths = set(files)
        # Mapping a package directory itself (its __init__.py at the top): absolute imports name it.
        self.root_package = root_name if "__init__.py" in self.paths and root_name.isidentifier() else ""
        self.py_modules: dict[str, list[str]] = defaultdict(list)
        self.go_packages: dict[str, list[str]] = defaultdict(list)
        self.go_mods: list[tuple[str, str]] = []  # (module path, directory)
        self.ts_paths: list[tuple[str, list[str]]] = []  # (alias prefix, target prefixes)
        for path, tags in files.items():
            if tags.lang == "python":
                for name in self._py_names(path):
                    self.py_modules[name].append(path)
            elif tags.lang == "go" and not path.endswith("_test.go"):
                self.go_packages[posixpath.dirname(path)].append(path)
        for path, text in manifests.items():
            if path.endswith("go.mod"):
                match = re.search(r"^module\s+(\S+)", text, re.MULTILINE)
                if match:
                    self.go_mods.append((match.group(1).strip('"'), posixpath.dirname(path)))
            elif posixpath.basename(path).startswith(("tsconfig", "jsconfig")):
                self._read_tsconfig(path, text)
        self.go_mods.sort(key=lambda m: -len(m[0]))

    def _py_names(self, path: str) -> list[str]:
        stem = path[: -len(posixpath.splitext(path)[1])]
        parts = stem.split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names = {".".join(parts)} if parts else set()
        # The package-based name: climb while the directory is a package (has __init__.py).
        dirs = path.split("/")[:-1]
        keep = len(dirs)
        while keep > 0 and "/".join(dirs[:keep]) + "/__init__.py" in self.paths:
            keep -= 1
        pkg_parts = parts[keep:]
        if pkg_parts:
            names.add(".".join(pkg_parts))
        if self.root_package and keep == 0:
            names.add(".".join([self.root_package, *parts]))
        return [n for n in names if n]

    def _read_tsconfig(self, path: str, text: str) -> None:
        cleaned = re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE)
        cleaned = re.sub(r",(\s*[}\]])", r"\1", cleaned)
        try:
            data = json.loads(cleaned)
        except json.JSONDecodeError:
            return
        options = data.get("compilerOptions") if isinstance(data, dict) else None
        if not isinstance(options, dict):
            return
        base = posixpath.normpath(posixpath.join(posixpath.dirname(path), str(options.get("baseUrl", "."))))
        paths = options.get("paths")
        if isinstance(paths, dict):
            for alias, targets in paths.items():
                if isinstance(targets, list):
                    prefixes = [posixpath.normpath(posixpath.join(base, str(t).rstrip("*"))) for t in targets]
                    self.ts_paths.append((str(alias).rstrip("*"), prefixes))

    @staticmethod
    def _closest(importer: str, candidates: list[str]) -> str:
        if len(candidates) == 1:
            return candidates[0]
        here = importer.split("/")

        def shared(c: str) -> int:
            n = 0
            for a, b in zip(here, c.split("/"), strict=False):
                if a != b:
                    break
                n += 1
            return n

        return max(sorted(candidates), key=shared)

    def _py_module(self, importer: str, dotted: str) -> str | None:
        found = self.py_modules.get(dotted)
        return self._closest(importer, found) if found else None

    def _py_path(self, base: str) -> str | None:
        for candidate in (f"{base}.py", f"{base}/__init__.py", f"{base}.pyi", f"{base}/__init__.pyi"):
            candidate = candidate.lstrip("/")
            if candidate in self.paths:
                return candidate
        return None

    def python(self, importer: str, spec: str, names: list[str]) -> list[str]:
        out: list[str] = []
        if spec.startswith("."):
            dots = len(spec) - len(spec.lstrip("."))
            base_dir = posixpath.dirname(importer)
            for _ in range(dots - 1):
                base_dir = posixpath.dirname(base_dir)
            rest = spec[dots:].replace(".", "/")
            base = posixpath.join(base_dir, rest) if rest else base_dir
            missing = False
            for name in names:
                target = self._py_path(posixpath.join(base, name)) if name != "*" else None
                if target:
                    out.append(target)
                else:
                    missing = True
            if missing or not names:
                target = self._py_path(base)
                if target:
                    out.append(target)
            return out
        missing = not names
        for name in names:
            target = self._py_module(importer, f"{spec}.{name}") if name != "*" else None
            if target:
                out.append(target)
            else:
                missing = True
        if missing:
            parts = spec.split(".")
            while parts:
                target = self._py_module(importer, ".".join(parts))
                if target:
                    out.append(target)
                    break
                parts.pop()
        return out

    def _js_file(self, base: str) -> str | None:
        base = posixpath.normpath(base)
        if base in self.paths and posixpath.splitext(base)[1]:
            return base
        stem, ext = posixpath.splitext(base)
        if ext in (".js", ".jsx", ".mjs", ".cjs"):
            for alt in (".ts", ".tsx", ".mts", ".cts"):
                if stem + alt in self.paths:
                    return stem + alt
        for ext in _JS_EXTS:
            if base + ext in self.paths:
                return base + ext
        for ext in _JS_EXTS:
            if f"{base}/index{ext}" in self.paths:
                return f"{base}/index{ext}"
        return None

    def javascript(self, importer: str, spec: str) -> list[str]:
        if spec.startswith("."):
            found = self._js_file(posixpath.join(posixpath.dirname(importer), spec))
            return [found] if found else []
        for alias, prefixes in self.ts_paths:
            if alias and spec.startswith(alias):
                for prefix in prefixes:
                    found = self._js_file(posixpath.join(prefix, spec[len(alias) :]))
                    if found:
                        return [found]
        if spec.startswith(("@/", "~/")):
            for prefix in ("src", "app", ""):
                found = self._js_file(posixpath.join(prefix, spec[2:]))
                if found:
                    return [found]
        if spec.startswith("/"):
            found = self._js_file(spec.lstrip("/"))
            return [found] if found else []
        return []

    def go(self, importer: str, spec: str) -> list[str]:
        for module, directory in self.go_mods:
            if spec == module or spec.startswith(module + "/"):
                rel = spec[len(module) :].lstrip("/")
                package = posixpath.join(directory, rel) if directory else rel
                return [
                    p for p in self.go_packages.get(posixpath.normpath(package) if package else "", []) if p != importer
                ]
        return []

    def resolve(self, importer: str, tags: FileTags, spec: str, names: list[str]) -> list[str]:
        if tags.lang == "python":
            found = self.python(importer, spec, names)
        elif tags.lang in _JS_LANGS:
            found = self.javascript(importer, spec)
        elif tags.lang == "go":
            found = self.go(importer, spec)
        else:
            found = []
        return [f for f in found if f != importer]


class _DefIndex:
    """Definitions by name, to resolve calls and bases (see the module docstring)."""

    def __init__(self, files: Mapping[str, FileTags]) -> None:
        self.by_name: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for path, tags in files.items():
            for i, d in enumerate(tags.defs):
                self.by_name[d.name].append((path, i))

    def resolve(
        self, path: str, name: str, visible: set[str], kinds: tuple[str, ...], files: Mapping[str, FileTags]
    ) -> tuple[str, int] | None:
        candidates = [c for c in self.by_name.get(name, ()) if files[c[0]].defs[c[1]].kind in kinds]
        if not candidates:
            return None
        local = [c for c in candidates if c[0] == path]
        if local:
            return local[0]
        near = [c for c in candidates if c[0] in visible]
        if len(near) == 1 or (near and len({c[0] for c in near}) == 1):
            return near[0]
        if near:
            return None
        if len(candidates) == 1 and name not in _GENERIC and len(name) > 2:
            return candidates[0]
        return None


def build_graph(
    root: str,
    files: Mapping[str, FileTags],
    *,
    manifests: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    frameworks: list[str] | None = None,
) -> ProjectGraph:
    """Assemble the graph from every file's tags (``files``: repo-relative path -> tags)."""
    resolver = _Resolver(files, manifests or {}, posixpath.basename(root.rstrip("/")))
    imports: dict[str, Counter[str]] = {}
    for path, tags in files.items():
        targets: Counter[str] = Counter()
        for spec, names in tags.imports:
            targets.update(resolver.resolve(path, tags, spec, names))
        imports[path] = targets
    index = _DefIndex(files)
    edges: list[Edge] = []
    file_deps: dict[str, dict[str, float]] = {p: {t: float(n) for t, n in imports[p].items()} for p in files}
    def_refs: dict[tuple[str, int], float] = defaultdict(float)
    for path, tags in files.items():
        for target, count in imports[path].items():
            edges.append(Edge(path, target, "import", float(count)))
        if not tags.defs and not tags.refs:
            continue
        visible = set(imports[path])
        if tags.lang == "go":
            visible.update(resolver.go_packages.get(posixpath.dirname(path), ()))
        resolved: dict[str, tuple[str, int] | None] = {}
        for name in tags.refs:
            resolved[name] = index.resolve(path, name, visible, ("function", "class"), files)
        for name, count in tags.refs.items():
            hit = resolved[name]
            if hit is not None and hit[0] != path:
                deps = file_deps[path]
                deps[hit[0]] = deps.get(hit[0], 0.0) + math.sqrt(count)
                def_refs[hit] += math.sqrt(count)
        for i, name, count in tags.calls:
            hit = resolved.get(name)
            if hit is not None and hit != (path, i):
                callee = files[hit[0]].defs[hit[1]]
                edges.append(Edge(def_id(path, tags.defs[i]), def_id(hit[0], callee), "calls", float(count)))
        for i, name, kind in tags.bases:
            hit = index.resolve(path, name, visible, ("class",), files)
            if hit is not None and hit != (path, i):
                base = files[hit[0]].defs[hit[1]]
                edges.append(Edge(def_id(path, tags.defs[i]), def_id(hit[0], base), kind, 1.0))
                if hit[0] != path:
                    def_refs[hit] += 1.0
                    file_deps[path][hit[0]] = file_deps[path].get(hit[0], 0.0) + 1.0
    categories = _categorise(files, imports, overrides or {})
    languages: Counter[str] = Counter(t.lang or "other" for t in files.values())
    metadata = {
        "totalFiles": len(files),
        "totalLines": sum(t.loc for t in files.values()),
        "languages": dict(languages.most_common()),
        "frameworks": frameworks or [],
    }
    return ProjectGraph(root, edges, metadata, dict(files), categories, imports, file_deps, dict(def_refs))


def _categorise(
    files: Mapping[str, FileTags], imports: Mapping[str, Counter[str]], overrides: Mapping[str, str]
) -> dict[str, str]:
    """Rules first (overrides, test, infra, config, core paths), then core = widely imported."""
    importers: Counter[str] = Counter()
    for path, targets in imports.items():
        if not is_test_path(path):
            importers.update(targets.keys())
    counts = sorted((n for n in importers.values() if n > 0), reverse=True)
    threshold = max(3, counts[max(0, len(counts) // 10 - 1)] if counts else 3)
    out: dict[str, str] = {}
    for path in files:
        category = rule_category(path, overrides)
        if category is None:
            category = "core" if importers.get(path, 0) >= threshold else "feature"
        out[path] = category
    return out


def _nodes(
    files: Mapping[str, FileTags], imports: Mapping[str, Counter[str]], categories: Mapping[str, str]
) -> list[Node]:
    nodes: list[Node] = []
    modules: dict[str, list[str]] = defaultdict(list)
    for path, tags in files.items():
        modules[module_id(path)].append(path)
        function_cc = [d.complexity for d in tags.defs if d.kind == "function"]
        category = categories[path]
        nodes.append(
            Node(
                id=path,
                type="file",
                path=path,
                category=category,
                imports=list(dict.fromkeys(spec for spec, _ in tags.imports)),
                exports=list(tags.exports),
                loc=tags.loc,
                complexity=sum(function_cc) if function_cc else None,
                name=posixpath.basename(path),
                language=tags.lang,
            )
        )
        children: dict[int, list[Def]] = defaultdict(list)
        for d in tags.defs:
            if d.parent >= 0:
                children[d.parent].append(d)
        for i, d in enumerate(tags.defs):
            if d.kind == "class":
                methods = children.get(i, [])
                cc = sum(m.complexity for m in methods)
                exports = [m.name for m in methods if not m.name.startswith(("_", "#")) or m.name == "__init__"]
            else:
                cc, exports = d.complexity, []
            nodes.append(
                Node(
                    id=def_id(path, d),
                    type=d.kind,
                    path=path,
                    category=category,
                    imports=[],
                    exports=exports,
                    loc=d.end_line - d.line + 1,
                    complexity=cc,
                    name=d.qual,
                    line=d.line,
                    signature=d.signature,
                )
            )
    for mod, members in sorted(modules.items()):
        deps = sorted({module_id(t) for m in members for t in imports.get(m, ())} - {mod})
        cats = Counter(categories[m] for m in members)
        nodes.append(
            Node(
                id=mod,
                type="module",
                path=mod.rstrip("/") or ".",
                category=cats.most_common(1)[0][0],
                imports=deps,
                exports=sorted(members),
                loc=sum(files[m].loc for m in members),
            )
        )
    return nodes
