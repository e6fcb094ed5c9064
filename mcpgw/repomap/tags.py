"""Per-file facts for the repo map ("tags"): definitions, imports, calls, bases, complexity.

:func:`extract_tags` parses one file with the shared tree-sitter layer and runs the language's query
from :mod:`mcpgw.repomap.queries`; everything else in the repo map works on the resulting
:class:`FileTags`, which round-trips through compact JSON so it can be cached per content hash.
Tree-sitter is error-tolerant: a file with syntax errors still yields whatever definitions parse
(``syntax_error`` is set). A language without a query yields a file-only entry (``loc`` and no defs).

Cyclomatic complexity is McCabe's ``1 + decision points`` per function, counted on the syntax tree
with lizard's keyword set (see :mod:`mcpgw.repomap.queries`); a nested function's branches count
for the nested function only.
"""

from __future__ import annotations

import bisect
import functools
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from mcpgw.repomap.queries import QUERIES

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Query

# Bump when extraction changes: cached tags of an older version are re-parsed.
TAGS_VERSION = 2
_MAX_SIGNATURE = 200
_OPEN_GAP = re.compile(r"([(\[{]) ")
_CLOSE_GAP = re.compile(r",? ([)\]}])")


class Def(NamedTuple):
    """One class or function definition in a file (methods are functions whose parent is a class)."""

    kind: str  # "class" | "function"
    name: str
    qual: str  # dotted path inside the file: "Store.open"
    line: int  # 1-based first line
    end_line: int
    signature: str  # the header up to the body, whitespace collapsed
    complexity: int  # McCabe; 0 for classes
    parent: int  # index of the enclosing definition, -1 at top level
    exported: bool


