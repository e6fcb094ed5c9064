"""`mcpgw chat` and friends as a user runs them: a real daemon on a real socket, a fake OpenAI upstream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgw.daemonctl import read_pid
from mcpgw.paths import Paths
from mcpgw.store import connect_sync
from tests.conftest import MCPGW, run_cli
from tests.fakes.upstreams import FakeOpenAI


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-cli-test") as f:
        yield f


@pytest.fixture
def genv(env: dict[str, str], fake: FakeOpenAI) -> Iterator[dict[str, str]]:
    e = {**env, "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-cli-test"}
    yield e
    run_cli(e, "daemon", "stop")


def test_chat_json_envelope(genv: dict[str, str], fake: FakeOpenAI) -> None:
    fake.reply("hello from upstream")
    r = run_cli(genv, "chat", "hi", "--json")
    assert r.returncode == 0, r.stderr
    env = json.loads(r.stdout)
    assert env["result"] == "hello from upstream"
    assert env["routing"]["layer"] == "L1"
    assert env["routing"]["model"] == "openai/gpt-4o-mini"
    assert env["routing"]["provider"] == "openai"
    assert isinstance(env["routing"]["decisions"], list) and env["routing"]["decisions"]
    assert env["context"]["conversation_id"] and env["context"]["trace_id"]
    perf = env["performance"]
    assert perf["input_tokens"] > 0 and perf["output_tokens"] > 0 and perf["cost_usd"] > 0
    assert perf["from_cache"] is False and perf["duration_ms"] >= 0
    history = json.loads(run_cli(genv, "history", "--json").stdout)
    assert history[0]["command"].startswith("chat") and history[0]["cost"] == pytest.approx(perf["cost_usd"])


def test_chat_plain_text_streams_and_footer_on_stderr(genv: dict[str, str], fake: FakeOpenAI) -> None:
    fake.reply("streamed words arrive")
    r = run_cli(genv, "chat", "tell me")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "streamed words arrive"
    assert "openai/gpt-4o-mini" in r.stderr and "layer L1" in r.stderr and "$" in r.stderr


def test_piped_stdin_and_continue_conversation(genv: dict[str, str], fake: FakeOpenAI) -> None:
    fake.reply("first")
    r = run_cli(genv, "chat", "--json", input="question from a pipe\n")
    assert r.returncode == 0, r.stderr
    conv = json.loads(r.stdout)["context"]["conversation_id"]
    fake.reply("second")
    r2 = run_cli(genv, "chat", "follow up", "--conversation", conv, "--json")
    assert json.loads(r2.stdout)["result"] == "second"
    sent = [q for q in fake.requests if q.path.endswith("/chat/completions")][-1].body["messages"]
    assert [m["content"] for m in sent] == ["question from a pipe", "first", "follow up"]


def test_budget_refusal_and_bad_input(genv: dict[str, str], fake: FakeOpenAI) -> None:
    r = run_cli(genv, "chat", "hi", "--budget", "0.0000001")
    assert r.returncode == 1
    assert "budget" in r.stderr and "Traceback" not in r.stderr
    assert not [q for q in fake.requests if q.path.endswith("/chat/completions")]
    r = run_cli(genv, "chat", "hi", "--model", "nope/model")
    assert r.returncode == 2 and "openai/gpt-4o-mini" in r.stderr  # lists valid ones
    r = run_cli(genv, "chat", "hi", "--layer", "L9")
    assert r.returncode == 2 and "L0, L1, L2, L3" in r.stderr


def test_no_provider_names_the_variables(env: dict[str, str]) -> None:
    r = run_cli(env, "chat", "hi")
    try:
        assert r.returncode == 1
        assert "OPENAI_API_KEY" in r.stderr and "mcpgw doctor" in r.stderr
    finally:
        run_cli(env, "daemon", "stop")


def test_diff_prints_an_applicable_patch(genv: dict[str, str], fake: FakeOpenAI, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    fake.reply("```python\ndef add(a, b):\n    return a + b\n```")
    r = run_cli(genv, "diff", "calc.py", "fix the bug", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "--- a/calc.py" in r.stdout and "+    return a + b" in r.stdout
    check = subprocess.run(["git", "apply", "--check", "-"], input=r.stdout, text=True, cwd=repo, capture_output=True)
    assert check.returncode == 0, check.stderr


def test_escalation_confirmed_with_yes(genv: dict[str, str], fake: FakeOpenAI, paths: Paths) -> None:
    paths.ensure()
    paths.config_file.write_text(
        "[routing]\nauto_escalate = false\n[routing.layers]\nL1 = ['openai/gpt-4o-mini']\nL2 = ['openai/gpt-4o']\n"
    )
    fake.fail_next(500, times=3, model="gpt-4o-mini")
    r = run_cli(genv, "chat", "hard question")  # not a terminal: cannot ask
    assert r.returncode == 1
    assert "--yes" in r.stderr and "L2" in r.stderr
    fake.fail_next(500, times=3, model="gpt-4o-mini")
    fake.answer_for("gpt-4o", "premium answer")
    r = run_cli(genv, "chat", "hard question", "--yes", "--json", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"] == "premium answer"


def test_sigterm_drains_an_in_flight_request(genv: dict[str, str], fake: FakeOpenAI, paths: Paths) -> None:
    assert run_cli(genv, "daemon", "start").returncode == 0
    fake.hang_next(1.5)
    fake.reply("slow but complete")
    proc = subprocess.Popen([*MCPGW, "chat", "slow one", "--json"], env=genv, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not [q for q in fake.requests if q.path.endswith("/chat/completions")] and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = read_pid(paths)
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    env = json.loads(out)
    assert env["result"] == "slow but complete"
    deadline = time.monotonic() + 10
    while paths.socket_path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not paths.socket_path.exists()
    conn = connect_sync(paths.db_path, readonly=True)
    row = conn.execute("SELECT status FROM request_traces WHERE id = ?", (env["context"]["trace_id"],)).fetchone()
    assert row is not None and row[0] == "ok"  # the write-behind queue was flushed on the way out
    conn.close()


def test_client_going_away_mid_stream_is_recorded(env: dict[str, str], paths: Paths) -> None:
    import httpx

    with FakeOpenAI(api_key="sk-slow", stream_delay_s=0.2) as slow:
        e = {**env, "OPENAI_BASE_URL": slow.base_url, "OPENAI_API_KEY": "sk-slow"}
        try:
            assert run_cli(e, "daemon", "start").returncode == 0
            slow.reply(" ".join(f"w{i}" for i in range(40)))
            transport = httpx.HTTPTransport(uds=str(paths.socket_path))
            with httpx.Client(transport=transport, base_url="http://mcpgw", timeout=30) as client:
                body = {"messages": [{"role": "user", "content": "long"}], "stream": True}
                with client.stream("POST", "/v1/chat", json=body) as response:
                    for line in response.iter_lines():
                        if line.startswith("data: "):
                            break  # the first chunk arrived: hang up
            deadline = time.monotonic() + 15
            rows: list[Any] = []
            while time.monotonic() < deadline and not rows:
                time.sleep(0.2)
                conn = connect_sync(paths.db_path, readonly=True)
                rows = conn.execute("SELECT status, error_info FROM request_traces").fetchall()
                conn.close()
            assert rows and rows[0][0] == "error"
            assert "went away" in rows[0][1]
        finally:
            run_cli(e, "daemon", "stop")
