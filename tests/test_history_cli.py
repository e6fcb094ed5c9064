"""Recording commands and `mcpgw history` / `replay` end to end, against a real daemon on a real socket.

Commands are run through ``main()`` with the app wrapped by ``run_recorded`` — exactly the wiring
``mcpgw.cli.app.main`` gets — so these tests hold before and after that one-line change.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mcpgw.cli.history import command_line, file_changes, format_table, parse_before, replay_argv
from mcpgw.errors import UsageError
from mcpgw.history import Record, git_commit, record, sha256_file, split_command
from mcpgw.paths import Paths

PATCH = "diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"


def run_recorded_cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpgw", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def make_repo(root: Path) -> Path:
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / "f.txt").write_text("a\nb\n")
    subprocess.run(["git", "add", "f.txt"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"], cwd=root, check=True
    )
    (root / "fix.diff").write_text(PATCH)
    return root


def test_apply_and_undo_are_listed_then_replay_dry_run_changes_nothing(
    daemon: Paths, env: dict[str, str], cli: Any, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    assert run_recorded_cli(env, "apply", "--yes", "fix.diff", cwd=repo).returncode == 0
    assert run_recorded_cli(env, "apply", "--undo", cwd=repo).returncode == 0
    failed = run_recorded_cli(env, "apply", "--check", "missing.diff", cwd=repo)
    assert failed.returncode == 2

    listed = cli("history", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [(e["command"], e["args"], e["success"]) for e in entries] == [
        ("apply", ["--check", "missing.diff"], False),
        ("apply", ["--undo"], True),
        ("apply", ["--yes", "fix.diff"], True),
    ]
    applied = entries[2]
    assert set(applied) >= {"id", "timestamp", "command", "args", "cost", "success"}
    assert applied["files"] == [{"path": "fix.diff", "sha256": sha256_file(repo / "fix.diff")}]
    assert applied["cwd"] == str(repo) and applied["git_commit"] == head and applied["mode"] == "diff"
    assert "missing.diff" in entries[0]["error"]

    table = cli("history", "--last", "2")
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert [c.strip() for c in lines[0].split(" | ")] == ["ID", "Time", "Command", "Cost", "Status"]
    assert entries[0]["id"] in lines[2] and "✗" in lines[2] and "apply --undo" in lines[3] and len(lines) == 4
    assert json.loads(cli("history", "--json", "--failed").stdout)[0]["id"] == entries[0]["id"]
    assert [e["id"] for e in json.loads(cli("history", "--json", "--search", "fix.diff").stdout)] == [applied["id"]]

    before = (repo / "f.txt").read_bytes()
    dry = cli("replay", applied["id"], "--dry-run", cwd=repo)
    assert dry.returncode == 0, dry.stderr
    assert "Would run: mcpgw apply --yes fix.diff" in dry.stdout
    assert (repo / "f.txt").read_bytes() == before
    assert len(json.loads(cli("history", "--json").stdout)) == 3  # the dry run recorded nothing either


def test_replay_warns_about_changed_inputs_and_reruns(
    daemon: Paths, env: dict[str, str], cli: Any, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    assert run_recorded_cli(env, "apply", "--yes", "fix.diff", cwd=repo).returncode == 0
    assert run_recorded_cli(env, "apply", "--undo", cwd=repo).returncode == 0
    applied = json.loads(cli("history", "--json").stdout)[1]

    (repo / "fix.diff").write_text(PATCH.replace("+c", "+d"))
    refused = cli("replay", applied["id"][:6], cwd=tmp_path)
    assert refused.returncode == 2
    assert "1 file changed since the original run" in refused.stderr and "fix.diff (changed)" in refused.stderr
    assert "--update-files" in refused.stderr
    assert (repo / "f.txt").read_text() == "a\nb\n"

    rerun = cli("replay", applied["id"], "--update-files", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert (repo / "f.txt").read_text() == "a\nd\n"  # re-ran in the original directory, with today's patch


def test_history_rm_and_what_is_not_recorded(daemon: Paths, env: dict[str, str], cli: Any, tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    run_recorded_cli(env, "history", cwd=tmp_path)
    run_recorded_cli(env, "daemon", "status", cwd=tmp_path)
    run_recorded_cli(env, "config", "--help", cwd=tmp_path)
    run_recorded_cli({**env, "MCPGW_HISTORY": "0"}, "config", "validate", cwd=tmp_path)
    assert json.loads(cli("history", "--json").stdout) == []
    for _ in range(2):
        run_recorded_cli(env, "config", "validate", cwd=tmp_path / "w")
    entries = json.loads(cli("history", "--json").stdout)
    assert [e["command"] for e in entries] == ["config validate", "config validate"]
    gone = cli("history", "rm", entries[0]["id"])
    assert gone.returncode == 0 and entries[0]["id"] in gone.stderr
    assert cli("history", "rm", entries[0]["id"]).returncode == 1  # not found
    assert cli("history", "rm").returncode == 2
    assert cli("history", "rm", "--before", "next tuesday").returncode == 2
    assert cli("history", "rm", "--before", "2000-01-01").stderr.startswith("deleted 0 history entries")
    future = cli("history", "rm", "--before", "2999-01-01")
    assert "deleted 1 history entry " in future.stderr
    empty = cli("history")
    assert empty.returncode == 0 and empty.stdout == "" and "no history yet" in empty.stderr

    # `mcpgw history` against a running daemon stays import-light (its 150 ms budget).
    code = (
        "import sys; sys.argv = ['mcpgw', 'history', '--json']; import mcpgw.cli.app as m\n"
        "try:\n    m.main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('httpx', 'rich', 'fastapi', 'sqlean', 'mcpgw.config', 'mcpgw.store', 'numpy', 'tree_sitter')\n"
        "print([x for x in heavy if x in sys.modules], file=sys.stderr)"
    )
    light = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert light.stdout.strip() == "[]" and light.stderr.strip().splitlines()[-1] == "[]"


def test_record_without_daemon_is_silent_and_quick(monkeypatch: pytest.MonkeyPatch, paths: Paths) -> None:
    monkeypatch.setenv("MCPGW_HOME", str(paths.config_dir.parent))
    assert record("chat", ["hi"], time.time(), True) is None  # no socket: nothing sent, nothing raised
    paths.ensure()
    import socket

    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(paths.socket_path))  # a socket file nobody listens on
    stale.close()
    assert record("chat", ["hi"], time.time(), False, "boom") is None


def test_split_command_uses_the_real_command_tree() -> None:
    import typer.main

    from mcpgw.cli.app import app

    root = typer.main.get_command(app)
    assert split_command(root, ["daemon", "start", "--tcp", "x"]) == (["daemon", "start"], ["--tcp", "x"])
    assert split_command(root, ["apply", "--yes", "p.diff"]) == (["apply"], ["--yes", "p.diff"])
    assert split_command(root, ["history", "rm", "abcd"]) == (["history", "rm"], ["abcd"])
    assert split_command(root, ["--version"]) == ([], ["--version"])
    assert split_command(root, ["nonsense", "x"]) == ([], ["nonsense", "x"])


def test_git_commit_reads_head_without_git(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "sub").mkdir()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    assert git_commit(repo / "sub") == head
    subprocess.run(["git", "pack-refs", "--all"], cwd=repo, check=True)
    assert git_commit(repo) == head  # packed refs
    subprocess.run(["git", "checkout", "-q", "--detach"], cwd=repo, check=True)
    assert git_commit(repo) == head  # detached HEAD
    assert git_commit(tmp_path) is None


def test_record_object_collects_gateway_facts(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    rec = Record("chat", ["hi"], cwd=str(tmp_path))
    rec.add_files(["a.py", "gone.py"])
    rec.note_result({"routing": {"model": "openai/gpt-4o-mini"}, "context": {"conversation_id": "c1", "trace_id": "t1"},
                     "performance": {"cost_usd": 0.002}})
    rec.note_result({"routing": {"model": "anthropic/claude-3-haiku"}, "context": {"trace_id": "t2"},
                     "performance": {"cost_usd": 0.001}})
    extra = rec.extra()
    assert extra["files"] == [{"path": "a.py", "sha256": sha256_file(tmp_path / "a.py")},
                              {"path": "gone.py", "sha256": None}]
    assert extra["models"] == ["openai/gpt-4o-mini", "anthropic/claude-3-haiku"]
    assert extra["cost"] == pytest.approx(0.003) and extra["conversation_id"] == "c1" and extra["trace_id"] == "t2"


def test_table_replay_helpers_and_dates(tmp_path: Path) -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    entries = [
        {"id": "abc12345", "timestamp": "2026-04-01T10:30:00.000Z", "command": "chat",
         "args": ["explain async/await " * 10], "cost": 0.0021, "success": True},
        {"id": "def67890", "timestamp": "2026-04-01T10:25:00.000Z", "command": "apply",
         "args": ["--yes", "a b.diff"], "cost": 0, "success": False},
    ]
    table = format_table(entries, width=80, now=now).splitlines()
    assert all(len(line) <= 80 for line in table)
    assert table[2].startswith("abc12345 | ") and "…" in table[2] and "$0.002" in table[2] and table[2].endswith("✓")
    assert "apply --yes 'a b.diff'" in table[3] and table[3].endswith("✗")
    assert command_line(entries[1]) == "apply --yes 'a b.diff'"
    assert replay_argv({"command": "history rm", "args": ["x"]}) == ["history", "rm", "x"]

    assert parse_before("7d", now) == "2026-04-24T12:00:00.000Z"
    assert parse_before("2026-01-31T09:00:00+01:00", now) == "2026-01-31T08:00:00.000Z"
    with pytest.raises(UsageError):
        parse_before("last week", now)

    (tmp_path / "same.txt").write_text("same")
    (tmp_path / "edited.txt").write_text("old")
    entry = {"cwd": str(tmp_path), "files": [
        {"path": "same.txt", "sha256": sha256_file(tmp_path / "same.txt")},
        {"path": "edited.txt", "sha256": sha256_file(tmp_path / "edited.txt")},
        {"path": "deleted.txt", "sha256": "0" * 64},
    ]}
    (tmp_path / "edited.txt").write_text("new")
    assert file_changes(entry) == [("edited.txt", "changed"), ("deleted.txt", "deleted")]
