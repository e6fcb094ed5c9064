"""Git hooks in real repositories: installed by the CLI, run by real `git commit` / `git push`."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpgw.client import DaemonClient
from mcpgw.errors import ConfigError
from mcpgw.hooks import EXIT_BLOCKED, load_settings, matches, run_hook
from mcpgw.paths import resolve_paths
from tests.conftest import run_cli

LEGACY = '#!/bin/sh\necho legacy-ran >> "$(git rev-parse --git-dir)/legacy.log"\nexit ${LEGACY_EXIT:-0}\n'


def git(
    repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env, check=check)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "T")
    return root


def write_legacy(hooks: Path, name: str = "pre-commit") -> Path:
    hooks.mkdir(parents=True, exist_ok=True)
    path = hooks / name
    path.write_text(LEGACY)
    path.chmod(0o750)
    return path


def test_install_keeps_existing_hook_as_legacy_and_uninstall_restores_it(repo: Path, env: dict[str, str]) -> None:
    original = write_legacy(repo / ".git/hooks")
    before = original.read_bytes()
    result = run_cli(env, "hooks", "install", "--pre-commit", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "pre-commit.legacy" in result.stderr
    assert (repo / ".git/hooks/pre-commit.legacy").read_bytes() == before
    assert "mcpgw-managed-hook" in (repo / ".git/hooks/pre-commit").read_text()
    assert not (repo / ".git/hooks/pre-push").exists()

    listed = json.loads(run_cli(env, "hooks", "list", "--json", cwd=repo).stdout)
    assert [(h["name"], h["installed"], h["legacy"]) for h in listed] == [
        ("pre-commit", True, True),
        ("pre-push", False, False),
    ]
    # installing again is an update, not a second .legacy shuffle
    assert run_cli(env, "hooks", "install", "--pre-commit", cwd=repo).returncode == 0
    assert (repo / ".git/hooks/pre-commit.legacy").read_bytes() == before

    result = run_cli(env, "hooks", "uninstall", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert original.read_bytes() == before
    assert stat.S_IMODE(original.stat().st_mode) == 0o750
    assert not (repo / ".git/hooks/pre-commit.legacy").exists()


def test_install_respects_core_hooks_path(repo: Path, env: dict[str, str]) -> None:
    git(repo, "config", "core.hooksPath", ".githooks")
    assert run_cli(env, "hooks", "install", cwd=repo).returncode == 0
    assert (repo / ".githooks/pre-commit").is_file()
    assert (repo / ".githooks/pre-push").is_file()
    assert not (repo / ".git/hooks/pre-commit").exists()


def test_commit_chains_legacy_and_fails_open_without_daemon(repo: Path, env: dict[str, str]) -> None:
    write_legacy(repo / ".git/hooks")
    assert run_cli(env, "hooks", "install", "--pre-commit", cwd=repo).returncode == 0
    (repo / "app.py").write_text("print('hi')\n")
    git(repo, "add", "app.py")
    done = git(repo, "commit", "-qm", "one", env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "daemon not running; pre-commit review skipped" in done.stderr
    assert (repo / ".git/legacy.log").read_text() == "legacy-ran\n"

    # a failing legacy hook still blocks the commit
    (repo / "more.py").write_text("x = 1\n")
    git(repo, "add", "more.py")
    blocked = git(repo, "commit", "-qm", "two", env={**env, "LEGACY_EXIT": "1"}, check=False)
    assert blocked.returncode != 0
    # MCPGW_SKIP skips ours (the legacy hook still runs) and --no-verify skips everything
    skipped = git(repo, "commit", "-qm", "two", env={**env, "MCPGW_SKIP": "1"}, check=False)
    assert skipped.returncode == 0
    assert "review skipped" not in skipped.stderr
    (repo / "third.py").write_text("y = 2\n")
    git(repo, "add", "third.py")
    nv = git(repo, "commit", "--no-verify", "-qm", "three", env={**env, "LEGACY_EXIT": "1"}, check=False)
    assert nv.returncode == 0


def test_commit_with_no_matching_files_does_not_contact_the_daemon(repo: Path, env: dict[str, str]) -> None:
    assert run_cli(env, "hooks", "install", "--pre-commit", cwd=repo).returncode == 0
    (repo / "notes.txt").write_text("not code\n")
    git(repo, "add", "notes.txt")
    done = git(repo, "commit", "-qm", "docs", env=env, check=False)
    assert done.returncode == 0
    assert done.stderr == ""


def test_push_runs_pre_push_and_fails_open(repo: Path, tmp_path: Path, env: dict[str, str]) -> None:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    (repo / "base.py").write_text("a = 1\n")
    git(repo, "add", "base.py")
    git(repo, "commit", "-qm", "base")
    git(repo, "push", "-q", "origin", "main")
    assert run_cli(env, "hooks", "install", "--pre-push", cwd=repo).returncode == 0
    (repo / "feature.py").write_text("def f():\n    return 1\n")
    git(repo, "add", "feature.py")
    git(repo, "commit", "-qm", "feature")
    pushed = git(repo, "push", "origin", "main", env=env, check=False)
    assert pushed.returncode == 0, pushed.stderr
    assert "daemon not running; pre-push review skipped" in pushed.stderr
    assert git(bare, "log", "--format=%s", "-1", "main").stdout.strip() == "feature"


def code_agent(findings: list[dict[str, Any]], seen: list[dict[str, Any]], cost: float = 0.0) -> httpx.MockTransport:
    """The daemon's /v1/code-agent contract, answered over a real httpx transport."""

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/code-agent"
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"result": {"findings": findings}, "performance": {"cost": cost}})

    return httpx.MockTransport(handle)


