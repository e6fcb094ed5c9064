"""Which files make up a project, what category each one is, and which frameworks it uses.

Inside a git work tree the file list is git's (tracked plus untracked-but-not-ignored), so
``.gitignore`` is honoured for free; elsewhere the directory is walked, skipping the usual build,
dependency and cache directories. Vendored dependencies, lock files and minified bundles are skipped
in both cases: they would drown the project's own code in the ranking.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from mcpgw.errors import UsageError

CATEGORIES = ("core", "infra", "feature", "test", "config")

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "vendor",
        "third_party",
        "__pycache__",
        ".venv",
        "venv",
        "env",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "dist",
        "build",
        "target",
        ".next",
        ".nuxt",
        "out",
        "coverage",
        ".idea",
        ".vscode",
        "site-packages",
        ".eggs",
        ".cache",
    }
)
SKIP_FILES = frozenset(
    {
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "uv.lock",
        "Cargo.lock",
        "go.sum",
        "composer.lock",
        "Gemfile.lock",
        "Pipfile.lock",
        ".DS_Store",
    }
)
_SKIP_SUFFIXES = (".min.js", ".min.css", ".map", ".pyc", ".pyo", ".so", ".dll", ".dylib", ".exe")

# Languages for files the parser does not handle, for metadata.languages (beyond mcpgw.lang).
EXTRA_LANGUAGES: dict[str, str] = {
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".ini": "ini",
    ".cfg": "ini",
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".html": "html",
    ".css": "css",
    ".scss": "scss",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".kt": "kotlin",
    ".swift": "swift",
    ".scala": "scala",
    ".lua": "lua",
    ".vue": "vue",
    ".svelte": "svelte",
    ".txt": "text",
    ".rst": "restructuredtext",
    ".proto": "protobuf",
    ".tf": "terraform",
    ".xml": "xml",
}

_TEST_RE = re.compile(
    r"(^|/)(tests?|__tests__|spec|specs|testdata|e2e)/|(^|/)test_[^/]*\.py$|_test\.(py|go)$|"
    r"\.(test|spec)\.[cm]?[jt]sx?$|(^|/)conftest\.py$"
)
_CONFIG_NAMES = frozenset(
    {
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "package.json",
        "tsconfig.json",
        "go.mod",
        "Makefile",
        "requirements.txt",
        "tox.ini",
        ".editorconfig",
        ".gitignore",
        ".pre-commit-config.yaml",
        "Cargo.toml",
        "ai-mcp.config.json",
        ".ai-mcp.yml",
        "jest.config.js",
        "vite.config.ts",
        "webpack.config.js",
        "babel.config.js",
        ".eslintrc.json",
        ".prettierrc",
        "mypy.ini",
    }
)
_CONFIG_RE = re.compile(
    r"(^|/)[^/]*\.(toml|ini|cfg|ya?ml|json|env)$|(^|/)\.[^/]+rc(\.[a-z]+)?$|(^|/)[^/]*\.config\.[cm]?[jt]s$"
)
_INFRA_RE = re.compile(
    r"(^|/)(Dockerfile[^/]*|docker-compose[^/]*|Containerfile|Jenkinsfile|Procfile|\.dockerignore)$|"
    r"(^|/)(\.github|\.gitlab|\.circleci|scripts|deploy|deployment|infra|ops|migrations|alembic|"
    r"charts|helm|terraform|k8s|kubernetes|ci|tools|bin)/"
)
_CORE_RE = re.compile(r"(^|/)(core|lib|libs|utils|util|common|shared|internal/core|pkg/core)/")


def language_of(path: str) -> str | None:
    """The language name of a repo-relative path: the parser's name, else a metadata-only name."""
    from mcpgw.lang import language_for_path

    lang = language_for_path(path)
    if lang is not None:
        return lang
    name = PurePosixPath(path).name
    if name.startswith("Dockerfile"):
        return "dockerfile"
    if name == "Makefile":
        return "make"
    return EXTRA_LANGUAGES.get(PurePosixPath(path).suffix.lower())


def is_test_path(path: str) -> bool:
    return _TEST_RE.search(path) is not None


def rule_category(path: str, overrides: Mapping[str, str] | None = None) -> str | None:
    """The category a path gets from the rules alone (None = decide from the graph: core or feature).

    ``overrides`` maps glob patterns (``fnmatch`` on the repo-relative path, ``**`` allowed) to a
    category and wins over the built-in rules; the first matching pattern applies.
    """
    for pattern, category in (overrides or {}).items():
        if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, pattern.replace("**/", "")):
            return category
    if is_test_path(path):
        return "test"
    name = PurePosixPath(path).name
    if _INFRA_RE.search(path):
        return "infra"
    if name in _CONFIG_NAMES or _CONFIG_RE.search(path):
        return "config"
    if _CORE_RE.search(path):
        return "core"
    return None


def check_overrides(overrides: Mapping[str, object]) -> dict[str, str]:
    """Validate a ``repoMap.categories`` mapping (glob -> category) from the project config."""
    checked: dict[str, str] = {}
    for pattern, category in overrides.items():
        if not isinstance(category, str) or category not in CATEGORIES:
            raise UsageError(
                f"repoMap.categories: {pattern!r} maps to {category!r}, not one of {', '.join(CATEGORIES)}",
                fix="use one of core, infra, feature, test, config in the project config",
            )
        checked[str(pattern)] = category
    return checked


