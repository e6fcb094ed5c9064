"""`mcpgw tests fix`, `refactor` and `spec-first` as a user runs them: a real daemon on a real socket with
the fake OpenAI upstream answering from a script, real git repos holding a tiny pytest project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fakes.upstreams import FakeOpenAI

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
FIXED = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = (
    "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_mul():\n    assert mul(2, 3) == 6\n"
)
COMPLEX = """def grade(score):
    if score < 0:
        return "invalid"
    else:
        if score >= 90:
            return "A"
        else:
            if score >= 80:
                return "B"
            else:
                if score >= 70:
                    return "C"
                else:
                    return "F"
"""
SIMPLE = """BANDS = ((90, "A"), (80, "B"), (70, "C"))


def grade(score):
    if score < 0:
        return "invalid"
    return next((letter for floor, letter in BANDS if score >= floor), "F")
"""
GRADE_TESTS = (
    "from calc import grade\n\n\ndef test_grades():\n    assert [grade(s) for s in (-1, 95, 85, 75, 10)] == "
    "['invalid', 'A', 'B', 'C', 'F']\n"
)


@dataclass
class Agent:
    env: dict[str, str]
    fake: FakeOpenAI

    def run(self, repo: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, *args, cwd=repo, input=input, timeout=120)

    def chat_requests(self) -> list[dict[str, object]]:
        return [q.body for q in self.fake.requests if q.path.endswith("/chat/completions")]


@pytest.fixture(scope="module")
def shared() -> Iterator[Agent]:
    """One daemon for the module (response cache off, so every call reaches the scripted fake)."""
    home = Path(tempfile.mkdtemp(prefix="mga", dir="/tmp"))
    (home / "config").mkdir()
    with FakeOpenAI(api_key="sk-agent-test") as fake:
        env = {k: v for k, v in os.environ.items()
               if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith(("MCPGW_", "COST_"))
               and k != "OLLAMA_HOST"}  # fmt: skip
        env.update(MCPGW_HOME=str(home), NO_COLOR="1", COLUMNS="200", OPENAI_BASE_URL=fake.base_url,
                   OPENAI_API_KEY="sk-agent-test")  # fmt: skip
        from mcpgw.paths import resolve_paths

        paths = resolve_paths(env)
        paths.ensure()
        paths.config_file.write_text("[cache]\nenabled = false\n")
        started = run_cli(env, "daemon", "start")
        assert started.returncode == 0, started.stderr
        try:
            yield Agent(env, fake)
        finally:
            run_cli(env, "daemon", "stop")
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def agent(shared: Agent) -> Agent:
    shared.fake.reset()
    return shared


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    for rel, text in {"conftest.py": "", ".gitignore": ".venv/\n__pycache__/\n", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)  # the project's own interpreter
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "proj", {"calc.py": BUGGY, "tests/test_calc.py": TESTS})


def fenced(code: str) -> str:
    return f"```python\n{code}```"


# --- tests fix ------------------------------------------------------------------------------------


def test_fix_runs_triages_applies_reruns_and_undoes(agent: Agent, repo: Path) -> None:
    agent.fake.reply(fenced(FIXED))
    r = agent.run(repo, "tests", "fix", "--yes")
    assert r.returncode == 0, r.stderr
    assert (repo / "calc.py").read_text() == FIXED
    assert "-    return a - b" in r.stdout and "+    return a + b" in r.stdout
    assert "tests/test_calc.py::test_add" in r.stderr and "re-run: pytest: 2 passed, 0 failed" in r.stderr
    (sent,) = agent.chat_requests()
    prompt = str(sent["messages"][-1]["content"])  # type: ignore[index]
    assert "Fix the file calc.py" in prompt and "test_add" in prompt and "return a - b" in prompt
    assert "File tests/test_calc.py" in prompt  # the failing test file travels as context
    undo = agent.run(repo, "apply", "--undo")
    assert undo.returncode == 0, undo.stderr
    assert (repo / "calc.py").read_text() == BUGGY


def test_fix_from_piped_output(agent: Agent, repo: Path) -> None:
    output = subprocess.run(
        [sys.executable, "-m", "pytest", "--tb=short", "-rfE"], cwd=repo, capture_output=True, text=True
    ).stdout
    agent.fake.reply(fenced(FIXED))
    r = agent.run(repo, "tests", "fix", "--stdin", "--yes", "--json", input=output)
    assert r.returncode == 0, r.stderr
    assert (repo / "calc.py").read_text() == FIXED
    import json

    data = json.loads(r.stdout)
    assert data["triage"]["summary"]["total_failed"] == 1 and data["applied"]
    (failure,) = data["triage"]["failures"]
    assert failure["failure_type"] == "assertion" and failure["root_cause"]
    assert data["patches"][0]["path"] == "calc.py" and data["rerun"] is None


def test_fix_without_a_terminal_shows_the_patch_and_writes_nothing(agent: Agent, repo: Path) -> None:
    agent.fake.reply(fenced(FIXED))
    r = agent.run(repo, "tests", "fix", "tests/test_calc.py")
    assert r.returncode == 0, r.stderr
    assert "+    return a + b" in r.stdout and "not applied" in r.stderr
    assert (repo / "calc.py").read_text() == BUGGY
    check = subprocess.run(["git", "apply", "--check", "-"], input=r.stdout, text=True, cwd=repo, capture_output=True)
    assert check.returncode == 0, check.stderr  # the diff is a real patch


def test_fix_when_all_tests_pass_asks_nothing(agent: Agent, repo: Path) -> None:
    (repo / "calc.py").write_text(FIXED)
    r = agent.run(repo, "tests", "fix", "--yes")
    assert r.returncode == 0, r.stderr
    assert "nothing to fix" in r.stderr and agent.chat_requests() == []


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["tests/test_none.py"], None, "no tests found"),
        (["tests/test_missing.py"], None, "no such test file"),
        (["--runner", "vitest"], None, "vitest is not installed"),
        (["--runner", "nose"], None, "unknown test runner"),
        (["--stdin"], "everything is fine\n", "does not look like"),
        (["tests/../../outside.py"], None, "outside the project"),
    ],
)
def test_fix_bad_input_is_a_clear_error_and_changes_nothing(
    agent: Agent, repo: Path, args: list[str], stdin: str | None, message: str
) -> None:
    (repo / "tests" / "test_none.py").write_text("X = 1\n")
    r = agent.run(repo, "tests", "fix", "--yes", *args, input=stdin)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr and "Traceback" not in r.stderr
    assert (repo / "calc.py").read_text() == BUGGY and agent.chat_requests() == []


# --- refactor -------------------------------------------------------------------------------------


@pytest.fixture
def grades(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "grades", {"calc.py": COMPLEX, "tests/test_calc.py": GRADE_TESTS})


def test_refactor_applies_when_tests_pass_and_undoes(agent: Agent, grades: Path) -> None:
    agent.fake.reply(fenced(SIMPLE))
    r = agent.run(grades, "refactor", "calc.py", "--max-complexity", "3", "--yes")
    assert r.returncode == 0, r.stderr
    assert (grades / "calc.py").read_text() == SIMPLE
    assert "before: max complexity 5 (grade)" in r.stderr and "after : max complexity" in r.stderr
    assert "tests after the refactor: pytest: 1 passed" in r.stderr
    prompt = str(agent.chat_requests()[0]["messages"][-1]["content"])  # type: ignore[index]
    assert "grade (lines 1-14): cyclomatic complexity 5" in prompt and "Preserve behaviour" in prompt
    assert agent.run(grades, "apply", "--undo").returncode == 0
    assert (grades / "calc.py").read_text() == COMPLEX


def test_refactor_that_breaks_the_tests_is_refused_and_undone(agent: Agent, grades: Path) -> None:
    agent.fake.reply(fenced(SIMPLE.replace('"invalid"', '"bad"')))
    r = agent.run(grades, "refactor", "calc.py", "--max-complexity", "3", "--yes")
    assert r.returncode == 1, r.stderr
    assert "the tests fail after the refactor; it was undone" in r.stderr and "Traceback" not in r.stderr
    assert (grades / "calc.py").read_text() == COMPLEX
    assert git(grades, "status", "--porcelain") == ""


def test_refactor_check_shows_the_diff_and_metrics_only(agent: Agent, grades: Path) -> None:
    agent.fake.reply(fenced(SIMPLE))
    r = agent.run(grades, "refactor", "calc.py", "--max-complexity", "3", "--check", "--json")
    assert r.returncode == 0, r.stderr
    import json

    data = json.loads(r.stdout)
    assert data["before"]["max_complexity"] == 5 and data["after"]["max_complexity"] < 5
    assert data["targets"] == ["grade"] and "+BANDS" in data["diff"].replace(" = ", "") and data["applied"] is None
    assert (grades / "calc.py").read_text() == COMPLEX


def test_refactor_refuses_when_the_tests_already_fail_or_nothing_is_over_the_limit(agent: Agent, grades: Path) -> None:
    r = agent.run(grades, "refactor", "calc.py", "--max-complexity", "10", "--yes")
    assert r.returncode == 0 and "nothing to refactor" in r.stderr
    (grades / "tests" / "test_calc.py").write_text(GRADE_TESTS.replace("'F'", "'E'"))
    r = agent.run(grades, "refactor", "calc.py", "--max-complexity", "3", "--yes")
    assert r.returncode == 1 and "the tests fail before the refactor" in r.stderr
    assert agent.chat_requests() == [] and (grades / "calc.py").read_text() == COMPLEX
    r = agent.run(grades, "refactor", "README.md", "--yes")
    assert r.returncode == 2 and "no such file" in r.stderr


# --- spec-first -----------------------------------------------------------------------------------

SLUG_TESTS = (
    "from slug import slugify\n\n\ndef test_lowercases_and_joins_words_with_dashes():\n"
    "    assert slugify('Hello  World') == 'hello-world'\n\n\ndef test_empty_string_stays_empty():\n"
    "    assert slugify('') == ''\n"
)
SLUG_WRONG = "def slugify(text):\n    return text.lower().replace(' ', '-')\n"
SLUG_RIGHT = "def slugify(text):\n    return '-'.join(text.lower().split())\n"


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "spec", {"README.md": "spec\n"})


def test_spec_first_iterates_until_green_and_one_undo_removes_everything(agent: Agent, empty: Path) -> None:
    for answer in (SLUG_TESTS, SLUG_WRONG, SLUG_RIGHT):
        agent.fake.reply(fenced(answer))
    r = agent.run(empty, "spec-first", "a slugify function: lowercase, words joined by dashes", "--name", "slug",
                  "--yes")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (empty / "test_slug.py").read_text() == SLUG_TESTS and (empty / "slug.py").read_text() == SLUG_RIGHT
    assert "green after 2 iteration(s)" in r.stderr
    bodies = agent.chat_requests()
    assert len(bodies) == 3
    fix_prompt = str(bodies[2]["messages"][-1]["content"])  # type: ignore[index]
    assert "test_lowercases_and_joins_words_with_dashes" in fix_prompt and "Fix slug.py" in fix_prompt
    undo = agent.run(empty, "apply", "--undo")
    assert undo.returncode == 0, undo.stderr
    assert not (empty / "test_slug.py").exists() and not (empty / "slug.py").exists()


def test_spec_first_stops_at_the_limit_and_keeps_the_files(agent: Agent, empty: Path) -> None:
    agent.fake.reply(fenced(SLUG_TESTS))
    agent.fake.reply(fenced(SLUG_WRONG))
    out = empty / "pkg"
    out.mkdir()
    r = agent.run(empty, "spec-first", "slugify text", "--name", "slug", "--out", "pkg", "--max-iterations", "1",
                  "--yes", "--json")  # fmt: skip
    assert r.returncode == 1
    assert "still fail after 1 iteration(s)" in r.stderr and "mcpgw apply --undo" in r.stderr
    import json

    data = json.loads(r.stdout)
    assert data["green"] is False and [i["phase"] for i in data["iterations"]] == ["tests", "implementation"]
    assert (out / "slug.py").read_text() == SLUG_WRONG and (out / "test_slug.py").exists()


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--name", "calc"], "already exists", 2),
        (["--framework", "vitest", "--name", "x"], "vitest is not installed", 2),
        (["--framework", "mocha"], "unknown framework", 2),
        (["--name", "x", "--max-iterations", "0"], "--max-iterations", 2),
        (["--name", "x", "--out", "../elsewhere"], "outside the project", 2),
    ],
)
def test_spec_first_bad_input_spends_and_writes_nothing(
    agent: Agent, empty: Path, args: list[str], message: str, code: int
) -> None:
    (empty / "calc.py").write_text("X = 1\n")
    r = agent.run(empty, "spec-first", "anything", "--yes", *args)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert message in r.stderr and "Traceback" not in r.stderr
    assert agent.chat_requests() == [] and git(empty, "status", "--porcelain") == "?? calc.py\n"


def test_spec_first_without_yes_and_no_terminal_refuses(agent: Agent, empty: Path) -> None:
    r = agent.run(empty, "spec-first", "anything", "--name", "thing")
    assert r.returncode == 2 and "--yes" in r.stderr and agent.chat_requests() == []
