"""``mcpgw profile …`` and ``mcpgw knowledge …`` as a user runs them: subprocesses against a real daemon,
from inside a real git repository (the project comes from the working directory)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcpgw.cli.profile import ago, format_status
from mcpgw.paths import Paths
from tests.test_knowledge_docs import AUTH, DEPLOY, make_repo


def test_profile_and_knowledge_commands(cli: Any, daemon: Paths, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "proj", {"docs/auth.md": AUTH, "docs/deploy.md": DEPLOY, "src/a.py": "x = 1\n"})
    sub = repo / "src"

    r = cli("profile", "status", cwd=sub)
    assert r.returncode == 1 and "no profile is active" in r.stderr and "profile use" in r.stderr
    r = cli("profile", "create", "refactor-auth", "--type", "refactor", "--goals",
            "Improve auth security,Add 2FA,Refactor token handling", cwd=sub)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "profile use refactor-auth" in r.stderr
    r = cli("profile", "create", "x", "--type", "party", cwd=repo)
    assert r.returncode == 2 and "unknown profile type" in r.stderr
    r = cli("profile", "use", "ghost", cwd=repo)
    assert r.returncode == 1 and "no profile 'ghost'" in r.stderr and "Fix:" in r.stderr
    assert cli("profile", "use", "refactor-auth", cwd=repo).returncode == 0
    assert cli("profile", "done", "2", cwd=repo).returncode == 0
    r = cli("profile", "decide", "Use TOTP", "--why", "no SMS costs", cwd=repo)
    assert r.returncode == 0, r.stderr
    r = cli("profile", "done", "deploy", cwd=repo)
    assert r.returncode == 2 and "not a goal" in r.stderr

    r = cli("profile", "status", cwd=repo)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Refactor Auth Session (refactor, active)"
    assert "Goals: 1/3 completed" in lines and "  ✓ Add 2FA" in lines
    assert any(line.startswith("Decisions: 1 (latest ") and line.endswith("Use TOTP)") for line in lines)
    status = json.loads(cli("profile", "status", "--json", cwd=repo).stdout)
    assert status["decisions"][0]["rationale"] == "no SMS costs" and status["active"] is True
    listed = json.loads(cli("profile", "list", "--json", cwd=repo).stdout)
    assert [p["name"] for p in listed] == ["refactor-auth"]
    r = cli("profile", "stop", cwd=repo)
    assert r.returncode == 0 and "paused" in r.stderr
    assert json.loads(cli("profile", "list", "--json", cwd=repo).stdout)[0]["active"] is False

    r = cli("knowledge", "build", cwd=repo)
    assert r.returncode == 2 and "--include" in r.stderr
    r = cli("knowledge", "build", "--include", "docs/**/*.md", "--keyword-only", "--json", cwd=sub)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files"] == 2
    r = cli("knowledge", "build", "--include", "docs/*.md", "--keyword-only", cwd=repo)
    assert r.returncode == 0 and "2 unchanged" in r.stdout
    r = cli("knowledge", "search", "refresh token rotation", "--json", cwd=repo)
    hits = json.loads(r.stdout)["hits"]
    assert hits[0]["title"] == "docs/auth.md › Authentication › Token refresh"
    r = cli("knowledge", "list", cwd=repo)
    assert r.stdout.startswith("docs: 2 documents") and "include: docs/*.md" in r.stdout
    assert cli("knowledge", "rm", "docs", cwd=repo).returncode == 0
    r = cli("knowledge", "search", "token", cwd=repo)
    assert r.returncode == 1 and "no knowledge pack" in r.stderr


def test_status_text_and_relative_times() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert ago("2026-11-25T10:00:00.000Z", now) == "2 hours ago"
    assert ago("2026-11-25T11:59:30Z", now) == "just now"
    assert ago("2026-11-24T11:00:00Z", now) == "1 day ago"
    profile = {
        "name": "debug_perf", "type": "debug", "active": False, "status": "paused", "goals_done": 0,
        "goals_total": 1, "goals": [{"goal": "Find the slow query", "done": False}], "current_focus": None,
        "files_in_scope": [], "files_touched": ["a.py"], "decisions": [], "last_active_at": "2026-11-25T11:00:00Z",
    }  # fmt: skip
    assert format_status(profile, now).splitlines() == [
        "Debug Perf Session (debug, paused)",
        "Goals: 0/1 completed",
        "  · Find the slow query",
        "Files in scope: 0",
        "Files modified: 1",
        "Last active: 1 hour ago",
    ]