def test_findings_are_printed_and_block_only_when_configured(repo: Path, env: dict[str, str]) -> None:
    paths = resolve_paths(env)
    (repo / "ai-mcp.config.json").write_text(json.dumps({"hooks": {"patterns": ["*.py"], "blocking": True}}))
    (repo / "bug.py").write_text("x = 1 / 0\n")
    (repo / "skip.md").write_text("# doc\n")
    git(repo, "add", "bug.py", "skip.md")
    seen: list[dict[str, Any]] = []
    transport = code_agent([{"line": 1, "message": "division by zero", "severity": "error"}], seen)
    out, err = io.StringIO(), io.StringIO()
    code = run_hook(
        "pre-commit", repo, out=out, err=err, client_factory=lambda: DaemonClient(paths, transport=transport)
    )
    assert code == EXIT_BLOCKED
    assert out.getvalue() == "bug.py:1: division by zero\n"
    assert [(s["path"], s["mode"], s["layer"], s["content"]) for s in seen] == [
        ("bug.py", "review", "L0", "x = 1 / 0\n")
    ]
    assert "blocked by 1 finding" in err.getvalue()

    (repo / "ai-mcp.config.json").write_text(json.dumps({"hooks": {"patterns": ["*.py"]}}))
    code = run_hook(
        "pre-commit",
        repo,
        out=io.StringIO(),
        err=io.StringIO(),
        client_factory=lambda: DaemonClient(paths, transport=transport),
    )
    assert code == 0


def test_budget_cap_stops_reviewing(repo: Path, env: dict[str, str]) -> None:
    paths = resolve_paths(env)
    (repo / "ai-mcp.config.json").write_text(json.dumps({"hooks": {"budgetUsd": 0.01}}))
    for name in ("a.py", "b.py", "c.py"):
        (repo / name).write_text(f"{name} = 1\n")
    git(repo, "add", ".")
    seen: list[dict[str, Any]] = []
    err = io.StringIO()
    code = run_hook(
        "pre-commit",
        repo,
        out=io.StringIO(),
        err=err,
        client_factory=lambda: DaemonClient(paths, transport=code_agent([], seen, cost=0.01)),
    )
    assert code == 0
    assert len(seen) == 1
    assert "budget ($0.01) is spent" in err.getvalue()


def test_fail_closed_when_configured(repo: Path, env: dict[str, str]) -> None:
    (repo / ".ai-mcp.yml").write_text("hooks:\n  failOpen: false\n")
    (repo / "a.py").write_text("a = 1\n")
    git(repo, "add", "a.py")
    os.environ["MCPGW_HOME"] = env["MCPGW_HOME"]
    try:
        assert run_hook("pre-commit", repo, out=io.StringIO(), err=io.StringIO()) == EXIT_BLOCKED
    finally:
        del os.environ["MCPGW_HOME"]


def test_bad_hook_settings_are_clear_errors(repo: Path) -> None:
    (repo / "ai-mcp.config.json").write_text(json.dumps({"hooks": {"layer": "L9"}}))
    with pytest.raises(ConfigError, match=r"hooks\.layer"):
        load_settings(repo)
    (repo / "ai-mcp.config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="invalid JSON at line 1"):
        load_settings(repo)


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("src/a.py", "*.py", True),
        ("src/a.py", "src/**/*.py", True),
        ("src/x/a.py", "src/**/*.py", True),
        ("a.txt", "*.py", False),
        ("lib/a.py", "src/*.py", False),
    ],
)
def test_pattern_matching(path: str, pattern: str, expected: bool) -> None:
    assert matches(path, [pattern]) is expected
