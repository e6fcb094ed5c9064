"""Split a file into search chunks: definitions for code, sections for Markdown, statements for SQL,
line windows for everything else.

Code is parsed with the shared tree-sitter layer (:mod:`mcpgw.lang`). Every function, method, class,
interface, struct, trait, enum … becomes a chunk that starts at its leading comments/decorators, so
docstrings and doc comments travel with the code they describe. JavaScript/TypeScript also define things
by assignment (``res.send = function send() {}``), in object literals, inside UMD wrappers and closures
used as modules, and by JSDoc-documented bindings (``const isDate = kindOfTest('Date')``): those are
definitions too. A class-like definition gives a header
chunk (signature, docstring, fields) and one chunk per member. Lines outside any definition (imports,
constants, top-level statements) are grouped into ``module`` chunks. Anything longer than
``MAX_LINES`` is cut into windows, each carrying its definition's signature as context.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from mcpgw.lang import PARSED_LANGUAGES, get_parser, language_for_path

if TYPE_CHECKING:
    from tree_sitter import Node

MAX_LINES = 200  # a definition longer than this is split into windows
TEXT_WINDOW = 60  # line window for prose and unknown languages
MERGE_SMALL = 40  # small SQL statements / Markdown sections are merged up to this many lines

# Bumped for a language when its chunks change, so `mcpgw search index` re-chunks (and re-embeds) only
# the files of that language that an older release indexed (part of the file digest: see index.py).
# 2: JS/TS functions assigned to properties (``res.send = function send() {}``), ``export default``
#    functions and classes, class fields holding arrow functions, functions in top-level object literals
#    or passed by name, UMD wrappers and long closures looked into, JSDoc-documented bindings; and
#    ``/** … */`` doc comments one blank line above a definition (JS/TS/Java/Rust).
CHUNKER_REVISION: dict[str, int] = {"javascript": 2, "typescript": 2, "tsx": 2, "java": 2, "rust": 2}

_PARSE_LOCK = threading.Lock()  # tree-sitter parsers are shared per process and not thread-safe


@dataclass
class Chunk:
    """One searchable piece of a file. Lines are 1-based and inclusive."""

    start_line: int
    end_line: int
    kind: str
    text: str
    symbols: list[str] = field(default_factory=list)
    context: str = ""  # what the chunk is ("method Server.handle"), prefixed to its text for embedding


@dataclass(frozen=True)
class _Spec:
    defs: dict[str, str]  # node type -> chunk kind
    containers: frozenset[str]  # def types whose body holds member definitions
    wrappers: frozenset[str] = frozenset()  # nodes that wrap a definition (decorators, export)


_JS_DEFS = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "class_declaration": "class",
    "abstract_class_declaration": "class",
    "method_definition": "method",
    "interface_declaration": "interface",
    "type_alias_declaration": "type",
    "enum_declaration": "enum",
    "internal_module": "namespace",
    "module": "namespace",
    "abstract_method_signature": "method",
}
_JS_SPEC = _Spec(
    _JS_DEFS,
    frozenset({"class_declaration", "abstract_class_declaration", "class", "internal_module", "module"}),
    frozenset({"export_statement"}),
)

SPECS: dict[str, _Spec] = {
    "python": _Spec(
        {"function_definition": "function", "class_definition": "class"},
        frozenset({"class_definition"}),
        frozenset({"decorated_definition"}),
    ),
    "javascript": _JS_SPEC,
    "typescript": _JS_SPEC,
    "tsx": _JS_SPEC,
    "go": _Spec(
        {"function_declaration": "function", "method_declaration": "method", "type_declaration": "type"},
        frozenset(),
    ),
    "rust": _Spec(
        {
            "function_item": "function",
            "struct_item": "struct",
            "enum_item": "enum",
            "trait_item": "trait",
            "impl_item": "impl",
            "mod_item": "module",
            "macro_definition": "macro",
            "type_item": "type",
            "union_item": "struct",
        },
        frozenset({"impl_item", "trait_item", "mod_item"}),
    ),
    "java": _Spec(
        {
            "class_declaration": "class",
            "interface_declaration": "interface",
            "enum_declaration": "enum",
            "record_declaration": "class",
            "annotation_type_declaration": "interface",
            "method_declaration": "method",
            "constructor_declaration": "method",
        },
        frozenset({"class_declaration", "interface_declaration", "enum_declaration", "record_declaration"}),
    ),
}
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
_CLASS_VALUES = frozenset({"class", "class_expression"})


def file_language(rel: str) -> str:
    """The language label stored for a file: a parsed language, markdown/sql, or its bare suffix."""
    known = language_for_path(rel)
    if known:
        return known
    suffix = PurePosixPath(rel).suffix.lower().lstrip(".")
    return suffix or "text"


def chunk_file(rel: str, text: str, language: str | None = None) -> list[Chunk]:
    """Chunk ``text`` (the content of ``rel``) by its language."""
    language = language or file_language(rel)
    lines = text.split("\n")
    if language in PARSED_LANGUAGES:
        chunks = _chunk_code(text, lines, language)
    elif language == "markdown":
        chunks = _chunk_markdown(lines)
    elif language == "sql":
        chunks = _chunk_sql(lines)
    else:
        chunks = _windows(lines, 1, len(lines), "text", [], "", TEXT_WINDOW)
    return [c for c in chunks if c.text.strip()]


# --- code ---------------------------------------------------------------------------------------------


def _chunk_code(text: str, lines: list[str], language: str) -> list[Chunk]:
    spec = SPECS[language]
    with _PARSE_LOCK:
        tree = get_parser(language).parse(text.encode("utf-8"))
    out: list[Chunk] = []
    _scope(tree.root_node, spec, lines, out, owner=None, first=1, last=len(lines))
    out.sort(key=lambda c: (c.start_line, c.end_line))
    return out


def _name(node: Node) -> str | None:
    assigned = _assigned(node)
    if assigned is not None:
        return assigned[0]
    if node.type == "pair":
        return _key(node)
    target = node.child_by_field_name("name")
    if target is None and node.type == "field_definition":
        target = node.child_by_field_name("property")
    if target is None and (node.type in _FUNCTION_VALUES or node.type in _CLASS_VALUES):
        return "default"  # export default function () {}
    if target is None and node.type == "impl_item":
        target = node.child_by_field_name("type")
        trait = node.child_by_field_name("trait")
        if target is not None and trait is not None:
            return f"{_text(trait)} for {_text(target)}"
    if target is None and node.type == "type_declaration":
        for child in node.named_children:
            if child.type in ("type_spec", "type_alias"):
                target = child.child_by_field_name("name")
                break
    return _text(target) if target is not None else None


def _receiver(node: Node) -> str | None:
    """The receiver type of a Go method (``func (s *Server) Start()`` -> ``Server``), or the object a JS
    function is assigned to (``res.send = function send() {}`` -> ``res``)."""
    assigned = _assigned(node)
    if assigned is not None:
        return assigned[1]
    if node.type != "method_declaration":
        return None
    receiver = node.child_by_field_name("receiver")
    if receiver is None:
        return None
    match = re.search(r"(\w+)\s*(?:\[[^\]]*\])?\s*\)\s*$", _text(receiver))
    return match.group(1) if match else None


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _definition(child: Node, spec: _Spec) -> tuple[Node, str] | None:
    """The definition node inside ``child`` (itself, or the one a wrapper / ``const f = () =>`` holds)."""
    if child.type in spec.defs:
        return child, spec.defs[child.type]
    if child.type in spec.wrappers:
        for inner in child.named_children:
            found = _definition(inner, spec)
            if found:
                return found
        value = child.child_by_field_name("value") if child.type == "export_statement" else None
        made = _made_function(value) if value is not None else None  # export default [cond &&] function
        return (made, "class" if made.type in _CLASS_VALUES else "function") if made is not None else None
    if spec is not _JS_SPEC:
        return None
    if child.type in ("public_field_definition", "field_definition"):  # handleClick = (e) => {…}
        value = child.child_by_field_name("value")
        return (child, "method") if value is not None and value.type in _FUNCTION_VALUES else None
    if child.type in ("lexical_declaration", "variable_declaration"):
        for declarator in child.named_children:
            value = _unwrap(declarator.child_by_field_name("value"))
            if value is not None and value.type in _FUNCTION_VALUES:
                return declarator, "function"
            if value is not None and value.type in _CLASS_VALUES:
                return declarator, "class"
        first = child.named_children[0] if child.named_children else None
        documented = _jsdoc(child)
        if documented is not None and first is not None and _worth_a_chunk(first, "name", "value"):
            return first, documented
    if child.type == "expression_statement" and child.named_children:
        assignment = child.named_children[0]
        if assignment.type != "assignment_expression":
            return None
        value = assignment.child_by_field_name("right")
        while value is not None and value.type == "assignment_expression":  # a.b = a.c = function () {}
            value = value.child_by_field_name("right")
        if value is not None and value.type in _FUNCTION_VALUES:
            return assignment, "function"
        if value is not None and value.type in _CLASS_VALUES:
            return assignment, "class"
        documented = _jsdoc(child)
        if documented is not None and _worth_a_chunk(assignment, "left", "right"):
            return assignment, documented
    return None


def _aliases(node: Node, name: str) -> list[str]:
    """Other names of an assigned JS function: ``req.get = req.header = function header() {}`` -> header;
    ``res.type = function contentType() {}`` -> contentType."""
    if node.type != "assignment_expression":
        return []
    out: list[str] = []
    value = node.child_by_field_name("right")
    while value is not None and value.type == "assignment_expression":
        inner = _assigned(value)
        if inner is not None and inner[0] not in out:
            out.append(inner[0])
        value = value.child_by_field_name("right")
    own = value.child_by_field_name("name") if value is not None and value.type in _FUNCTION_VALUES else None
    if own is not None and _text(own) not in out:
        out.append(_text(own))
    return [n for n in out if n != name]


def _worth_a_chunk(node: Node, target: str, value: str) -> bool:
    """A documented JS binding that defines something: not ``var x = require('x')`` under a "Module
    dependencies." comment, a destructuring, or a re-export of a name (``module.exports = res``)."""
    name, val = node.child_by_field_name(target), node.child_by_field_name(value)
    if name is None or val is None or name.type in ("object_pattern", "array_pattern"):
        return False
    if val.type in ("identifier", "member_expression"):
        return False
    callee = val.child_by_field_name("function") if val.type == "call_expression" else None
    return not (callee is not None and _text(callee) == "require")


