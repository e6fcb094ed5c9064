"""Which project files a failing test involves: paths named in its stack trace, and the modules its test
file imports (Python ``import``/``from``, JavaScript relative ``import``/``require``), all under the root."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

SOURCE_EXT = (".py", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts")
_TRACE_PATH = re.compile(r"([\w@.+\-/\\]+\.(?:py|jsx?|mjs|cjs|tsx?|mts|cts))\b")
_PY_IMPORT = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+import|import\s+([\w.]+))", re.M)
_JS_IMPORT = re.compile(r"""(?:from\s+|require\(\s*|import\(\s*)['"](\.{1,2}/[^'"]+)['"]""")
_SKIP_DIRS = {"node_modules", "site-packages", ".venv", "venv", ".git", "dist-packages"}


def is_test_file(rel: str) -> bool:
    """Test files by the usual conventions (test_*.py, *_test.py, *.test.ts, *.spec.js, tests/ dirs)."""
    p = PurePosixPath(rel)
    name = p.name
    return (
        name.startswith("test_")
        or p.stem.endswith("_test")
        or ".test." in name
        or ".spec." in name
        or name == "conftest.py"
        or any(part in ("tests", "test", "__tests__", "spec") for part in p.parts[:-1])
    )


def _inside(root: Path, candidate: Path) -> str | None:
    """``candidate`` relative to ``root`` when it is a regular file under it (and not in a vendored dir)."""
    try:
        real = Path(os.path.realpath(candidate))
        rel = real.relative_to(root)
    except (ValueError, OSError):
        return None
    if any(part in _SKIP_DIRS for part in rel.parts) or not real.is_file():
        return None
    return rel.as_posix()


def trace_files(root: Path, text: str) -> list[str]:
    """Project files named in a stack trace, in the order they appear, without repeats."""
    out: list[str] = []
    for m in _TRACE_PATH.finditer(text):
        raw = m.group(1).replace("\\", "/")
        found = _inside(root, Path(raw) if os.path.isabs(raw) else root / raw)
        if found and found not in out:
            out.append(found)
    return out


def _python_imports(root: Path, rel: str, text: str) -> list[str]:
    here = (root / rel).parent
    bases = [root, root / "src", here]
    out: list[str] = []
    for m in _PY_IMPORT.finditer(text):
        module = m.group(1) or m.group(2) or ""
        dots = len(module) - len(module.lstrip("."))
        parts = [p for p in module.lstrip(".").split(".") if p]
        search = [here.joinpath(*[".."] * (dots - 1))] if dots else bases
        for base in search:
            stem = base.joinpath(*parts) if parts else base
            for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
                found = _inside(root, candidate)
                if found and found not in out:
                    out.append(found)
    return out


def _js_imports(root: Path, rel: str, text: str) -> list[str]:
    here = (root / rel).parent
    out: list[str] = []
    for m in _JS_IMPORT.finditer(text):
        target = here / m.group(1)
        options = [target] if target.suffix in SOURCE_EXT else []
        options += [target.with_name(target.name + ext) for ext in SOURCE_EXT]
        options += [target / f"index{ext}" for ext in SOURCE_EXT]
        if target.suffix == ".js":  # TypeScript projects import ./x.js for ./x.ts
            options += [target.with_suffix(ext) for ext in (".ts", ".tsx")]
        for candidate in options:
            found = _inside(root, candidate)
            if found:
                if found not in out:
                    out.append(found)
                break
    return out


def imported_files(root: Path, rel: str, text: str) -> list[str]:
    """Project files that ``rel`` (whose content is ``text``) imports."""
    if rel.endswith(".py"):
        return _python_imports(root, rel, text)
    return _js_imports(root, rel, text)
