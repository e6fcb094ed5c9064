"""Validators that can reject an answer and trigger escalation: asked-for JSON that does not parse, and
code that does not parse (Python with ``ast``; other languages with tree-sitter's error nodes)."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from mcpgw.lang import PARSED_LANGUAGES, get_parser, language_for_path

_FENCE = re.compile(r"```([\w+-]*)\s*\n(.*?)```", re.DOTALL)
_FENCE_LANG = {
    "py": "python",
    "python": "python",
    "js": "javascript",
    "javascript": "javascript",
    "ts": "typescript",
    "typescript": "typescript",
    "tsx": "tsx",
    "go": "go",
    "rust": "rust",
    "rs": "rust",
    "java": "java",
}


def extract_code(text: str) -> tuple[str, str | None]:
    """The first fenced code block (and its language tag), or the whole text when there is none."""
    match = _FENCE.search(text)
    if match is None:
        return text, None
    return match.group(2), _FENCE_LANG.get(match.group(1).lower())


def check_json(text: str) -> str | None:
    candidate = text.strip()
    code, _ = extract_code(candidate)
    for attempt in (candidate, code.strip()):
        try:
            json.loads(attempt)
            return None
        except ValueError:
            continue
    return "the answer is not valid JSON although JSON was asked for"


def check_code(text: str, language: str | None) -> str | None:
    code, tagged = extract_code(text)
    lang = tagged or language
    if lang == "python":
        try:
            ast.parse(code)
        except SyntaxError as exc:
            return f"the Python code does not parse (line {exc.lineno}: {exc.msg})"
        return None
    if lang in PARSED_LANGUAGES:
        tree = get_parser(lang).parse(code.encode())
        if tree.root_node.has_error:
            return f"the {lang} code does not parse"
    return None


def validate(
    answer: str, *, openai: dict[str, Any], task_type: str, files: list[str], has_tool_calls: bool
) -> str | None:
    """Why the answer should be rejected, or None when it passes."""
    if has_tool_calls:
        return None
    fmt = openai.get("response_format") or {}
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        return check_json(answer)
    if task_type == "code" and "```" in answer:
        language = language_for_path(files[0]) if files else None
        return check_code(answer, language)
    return None