def _made_function(value: Node, depth: int = 0) -> Node | None:
    """The function or class an exported expression is: ``function () {}``, or one operand of
    ``supported && function adapter() {}`` (a few levels deep)."""
    if value.type in _FUNCTION_VALUES or value.type in _CLASS_VALUES:
        return value
    if depth < 3 and value.type in ("binary_expression", "parenthesized_expression", "ternary_expression"):
        for inner in value.named_children:
            found = _made_function(inner, depth + 1)
            if found is not None:
                return found
    return None


_JSDOC_FUNCTION = re.compile(r"@(?:param|returns?|throws)\b")


def _jsdoc(statement: Node) -> str | None:
    """For a JS/TS statement under a ``/** … */`` comment (see :func:`_leading_start`): ``function`` when
    the comment documents parameters or a result (``const isDate = kindOfTest('Date')``), else
    ``variable``. None without one."""
    if statement.parent is not None and statement.parent.type == "export_statement":
        statement = statement.parent
    prev = statement.prev_named_sibling
    if prev is None or not _is_doc_comment(prev) or prev.end_point[0] < statement.start_point[0] - 2:
        return None
    return "function" if _JSDOC_FUNCTION.search(_text(prev)) else "variable"


def _assigned(node: Node) -> tuple[str, str | None] | None:
    """Name and owner of a JS assignment's target: ``res.send`` -> (send, res), ``Axios.prototype.request``
    -> (request, Axios), ``exports.etag`` / ``module.exports`` -> (etag / exports, None)."""
    if node.type != "assignment_expression":
        return None
    left = node.child_by_field_name("left")
    if left is None:
        return None
    if left.type != "member_expression":
        return _text(left), None
    if _text(left) == "module.exports":  # module.exports = function name() {}: the function's own name
        value = node.child_by_field_name("right")
        named = value.child_by_field_name("name") if value is not None else None
        return (_text(named) if named is not None else "module.exports"), None
    prop = left.child_by_field_name("property")
    obj = left.child_by_field_name("object")
    name = _text(prop) if prop is not None else _text(left)
    owner = _text(obj) if obj is not None else ""
    owner = owner.removesuffix(".prototype")
    return name, None if owner in ("exports", "module.exports", "module") else owner


