"""The pre-commit hook through the real gateway: a real daemon, a fake OpenAI upstream, a real `git commit`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fakes.upstreams import FakeOpenAI


def git(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env)


@pytest.fixture
def setup(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], FakeOpenAI]]:
    with FakeOpenAI(api_key="sk-hook") as fake:
        e = {**env, "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-hook",
             "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
             "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
        repo = tmp_path / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main", env=e)
        assert run_cli(e, "daemon", "start").returncode == 0
        assert run_cli(e, "hooks", "install", "--pre-commit", cwd=repo).returncode == 0
        yield repo, e, fake
        run_cli(e, "daemon", "stop")


def test_review_findings_block_only_when_configured(setup: tuple[Path, dict[str, str], FakeOpenAI]) -> None:
    repo, env, fake = setup
    (repo / "app.py").write_text("def f(x):\n    return x / 0\n")
    git(repo, "add", "app.py", env=env)
    fake.answer_for("gpt-4o-mini", "2: division by zero always raises")
    done = git(repo, "commit", "-qm", "first", env=env)
    assert done.returncode == 0, done.stderr  # findings shown, not blocking by default
    assert "app.py:2: division by zero always raises" in done.stderr
    sent = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert sent and "return x / 0" in sent[-1].body["messages"][-1]["content"]

    (repo / "ai-mcp.config.json").write_text(json.dumps({"hooks": {"blocking": True}}))
    (repo / "app.py").write_text("def f(x):\n    return x / 0  # still\n")
    git(repo, "add", "app.py", "ai-mcp.config.json", env=env)
    blocked = git(repo, "commit", "-qm", "second", env=env)
    assert blocked.returncode != 0
    assert "app.py:2" in blocked.stderr
    fake.answer_for("gpt-4o-mini", "No issues found.")
    (repo / "app.py").write_text("def f(x):\n    return x / 2\n")
    git(repo, "add", "app.py", env=env)
    clean = git(repo, "commit", "-qm", "third", env=env)
    assert clean.returncode == 0, clean.stderr
