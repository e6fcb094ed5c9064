"""The shared tree-sitter layer: which language a file is in, and a cached parser for it.

Code search (``mcpgw.search``) and the repo map (``mcpgw.repomap``) both parse through here, so a
grammar is loaded once per process. Grammars come from the per-language wheels
(``tree-sitter-python`` …), which work offline; nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Language, Parser

# extension -> language name
EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".md": "markdown",
    ".markdown": "markdown",
    ".sql": "sql",
}

# language name -> (module, function returning the grammar pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
}

PARSED_LANGUAGES: frozenset[str] = frozenset(_GRAMMARS)


def language_for_path(path: str | PurePath) -> str | None:
    """The language of a file from its name, or None when we do not know it."""
    return EXTENSIONS.get(PurePath(path).suffix.lower())


@functools.cache
def get_language(name: str) -> Language:
    """The tree-sitter ``Language`` for ``name``; KeyError for a language without a grammar."""
    from tree_sitter import Language

    module_name, attr = _GRAMMARS[name]
    module = importlib.import_module(module_name)
    return Language(getattr(module, attr)())


@functools.cache
def get_parser(name: str) -> Parser:
    """A parser for ``name``, cached per process (parsers are not thread-safe: one thread at a time)."""
    from tree_sitter import Parser

    return Parser(get_language(name))