def _kind_of(node: Node, kind: str, owner: str | None) -> str:
    if kind == "function" and owner is not None:
        return "method"
    if node.type == "type_declaration":
        for spec_node in node.named_children:
            inner = spec_node.child_by_field_name("type")
            if inner is not None and inner.type == "struct_type":
                return "struct"
            if inner is not None and inner.type == "interface_type":
                return "interface"
    return kind


def _leading_start(outer: Node) -> int:
    """First row of ``outer`` including the comments/attributes directly above it (0-based). A ``/** … */``
    doc comment may stand one blank line above (a common JS style: express writes every doc that way)."""
    start = outer.start_point[0]
    prev = outer.prev_named_sibling
    while prev is not None and (prev.type.endswith("comment") or prev.type == "attribute_item"):
        if prev.end_point[0] < start - (2 if _is_doc_comment(prev) else 1):
            break
        start = prev.start_point[0]
        prev = prev.prev_named_sibling
    return start


def _is_doc_comment(node: Node) -> bool:
    return node.type.endswith("comment") and (node.text or b"").startswith(b"/**")


def _body(node: Node) -> Node | None:
    body = node.child_by_field_name("body")
    if body is None and node.type == "mod_item":
        body = next((c for c in node.named_children if c.type == "declaration_list"), None)
    return body