def find_git_root(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _git_files(root: Path) -> list[str] | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = []
    for raw in out.split(b"\0"):
        if raw:
            files.append(os.fsdecode(raw))
    return files


def _walk_files(root: Path) -> list[str]:
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        rel = os.path.relpath(dirpath, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        files.extend(prefix + name for name in filenames)
    return files


def list_files(root: Path, *, max_depth: int | None = None) -> list[str]:
    """Repo-relative POSIX paths of the project's files under ``root``, sorted.

    ``max_depth`` limits how many directory levels below ``root`` are included (0 = only files
    directly in ``root``).
    """
    files = _git_files(root) if find_git_root(root) is not None else None
    if files is None:
        files = _walk_files(root)
    kept: list[str] = []
    for path in files:
        parts = path.split("/")
        if max_depth is not None and len(parts) - 1 > max_depth:
            continue
        if any(p in SKIP_DIRS for p in parts[:-1]) or parts[-1] in SKIP_FILES:
            continue
        if parts[-1].endswith(_SKIP_SUFFIXES):
            continue
        kept.append(path)
    kept.sort()
    return kept


# ---- frameworks ----

_PY_FRAMEWORKS = {
    "django": "django",
    "fastapi": "fastapi",
    "flask": "flask",
    "starlette": "starlette",
    "pyramid": "pyramid",
    "tornado": "tornado",
    "aiohttp": "aiohttp",
    "sanic": "sanic",
    "litestar": "litestar",
    "celery": "celery",
    "sqlalchemy": "sqlalchemy",
    "pydantic": "pydantic",
    "typer": "typer",
    "click": "click",
    "textual": "textual",
    "pytest": "pytest",
    "streamlit": "streamlit",
    "torch": "pytorch",
    "tensorflow": "tensorflow",
    "numpy": "numpy",
    "pandas": "pandas",
}
_JS_FRAMEWORKS = {
    "react": "react",
    "next": "next",
    "vue": "vue",
    "nuxt": "nuxt",
    "svelte": "svelte",
    "@sveltejs/kit": "sveltekit",
    "@angular/core": "angular",
    "express": "express",
    "fastify": "fastify",
    "koa": "koa",
    "@nestjs/core": "nestjs",
    "hono": "hono",
    "electron": "electron",
    "vite": "vite",
    "jest": "jest",
    "vitest": "vitest",
    "@playwright/test": "playwright",
    "mocha": "mocha",
    "react-native": "react-native",
    "solid-js": "solid",
    "remix": "remix",
    "@remix-run/react": "remix",
}
_GO_FRAMEWORKS = {
    "github.com/gin-gonic/gin": "gin",
    "github.com/labstack/echo": "echo",
    "github.com/gofiber/fiber": "fiber",
    "github.com/gorilla/mux": "gorilla",
    "github.com/go-chi/chi": "chi",
    "google.golang.org/grpc": "grpc",
    "github.com/spf13/cobra": "cobra",
    "gorm.io/gorm": "gorm",
    "github.com/stretchr/testify": "testify",
}
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _py_requirement_names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        match = _REQ_NAME.match(line)
        if match:
            names.add(match.group(1).lower().replace("_", "-"))
    return names


def detect_frameworks(root: Path, files: list[str]) -> list[str]:
    """Frameworks named in the project's manifests (pyproject/requirements, package.json, go.mod)."""
    found: set[str] = set()
    for path in files:
        name = PurePosixPath(path).name
        is_requirements = name.startswith("requirements") and name.endswith(".txt")
        if path.count("/") > 2 or (name not in {"pyproject.toml", "package.json", "go.mod"} and not is_requirements):
            continue
        try:
            text = (root / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if name == "package.json":
            found.update(_package_json_frameworks(text))
        elif name == "go.mod":
            found.update(fw for mod, fw in _GO_FRAMEWORKS.items() if mod in text)
        elif name == "pyproject.toml":
            found.update(_pyproject_frameworks(text))
        else:
            names = _py_requirement_names(text.splitlines())
            found.update(fw for pkg, fw in _PY_FRAMEWORKS.items() if pkg in names)
    return sorted(found)


def _package_json_frameworks(text: str) -> set[str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return set()
    if not isinstance(data, dict):
        return set()
    deps: set[str] = set()
    for key in ("dependencies", "devDependencies", "peerDependencies"):
        section = data.get(key)
        if isinstance(section, dict):
            deps.update(section)
    return {fw for pkg, fw in _JS_FRAMEWORKS.items() if pkg in deps}


def _pyproject_frameworks(text: str) -> set[str]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return set()
    lines: list[str] = []
    project = data.get("project", {})
    if isinstance(project, dict):
        lines.extend(str(d) for d in project.get("dependencies", []) or [])
        for group in (project.get("optional-dependencies") or {}).values():
            lines.extend(str(d) for d in group or [])
    poetry = data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) else {}
    if isinstance(poetry, dict):
        for key in ("dependencies", "dev-dependencies"):
            section = poetry.get(key)
            if isinstance(section, dict):
                lines.extend(section)
    names = _py_requirement_names(lines)
    return {fw for pkg, fw in _PY_FRAMEWORKS.items() if pkg in names}
