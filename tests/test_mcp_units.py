"""MCP server pieces without a server: the sandbox under attack, test-output triage on real runner
output, secret masking, editor config install, git status parsing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mcpgw.errors import ConfigError, NotFound, UsageError
from mcpgw.mcp_server import triage
from mcpgw.mcp_server.install import install
from mcpgw.mcp_server.sandbox import Sandbox, SandboxViolation
from mcpgw.mcp_server.tools.git import parse_status
from mcpgw.mcp_server.tracing import MASK, mask_args

FIXTURES = Path(__file__).parent / "fixtures" / "triage"


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hi')\n")
    (root / ".git").mkdir()
    outside = tmp_path / "outside"
    outside.write_text("secret\n")
    return root, outside


def test_reads_inside_and_refuses_every_escape(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    box = Sandbox(root)
    assert box.read("src/app.py").content == "print('hi')\n"
    assert box.read(str(root / "src" / "app.py")).path == "src/app.py"  # absolute inside the root is fine
    for attack in ("../outside", "src/../../outside", str(outside), "/etc/passwd", "~/.ssh/id_rsa", "a\0b"):
        with pytest.raises(SandboxViolation):
            box.read(attack)


def test_symlinks_pointing_out_are_refused_for_read_write_and_list(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    (root / "link").symlink_to(outside)
    (root / "dirlink").symlink_to(outside.parent)
    (root / "inner").symlink_to(root / "src" / "app.py")
    box = Sandbox(root)
    with pytest.raises(SandboxViolation, match="symlink"):
        box.read("link")
    with pytest.raises(SandboxViolation):
        box.write("link", "overwritten")
    with pytest.raises(SandboxViolation):
        box.write("dirlink/new.txt", "x")
    assert outside.read_text() == "secret\n"
    assert not (outside.parent / "new.txt").exists()
    assert box.read("inner").content == "print('hi')\n"  # a link that stays inside is fine
    entries = {e.path: e for e in box.list(".", include_hidden=True)[0]}
    assert entries["link"].type == "symlink" and entries["link"].target_inside is False
    assert entries["inner"].target_inside is True


def test_writes_are_atomic_confined_and_never_in_git(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    box = Sandbox(root, max_write=100)
    assert box.write("src/new.py", "x = 1\n") == ("src/new.py", 6, True)
    assert box.write("src/new.py", "x = 2\n") == ("src/new.py", 6, False)
    with pytest.raises(UsageError, match="already exists"):
        box.write("src/new.py", "x", overwrite=False)
    with pytest.raises(NotFound):
        box.write("deep/er/file.txt", "x")
    assert box.write("deep/er/file.txt", "x", create_dirs=True)[2] is True
    with pytest.raises(SandboxViolation, match=r"\.git"):
        box.write(".git/hooks/pre-commit", "#!/bin/sh\n")
    with pytest.raises(SandboxViolation):
        box.write("../escape.txt", "x")
    with pytest.raises(UsageError, match="write limit"):
        box.write("big.txt", "x" * 101)
    assert not (root.parent / "escape.txt").exists()
    assert sorted(p.name for p in (root / "src").iterdir()) == ["app.py", "new.py"]  # no temp files left


def test_binary_files_need_base64_and_big_files_are_refused(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    (root / "img.bin").write_bytes(b"\x89PNG\0\x01\x02")
    (root / "big.txt").write_text("y" * 2000)
    box = Sandbox(root, max_read=1000)
    with pytest.raises(UsageError, match="binary"):
        box.read("img.bin")
    got = box.read("img.bin", encoding="base64")
    assert got.content == "iVBORwABAg==" and got.size == 7
    with pytest.raises(UsageError, match="read limit"):
        box.read("big.txt")
    with pytest.raises(UsageError, match="directory"):
        box.read("src")


@pytest.mark.parametrize(
    ("framework", "names", "types", "lines"),
    [
        (
            "pytest",
            [
                "tests/test_calc.py::test_add_two",
                "tests/test_calc.py::test_divide",
                "tests/test_calc.py::test_uses_broken",
            ],
            ["assertion", "exception", "error"],
            [13, 17, 22],
        ),
        (
            "vitest",
            ["vt/sum.test.js > sum > adds two and two", "vt/sum.test.js > sum > waits too long"],
            ["assertion", "timeout"],
            [8, 10],
        ),
        ("jest", ["sum › adds two and two", "sum › throws"], ["assertion", "exception"], [7, 10]),
        ("playwright", ["adds two and two", "waits too long"], ["assertion", "timeout"], [7, 9]),
    ],
)
def test_triage_parses_real_runner_output(framework: str, names: list[str], types: list[str], lines: list[int]) -> None:
    text = (FIXTURES / f"{framework}.out").read_text()
    assert triage.detect(text) == framework
    report = triage.parse(text)
    assert report is not None
    assert [f.test_name for f in report.failures] == names
    assert [f.failure_type for f in report.failures] == types
    assert [f.line for f in report.failures] == lines
    assert report.passed == 1
    assert all(f.message and f.file for f in report.failures)
    assert len(report.affected_files) == 1


def test_triage_messages_carry_the_assertion() -> None:
    report = triage.parse((FIXTURES / "pytest.out").read_text())
    assert report is not None
    assert report.failures[0].message == "assert 5 == 4"
    assert report.failures[2].message == "RuntimeError: fixture could not start"
    assert "assert add(2, 2) == 4" in report.failures[0].stack_trace
    assert triage.detect("hello world") is None


def test_masking_hides_secrets_by_key_and_by_shape() -> None:
    masked = mask_args(
        {
            "api_key": "abc",
            "headers": {"Authorization": "Bearer x"},
            "message": "use sk-abcdefghijklmnopqrstuvwx please",
            "content": "z" * 500,
            "n": 3,
        }
    )
    assert masked["api_key"] == MASK and masked["headers"]["Authorization"] == MASK
    assert "sk-abc" not in masked["message"] and MASK in masked["message"]
    assert masked["content"].endswith("(500 chars)") and masked["n"] == 3


@pytest.mark.parametrize(
    ("client", "key", "rel"),
    [
        ("vscode", "servers", ".vscode/mcp.json"),
        ("cursor", "mcpServers", ".cursor/mcp.json"),
        ("claude-code", "mcpServers", ".mcp.json"),
    ],
)
def test_install_writes_project_configs(tmp_path: Path, client: str, key: str, rel: str) -> None:
    result = install(client, tmp_path)
    assert result.path == tmp_path / rel and result.backup is None
    data = json.loads((tmp_path / rel).read_text())
    entry = data[key]["mcpgw"]
    assert entry["args"][-4:] == ["mcp", "serve", "--root", str(tmp_path.resolve())]
    assert os.path.isabs(entry["command"])


def test_install_merges_backs_up_and_refuses_broken_files(tmp_path: Path) -> None:
    cfg = tmp_path / "claude_desktop_config.json"
    cfg.write_text(json.dumps({"mcpServers": {"other": {"command": "x"}}, "theme": "dark"}))
    result = install("claude-desktop", tmp_path, path=cfg)
    data = json.loads(cfg.read_text())
    assert set(data["mcpServers"]) == {"other", "mcpgw"} and data["theme"] == "dark"
    assert result.backup is not None and json.loads(result.backup.read_text())["mcpServers"] == {
        "other": {"command": "x"}
    }
    cfg.write_text("{not json")
    with pytest.raises(ConfigError, match="left untouched"):
        install("claude-desktop", tmp_path, path=cfg)
    assert cfg.read_text() == "{not json"
    with pytest.raises(UsageError, match="unknown client"):
        install("emacs", tmp_path)
    printed = install("vscode", tmp_path, print_only=True)
    assert printed.written is False and "servers" in printed.snippet
    assert not (tmp_path / ".vscode").exists()
    assert printed.command_line.startswith("claude mcp add mcpgw -- ")


def test_git_status_porcelain_parsing() -> None:
    out = "## main...origin/main [ahead 2, behind 1]\0 M src/a.py\0R  new.py\0old.py\0?? notes.txt\0"
    status = parse_status(out)
    assert (status.branch, status.upstream, status.ahead, status.behind) == ("main", "origin/main", 2, 1)
    assert [(f.path, f.index, f.worktree, f.orig_path) for f in status.files] == [
        ("src/a.py", " ", "M", None),
        ("new.py", "R", " ", "old.py"),
        ("notes.txt", "?", "?", None),
    ]
    fresh = parse_status("## No commits yet on main\0")
    assert fresh.branch == "main" and fresh.clean


def test_cli_install_prints_and_writes(cli: Any, tmp_path: Path) -> None:
    printed = cli("mcp", "install", "--client", "vscode", "--root", str(tmp_path), "--print")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["servers"]["mcpgw"]["type"] == "stdio"
    assert not (tmp_path / ".vscode").exists()
    target = tmp_path / "claude.json"
    wrote = cli(
        "mcp", "install", "--client", "claude-desktop", "--root", str(tmp_path), "--config", str(target), "--json"
    )
    assert wrote.returncode == 0, wrote.stderr
    assert json.loads(wrote.stdout)["written"] is True
    assert "mcpgw" in json.loads(target.read_text())["mcpServers"]
    bad = cli("mcp", "install", "--client", "emacs", "--root", str(tmp_path))
    assert bad.returncode == 2 and "unknown client" in bad.stderr and "Fix:" in bad.stderr