def _scope(
    scope: Node,
    spec: _Spec,
    lines: list[str],
    out: list[Chunk],
    owner: str | None,
    first: int,
    last: int,
    in_function: bool = False,
) -> None:
    """Emit chunks for the definitions directly in ``scope`` and for the lines between them.

    ``first``/``last`` (1-based) bound the lines this scope is responsible for. ``in_function``: ``scope``
    is a function's body (a JS closure used as a module), whose functions are not methods of ``owner``."""
    covered: list[tuple[int, int]] = []
    for outer, node, kind, receiver in _definitions(scope, spec):
        # wrappers (decorators, export) and leading comments belong to the chunk
        start = max(_leading_start(outer) + 1, first)
        end = min(outer.end_point[0] + 1, last)
        if end < start or (covered and start <= covered[-1][1]):  # minified: its line is in a chunk already
            continue
        name = _name(node) or "<anonymous>"
        qualified = f"{owner or receiver}.{name}" if owner or receiver else name
        kind = _kind_of(node, kind, receiver if in_function else owner or receiver)
        symbols = [name, *_aliases(node, name)]
        symbols += [qualified] if qualified != name else []
        context = f"{kind} {qualified}"
        body = _body(node) if node.type in spec.containers else None
        closure = body is None and spec is _JS_SPEC and end - start + 1 > MAX_LINES  # a closure used as a module
        if closure:
            function = _function_of(node)
            body = function.child_by_field_name("body") if function is not None else None
        if body is not None and any(True for _ in _definitions(body, spec)):
            _scope(body, spec, lines, out, qualified, start, end, in_function=closure)
            # the container's own lines (signature, docstring, fields) are the gap chunks made above;
            # mark them as this container's
            for chunk in out:
                if chunk.kind == "_gap" and start <= chunk.start_line and chunk.end_line <= end:
                    chunk.kind, chunk.symbols, chunk.context = kind, symbols, context
        else:
            head = signature(lines[start - 1 : end])
            out.extend(_windows(lines, start, end, kind, symbols, context, MAX_LINES, head))
        covered.append((start, end))
    gap_kind = "_gap" if owner else "module"
    for gap_start, gap_end in _gaps(covered, first, last):
        out.extend(_windows(lines, gap_start, gap_end, gap_kind, [], "", MAX_LINES))