@dataclass
class FileTags:
    """Everything the graph needs from one file."""

    lang: str | None
    loc: int
    defs: list[Def] = field(default_factory=list)
    imports: list[tuple[str, list[str]]] = field(default_factory=list)  # (module spec, imported names)
    refs: dict[str, int] = field(default_factory=dict)  # called name -> calls anywhere in the file
    calls: list[tuple[int, str, int]] = field(default_factory=list)  # (function def index, name, count)
    bases: list[tuple[int, str, str]] = field(default_factory=list)  # (class index, name, extends|implements)
    exports: list[str] = field(default_factory=list)
    syntax_error: bool = False

    def to_json(self) -> bytes:
        return orjson.dumps(
            [
                self.lang,
                self.loc,
                [list(d) for d in self.defs],
                self.imports,
                self.refs,
                self.calls,
                self.bases,
                self.exports,
                self.syntax_error,
            ]
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> FileTags:
        lang, loc, defs, imports, refs, calls, bases, exports, err = orjson.loads(data)
        return cls(
            lang,
            loc,
            [Def._make(d) for d in defs],
            [(m, n) for m, n in imports],
            refs,
            [(i, n, c) for i, n, c in calls],
            [(i, n, k) for i, n, k in bases],
            exports,
            err,
        )


def count_lines(source: bytes) -> int:
    """Physical lines, counting a last line without a newline."""
    if not source:
        return 0
    return source.count(b"\n") + (0 if source.endswith(b"\n") else 1)


@functools.cache
def _query(lang: str) -> Query:
    from tree_sitter import Query

    from mcpgw.lang import get_language

    return Query(get_language(lang), QUERIES[lang])


_local = threading.local()


def _parser(lang: str) -> Parser:
    """A parser owned by this thread: tree-sitter parsers must not be shared between threads, and the
    daemon may build two maps (or a map and a search index) at once."""
    parsers: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(lang)
    if parser is None:
        from tree_sitter import Parser

        from mcpgw.lang import get_language

        parser = parsers[lang] = Parser(get_language(lang))
    return parser


def supports(lang: str | None) -> bool:
    """True when the repo map extracts definitions for ``lang`` (else files become bare file nodes)."""
    return lang in QUERIES


def _text(node: Node) -> str:
    raw = node.text
    return raw.decode("utf-8", "replace") if raw is not None else ""


def _signature(source: bytes, node: Node, body: Node | None) -> str:
    end = body.start_byte if body is not None and body.start_byte > node.start_byte else node.end_byte
    header = source[node.start_byte : end]
    if body is None or body.start_byte <= node.start_byte:
        header = header.split(b"\n", 1)[0]
    text = " ".join(header.decode("utf-8", "replace").split())
    text = _CLOSE_GAP.sub(r"\1", _OPEN_GAP.sub(r"\1", text))  # "f( a, b, )" -> "f(a, b)"
    for suffix in (";", "{", "=>", ":"):
        if text.endswith(suffix):
            text = text[: -len(suffix)].rstrip()
    if node.type == "type_spec" and body is not None:
        text = f"type {text} {body.type.removesuffix('_type')}"
    elif node.type == "variable_declarator" and node.parent is not None and node.parent.children:
        text = f"{_text(node.parent.children[0])} {text}"
    if len(text) > _MAX_SIGNATURE:
        text = text[: _MAX_SIGNATURE - 1] + "…"
    return text


def _exported(lang: str, node: Node, name: str) -> bool:
    if lang == "go":
        return name[:1].isupper()
    if lang == "python":
        return not name.startswith("_")
    parent = node.parent
    if parent is not None and parent.type == "variable_declarator":
        parent = parent.parent
    if parent is not None and parent.type == "lexical_declaration":
        parent = parent.parent
    return parent is not None and parent.type == "export_statement"


class _RawDef(NamedTuple):
    start: int
    end: int
    kind: str
    name: str
    node: Node
    body: Node | None
    receiver: str | None


def _python_import(node: Node, out: list[tuple[str, list[str]]]) -> None:
    if node.type == "import_statement":
        for child in node.children_by_field_name("name"):
            target = child.child_by_field_name("name") if child.type == "aliased_import" else child
            if target is not None:
                out.append((_text(target), []))
        return
    module = node.child_by_field_name("module_name")
    if module is None:
        return
    names: list[str] = []
    for child in node.children_by_field_name("name"):
        target = child.child_by_field_name("name") if child.type == "aliased_import" else child
        if target is not None:
            names.append(_text(target))
    if any(c.type == "wildcard_import" for c in node.children):
        names.append("*")
    out.append((_text(module), names))


def _string_items(node: Node) -> list[str]:
    items: list[str] = []
    for child in node.children:
        if child.type == "string":
            items.extend(_text(c) for c in child.children if c.type == "string_content")
    return items


def extract_tags(source: bytes, lang: str | None) -> FileTags:
    """Parse ``source`` (in ``lang``, a :mod:`mcpgw.lang` name or None) and collect its tags."""
    tags = FileTags(lang=lang, loc=count_lines(source))
    if lang not in QUERIES:
        return tags
    from tree_sitter import QueryCursor

    tree = _parser(lang).parse(source)
    tags.syntax_error = tree.root_node.has_error
    raw: list[_RawDef] = []
    bases: list[tuple[int, str, str]] = []  # (class start byte, name, kind)
    branches: list[int] = []
    calls: list[tuple[int, str]] = []
    all_names: list[str] | None = None
    for _, caps in QueryCursor(_query(lang)).matches(tree.root_node):
        if "branch" in caps:
            branches.extend(n.start_byte for n in caps["branch"])
        elif "call" in caps:
            calls.extend((n.start_byte, _text(n)) for n in caps["call"])
        elif "name" in caps:
            kind = "class" if "def.class" in caps else "function"
            node = caps[f"def.{kind}"][0]
            body = caps["body"][0] if "body" in caps else None
            if node.type == "variable_declarator" and body is not None:
                body = body.child_by_field_name("body") or body
            receiver = _text(caps["receiver"][0]) if "receiver" in caps else None
            raw.append(_RawDef(node.start_byte, node.end_byte, kind, _text(caps["name"][0]), node, body, receiver))
        elif "def.class.bases" in caps:
            start = caps["def.class.bases"][0].start_byte
            bases.extend((start, _base_name(n), "extends") for n in caps.get("base", []))
            bases.extend((start, _base_name(n), "implements") for n in caps.get("impl", []))
        elif "import" in caps:
            _python_import(caps["import"][0], tags.imports)
        elif "import.source" in caps:
            tags.imports.append((_text(caps["import.source"][0]), []))
        elif "require" in caps:
            fn = caps["require.fn"][0]
            if fn.type == "import" or _text(fn) == "require":
                tags.imports.append((_text(caps["require"][0]), []))
        elif "all" in caps and _text(caps["all.name"][0]) == "__all__":
            all_names = _string_items(caps["all"][0])
    _build_defs(tags, lang, source, raw, bases, branches, calls)
    if lang == "python" and all_names is not None:
        tags.exports = all_names
    else:
        tags.exports = [d.name for d in tags.defs if d.parent == -1 and d.exported]
    return tags


def _base_name(node: Node) -> str:
    if node.type == "generic_type":
        inner = node.child_by_field_name("name") or (node.children[0] if node.children else None)
        if inner is not None:
            node = inner
    text = _text(node)
    return text.rsplit(".", 1)[-1].lstrip("*")


def _build_defs(
    tags: FileTags,
    lang: str,
    source: bytes,
    raw: list[_RawDef],
    bases: list[tuple[int, str, str]],
    branches: list[int],
    calls: list[tuple[int, str]],
) -> None:
    raw.sort(key=lambda r: (r.start, -r.end))
    # Drop duplicate matches of one node (e.g. a TS method matched twice).
    unique: list[_RawDef] = []
    for r in raw:
        if not unique or (unique[-1].start, unique[-1].end, unique[-1].name) != (r.start, r.end, r.name):
            unique.append(r)
    parents: list[int] = []
    stack: list[int] = []
    for i, r in enumerate(unique):
        while stack and unique[stack[-1]].end <= r.start:
            stack.pop()
        parents.append(stack[-1] if stack else -1)
        stack.append(i)
    nest = list(parents)  # structural nesting; Go methods are re-parented to their receiver type below
    class_by_name = {r.name: i for i, r in enumerate(unique) if r.kind == "class" and parents[i] == -1}
    for i, r in enumerate(unique):
        if r.receiver is not None and r.receiver in class_by_name:
            parents[i] = class_by_name[r.receiver]
    starts = [r.start for r in unique]

    def innermost_function(pos: int) -> int:
        i = bisect.bisect_right(starts, pos) - 1
        # Any definition containing pos is the candidate itself or one of its structural ancestors.
        while i >= 0 and not (unique[i].start <= pos < unique[i].end and unique[i].kind == "function"):
            i = nest[i]
        return i

    complexity = [1] * len(unique)
    for pos in branches:
        i = innermost_function(pos)
        if i >= 0:
            complexity[i] += 1
    per_call: dict[tuple[int, str], int] = {}
    for pos, name in calls:
        tags.refs[name] = tags.refs.get(name, 0) + 1
        i = innermost_function(pos)
        if i >= 0:
            per_call[(i, name)] = per_call.get((i, name), 0) + 1
    tags.calls = [(i, name, n) for (i, name), n in per_call.items()]
    start_index = {r.start: i for i, r in enumerate(unique) if r.kind == "class"}
    seen: set[tuple[int, str]] = set()
    for start, name, kind in bases:
        i = start_index.get(start, -1)
        if i >= 0 and name and (i, name) not in seen:
            seen.add((i, name))
            tags.bases.append((i, name, kind))
    quals: list[str] = []
    for i, r in enumerate(unique):
        p = parents[i]
        qual = r.name
        if r.receiver is not None:
            qual = f"{r.receiver}.{r.name}"
        elif p >= 0:
            qual = f"{quals[p]}.{r.name}"
        quals.append(qual)
        tags.defs.append(
            Def(
                kind=r.kind,
                name=r.name,
                qual=qual,
                line=r.node.start_point[0] + 1,
                end_line=r.node.end_point[0] + 1,
                signature=_signature(source, r.node, r.body),
                complexity=complexity[i] if r.kind == "function" else 0,
                parent=p,
                exported=_exported(lang, r.node, r.name),
            )
        )


def tags_summary(tags: FileTags) -> dict[str, Any]:
    """A small dict for debugging and tests: counts of what was found."""
    return {
        "lang": tags.lang,
        "loc": tags.loc,
        "classes": sum(d.kind == "class" for d in tags.defs),
        "functions": sum(d.kind == "function" for d in tags.defs),
        "imports": len(tags.imports),
        "syntax_error": tags.syntax_error,
    }