def _definitions(scope: Node, spec: _Spec) -> Iterator[tuple[Node, Node, str, str | None]]:
    """(outer node, definition node, kind, receiver) of each definition directly in ``scope``; in JS/TS
    also the functions that a top-level statement holds in object literals (``export default { read() {} }``,
    ``const defaults = { validate: function validate() {} }``) or passes by name (``defineGetter(req,
    'ip', function ip() {})``)."""
    for child in scope.named_children:
        found = _definition(child, spec)
        if found:
            yield child, found[0], found[1], _receiver(found[0])
        elif spec is not _JS_SPEC:
            continue
        elif (inner := _iife_body(child)) is not None:  # (function () { … })(): its definitions are the file's
            yield from _definitions(inner, spec)
        elif child.type in ("expression_statement", "lexical_declaration", "variable_declaration", "export_statement"):
            for member, owner in _members(child, None, 0):
                yield member, member, "method" if owner else "function", owner


def _unwrap(node: Node | None) -> Node | None:
    while node is not None and node.type == "parenthesized_expression" and node.named_children:
        node = node.named_children[0]
    return node


def _iife_body(statement: Node) -> Node | None:
    """The body of an immediately invoked function (UMD wrappers: ``;(function () { … }.call(this))``,
    ``!function () { … }()``, ``(() => { … })()``)."""
    if statement.type != "expression_statement" or not statement.named_children:
        return None
    node = _unwrap(statement.named_children[0])
    if node is not None and node.type == "unary_expression":
        node = _unwrap(node.child_by_field_name("argument"))
    if node is None or node.type != "call_expression":
        return None
    callee = _unwrap(node.child_by_field_name("function"))
    if callee is not None and callee.type == "member_expression":  # fn.call(this) / fn.apply(…)
        callee = _unwrap(callee.child_by_field_name("object"))
    if callee is None or callee.type not in _FUNCTION_VALUES:
        return None
    body = callee.child_by_field_name("body")
    return body if body is not None and body.type == "statement_block" else None


def _function_of(node: Node) -> Node | None:
    """The function a definition node is or holds (``var f = (function f() { … })``)."""
    if node.type in ("function_declaration", "generator_function_declaration") or node.type in _FUNCTION_VALUES:
        return node
    value = node.child_by_field_name("value" if node.type == "variable_declarator" else "right")
    value = _unwrap(value)
    return value if value is not None and value.type in _FUNCTION_VALUES else None


_MEMBER_PATH = frozenset(
    {
        "expression_statement",
        "lexical_declaration",
        "variable_declaration",
        "variable_declarator",
        "export_statement",
        "assignment_expression",
        "ternary_expression",
        "parenthesized_expression",
        "binary_expression",
        "call_expression",
        "arguments",
        "array",
        "object",
        "pair",
    }
)


def _members(node: Node, owner: str | None, depth: int) -> Iterator[tuple[Node, str | None]]:
    """Functions of more than one line held in object literals under ``node``, or named ones passed as a
    call's argument or listed in an array, with the name of what holds them (a binding, an assignment
    target or a key)."""
    if depth > 6:
        return
    if node.type == "variable_declarator" or node.type == "assignment_expression":
        target = node.child_by_field_name("name" if node.type == "variable_declarator" else "left")
        assigned = _assigned(node)
        owner = assigned[0] if assigned else _text(target) if target is not None else owner
        owner = None if owner in ("module.exports", "exports") else owner
    for child in node.named_children:
        multiline = child.end_point[0] > child.start_point[0]
        if child.type == "method_definition" and node.type == "object" and multiline:
            yield child, owner
        elif child.type == "pair" and multiline:
            value = child.child_by_field_name("value")
            if value is not None and value.type in _FUNCTION_VALUES:
                yield child, owner
            elif value is not None:
                inner = _key(child) if value.type == "object" else None  # methods: { save() {} } -> methods.save
                yield from _members(value, inner or owner, depth + 1)
        elif node.type in ("arguments", "array") and child.type in _FUNCTION_VALUES and multiline:
            if child.child_by_field_name("name") is not None:  # named: not an anonymous callback
                yield child, owner
        elif child.type in _MEMBER_PATH:
            yield from _members(child, owner, depth + 1)


def _key(pair: Node) -> str | None:
    key = pair.child_by_field_name("key")
    return _text(key).strip("'\"`") if key is not None else None


def _gaps(covered: list[tuple[int, int]], first: int, last: int) -> Iterator[tuple[int, int]]:
    cursor = first
    for start, end in sorted(covered):
        if start > cursor:
            yield cursor, start - 1
        cursor = max(cursor, end + 1)
    if cursor <= last:
        yield cursor, last


SIG_END = re.compile(r"[:{]\s*$|\)\s*(->.*)?$")  # a line that ends a definition's signature


def signature(block: list[str]) -> str:
    """The definition's header line(s), skipping decorators and comments: context on split windows and
    part of a definition's embedded header (:func:`mcpgw.search.index.header_text`)."""
    for i, line in enumerate(block):
        stripped = line.strip()
        if not stripped or stripped.startswith(("@", "#", "//", "/*", "*", "///", "#[")):
            continue
        head = [stripped]
        for more in block[i + 1 : i + 4]:
            if SIG_END.search(head[-1]):
                break
            head.append(more.strip())
        return " ".join(head)[:200]
    return ""


def _windows(
    lines: list[str], start: int, end: int, kind: str, symbols: list[str], context: str, size: int, header: str = ""
) -> list[Chunk]:
    """Lines ``start..end`` as one chunk, or as windows of ``size`` lines (trailing blanks trimmed)."""
    while end >= start and not lines[end - 1].strip():
        end -= 1
    while start <= end and not lines[start - 1].strip():
        start += 1
    if end < start or _trivial(lines[start - 1 : end]):
        return []
    out: list[Chunk] = []
    for lo in range(start, end + 1, size):
        hi = min(lo + size - 1, end)
        body = "\n".join(lines[lo - 1 : hi])
        ctx = context if lo == start or not header else f"{context} (continued) {header}"
        out.append(Chunk(lo, hi, kind, body, list(symbols), ctx))
    return out


def _trivial(block: list[str]) -> bool:
    """Only braces, punctuation or blank lines: nothing to search for."""
    return not any(re.search(r"\w", line) for line in block)


# --- markdown -----------------------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _chunk_markdown(lines: list[str]) -> list[Chunk]:
    sections: list[tuple[int, int, str]] = []
    start, title, fenced = 1, "", False
    for i, line in enumerate(lines, 1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match and i > start:
            sections.append((start, i - 1, title))
            start = i
        if match:
            title = match.group(2)
    sections.append((start, len(lines), title))
    out: list[Chunk] = []
    for lo, hi, heading in _merge_small(sections):
        symbols = [heading] if heading else []
        out.extend(_windows(lines, lo, hi, "section", symbols, f"section {heading}".strip(), MAX_LINES))
    return out


def _merge_small(parts: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Join neighbouring small parts (a heading with two lines, a one-line statement) up to MERGE_SMALL."""
    merged: list[tuple[int, int, str]] = []
    for lo, hi, label in parts:
        if merged and (hi - merged[-1][0] + 1) <= MERGE_SMALL and (merged[-1][1] - merged[-1][0] < 8 or hi - lo < 8):
            plo, _, plabel = merged[-1]
            merged[-1] = (plo, hi, plabel or label)
        else:
            merged.append((lo, hi, label))
    return merged


# --- sql ----------------------------------------------------------------------------------------------

_SQL_NAME = re.compile(
    r"\b(?:create|alter|drop)\s+(?:or\s+replace\s+)?(?:temp(?:orary)?\s+)?(?:unique\s+)?(?:materialized\s+)?"
    r"(?:table|view|index|function|procedure|trigger|type|sequence|schema)\s+(?:if\s+(?:not\s+)?exists\s+)?"
    r"([\w.\"`\[\]]+)",
    re.I,
)


def _chunk_sql(lines: list[str]) -> list[Chunk]:
    statements: list[tuple[int, int, str]] = []
    start, dollar = 1, False
    for i, line in enumerate(lines, 1):
        if line.count("$$") % 2:
            dollar = not dollar
        if not dollar and line.rstrip().endswith(";"):
            block = "\n".join(lines[start - 1 : i])
            match = _SQL_NAME.search(block)
            statements.append((start, i, match.group(1).strip('"`[]') if match else ""))
            start = i + 1
    if start <= len(lines):
        statements.append((start, len(lines), ""))
    out: list[Chunk] = []
    for lo, hi, name in _merge_small(statements):
        names = sorted({m.group(1).strip('"`[]') for m in _SQL_NAME.finditer("\n".join(lines[lo - 1 : hi]))})
        out.extend(_windows(lines, lo, hi, "statement", names or ([name] if name else []), "sql", MAX_LINES))
    return out
