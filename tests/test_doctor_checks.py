"""Doctor: the daemon-view checks (in-process route, fake upstreams, a real Redis), the CLI-side checks on
real directories and git repos, and `mcpgw doctor` with the daemon down and up."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mcpgw import doctor
from mcpgw.config import load_settings
from mcpgw.paths import Paths
from mcpgw.store import connect_sync, migrate
from tests.conftest import app_client, run_cli


def _by_name(checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in checks}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_route_reports_database_and_providers(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes import FakeOpenAI

    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{_closed_port()}")
    with FakeOpenAI(models=["gpt-4o-mini", "gpt-4o"]) as fake:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-shown")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        paths.ensure()
        paths.config_file.write_text(
            "[providers.local]\nkind = \"openai_compat\"\n"
            f"base_url = \"{fake.base_url}\"\nmodels = [\"gpt-4o\", \"no-such-model\"]\n"
            "[providers.claude]\nkind = \"anthropic\"\n"
            "[budgets]\ndaily_usd = 1.0\n"
        )
        settings = load_settings(paths.config_file, environ={})
        async with app_client(paths, settings) as client:
            answer = await client.get("/v1/doctor?verbose=true")
    assert answer.status_code == 200
    body = answer.json()
    checks = _by_name(body["checks"])
    assert "sk-test-not-shown" not in answer.text
    for name in ("database integrity", "migrations", "sqlite-vec", "fts5", "team mode"):
        assert checks[name]["status"] == "pass", checks[name]
    assert checks["provider openai"]["status"] == "pass" and "2 models" in checks["provider openai"]["message"]
    assert checks["provider openai"]["details"]["models"] == 2
    local = checks["provider local"]
    assert local["status"] == "warn" and "no-such-model" in local["message"] and local["fix"]
    claude = checks["provider claude"]
    assert claude["status"] == "fail" and "no API key" in claude["message"] and "ANTHROPIC_API_KEY" in claude["fix"]
    assert checks["provider ollama"]["status"] == "fail" and checks["provider ollama"]["fix"]
    assert "ollama" not in checks  # configured as a provider: its provider line covers it
    assert checks["budget"]["status"] == "pass" and "of $1.00 today" in checks["budget"]["message"]
    assert body["summary"]["fail"] == 2


async def test_no_providers_and_no_ollama_are_warnings(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "OPENAI_BASE_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings(paths.config_file, environ={})
    specs, problems = doctor.provider_specs(settings, {})
    checks = await doctor.provider_checks(specs, problems)
    assert [(c.name, c.status) for c in checks] == [("providers", "warn")] and checks[0].fix
    ollama = await doctor.ollama_check([], {"OLLAMA_HOST": f"127.0.0.1:{_closed_port()}"})
    assert ollama is not None and ollama.status == "warn" and "not reachable" in ollama.message


async def test_ollama_running_but_unconfigured_and_ollama_embedder() -> None:
    from tests.fakes import FakeOllama

    settings = load_settings(Path("/nonexistent/config.toml"), environ={"MCPGW_SEARCH__EMBEDDER": "ollama"})
    with FakeOllama(models=["nomic-embed-text:latest"]) as fake:
        host = fake.base_url.removeprefix("http://")
        ollama = await doctor.ollama_check([], {"OLLAMA_HOST": host})
        embedder = await doctor.embedder_check(settings, {"OLLAMA_HOST": host})
    assert ollama is not None and ollama.status == "warn" and "not configured" in ollama.message
    assert ollama.fix is not None and "OLLAMA_HOST" in ollama.fix
    assert embedder.status == "pass" and "nomic-embed-text" in embedder.message


async def test_embedder_missing_model_and_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPGW_HOME", str(tmp_path))
    monkeypatch.delenv("MCPGW_EMBED_MODEL_DIR", raising=False)
    monkeypatch.setenv("MCPGW_MODEL_CACHE", str(tmp_path / "no-prepared-models"))  # ignore this machine's cache
    settings = load_settings(tmp_path / "none.toml", environ={"MCPGW_SEARCH__MODEL_DIR": str(tmp_path / "m")})
    missing = await doctor.embedder_check(settings, {})
    assert missing.status == "warn" and "keyword-only" in missing.message and missing.fix
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.onnx").write_bytes(b"x")
    (tmp_path / "m" / "tokenizer.json").write_text("{}")
    found = await doctor.embedder_check(settings, {})
    assert found.status == "pass" and str(tmp_path / "m") in found.message
    off = await doctor.embedder_check(load_settings(tmp_path / "none.toml", environ={"MCPGW_SEARCH__EMBEDDER": "none"}), {})
    assert off.status == "warn" and "keyword-only" in off.message


def test_database_checks_pending_and_unknown_migrations(tmp_path: Path) -> None:
    conn = connect_sync(tmp_path / "db.sqlite")
    migrate(conn)
    ok = {c.name: c.status for c in doctor.database_checks(conn)}
    assert ok == {"database integrity": "pass", "migrations": "pass", "sqlite-vec": "pass", "fts5": "pass"}
    last = conn.execute("SELECT MAX(version) FROM _migrations").fetchone()[0]
    conn.execute("DELETE FROM _migrations WHERE version = ?", (last,))
    pending = {c.name: c for c in doctor.database_checks(conn)}["migrations"]
    assert pending.status == "warn" and f"{last:04d}" in pending.message and "restart" in (pending.fix or "")
    conn.execute("INSERT INTO _migrations (version, name) VALUES (?, 'from_the_future'), (?, 'x')", (last, 9999))
    unknown = {c.name: c for c in doctor.database_checks(conn)}["migrations"]
    assert unknown.status == "fail" and "9999_x" in unknown.message
    conn.close()


def test_budget_check_levels(tmp_path: Path) -> None:
    conn = connect_sync(tmp_path / "db.sqlite")
    migrate(conn)
    now = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
    rows = [("a", "2026-05-20T08:00:00.000Z", 0.85), ("b", "2026-05-02T08:00:00.000Z", 4.0),
            ("c", "2026-04-30T08:00:00.000Z", 100.0)]
    for rid, created, cost in rows:
        conn.execute("INSERT INTO llm_calls (id, provider, model, cost, created_at) VALUES (?, 'p', 'm', ?, ?)",
                     (rid, cost, created))
    env = {"MCPGW_BUDGETS__DAILY_USD": "1.0", "MCPGW_BUDGETS__MONTHLY_USD": "10"}
    settings = load_settings(tmp_path / "none.toml", environ=env)
    warn = doctor.budget_check(conn, settings, now)
    assert warn.status == "warn" and "$0.8500 of $1.00 today (85%)" in warn.message
    assert "$4.8500 of $10.00 this month" in warn.message and warn.fix
    conn.execute("INSERT INTO llm_calls (id, provider, model, cost, created_at) VALUES ('d', 'p', 'm', 0.2, ?)",
                 ("2026-05-20T09:00:00.000Z",))
    assert doctor.budget_check(conn, settings, now).status == "fail"
    unset = doctor.budget_check(conn, load_settings(tmp_path / "none.toml", environ={}), now)
    assert unset.status == "pass" and "no budget set" in unset.message
    conn.close()


def test_permissions_config_and_disk(paths: Paths) -> None:
    paths.ensure()
    assert doctor.check_permissions(paths).status == "pass"
    os.chmod(paths.runtime_dir, 0o755)
    loose = doctor.check_permissions(paths)
    assert loose.status == "fail" and "expected 700" in loose.message and f"chmod 700 {paths.runtime_dir}" in (loose.fix or "")
    os.chmod(paths.runtime_dir, 0o700)
    paths.db_path.write_bytes(b"")
    os.chmod(paths.db_path, 0o644)
    assert doctor.check_permissions(paths).status == "warn"

    paths.config_file.write_text("[budgets]\ndaily_usd = \"lots\"\n")
    bad, settings = doctor.check_config(paths, {})
    assert bad.status == "fail" and "budgets.daily_usd" in bad.message and settings is None
    paths.config_file.write_text("[budgets]\ndaily_usd = 2\n")
    good, settings = doctor.check_config(paths, {})
    assert good.status == "pass" and settings is not None and settings.budgets.daily_usd == 2

    disk = doctor.check_disk(paths)
    free = shutil.disk_usage(paths.data_dir).free
    expected = "pass" if free >= doctor.DISK_WARN_BYTES else "warn" if free >= doctor.DISK_FAIL_BYTES else "fail"
    assert disk.status == expected


def test_git_hooks_and_project_policy(tmp_path: Path) -> None:
    from mcpgw import hooks

    assert doctor.check_git_hooks(tmp_path).status == "pass"  # not a repository: nothing to check
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    missing = doctor.check_git_hooks(repo)
    assert missing.status == "warn" and "pre-commit" in missing.message and "mcpgw hooks install" in (missing.fix or "")
    hooks.install(repo, hooks.HOOKS)
    assert doctor.check_git_hooks(repo).status == "pass"

    assert doctor.check_project_policy(repo).status == "pass"
    (repo / "ai-mcp.config.json").write_text('{"routing": {"maxLayer": "L9"}}')
    policy = doctor.check_project_policy(repo)
    assert policy.status == "fail" and "maxLayer" in policy.message


async def test_team_backends_real_redis_and_down_postgres(tmp_path: Path) -> None:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed: scripts/services needs it (apt-get install redis-server)")
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen([server, "--port", "0", "--unixsocket", str(sock), "--save", ""],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        env = {"MCPGW_TEAM__REDIS_URL": f"unix://{sock}",
               "MCPGW_TEAM__POSTGRES_URL": f"postgresql://me:hunter2@127.0.0.1:{_closed_port()}/db"}
        settings = load_settings(tmp_path / "none.toml", environ=env)
        checks = {c.name: c for c in await doctor.team_checks(settings)}
    finally:
        proc.terminate()
        proc.wait(10)
    assert checks["redis"].status == "pass" and "PONG" in checks["redis"].message
    assert checks["postgres"].status == "fail" and checks["postgres"].fix
    assert "hunter2" not in checks["postgres"].message and "me:***@127.0.0.1" in checks["postgres"].message


def test_cli_doctor_with_daemon_down_then_up(env: dict[str, str], paths: Paths, tmp_path: Path) -> None:
    result = run_cli(env, "doctor", "--json", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    checks = _by_name(json.loads(result.stdout)["checks"])
    assert checks["daemon"]["status"] == "warn" and "daemon start" in checks["daemon"]["fix"]
    assert checks["database"]["status"] == "pass"  # not created yet
    assert not paths.socket_path.exists()  # doctor never starts the daemon
    assert all(set(c) == {"name", "status", "message", "fix"} for c in checks.values())
    assert result.returncode == (1 if any(c["status"] == "fail" for c in checks.values()) else 0)

    assert run_cli(env, "daemon", "start").returncode == 0
    try:
        up = run_cli(env, "doctor", cwd=tmp_path)
        lines = up.stdout.splitlines()
        assert lines[0].startswith("✓ daemon") and any(line.startswith("✓ database integrity") for line in lines)
        assert any(line.strip().startswith("Fix: ") for line in lines)  # warnings carry a fix line
        assert lines[-1].endswith(("failure", "failures")) and " passed, " in lines[-1]
        as_json = json.loads(run_cli(env, "doctor", "--json", "-v", cwd=tmp_path).stdout)
        names = [c["name"] for c in as_json["checks"]]
        for name in ("daemon", "version", "config", "database integrity", "migrations", "sqlite-vec", "fts5",
                     "providers", "ollama", "embedder", "reranker", "team mode", "budget", "permissions", "git hooks",
                     "disk space"):
            assert name in names
        assert "details" in as_json["checks"][0]

        paths.config_file.parent.mkdir(parents=True, exist_ok=True)
        paths.config_file.write_text("[routing]\nmax_layer = \"L7\"\n")
        broken = run_cli(env, "doctor", cwd=tmp_path)
        assert broken.returncode == 1 and "✗ config" in broken.stdout and "Traceback" not in broken.stderr
    finally:
        run_cli(env, "daemon", "stop")


def test_offline_view_reads_existing_database(env: dict[str, str], paths: Paths, tmp_path: Path) -> None:
    assert run_cli(env, "daemon", "start").returncode == 0
    run_cli(env, "daemon", "stop")
    mtime = paths.db_path.stat().st_mtime_ns
    checks = _by_name(json.loads(run_cli(env, "doctor", "--json", cwd=tmp_path).stdout)["checks"])
    assert checks["database integrity"]["status"] == "pass" and checks["migrations"]["status"] == "pass"
    assert checks["fts5"]["status"] == "pass" and checks["budget"]["status"] == "pass"
    assert paths.db_path.stat().st_mtime_ns == mtime  # read-only


async def test_embedder_bundled_and_stock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default finds the model that ships in the package; the stock MiniLM is looked for apart."""
    monkeypatch.setenv("MCPGW_HOME", str(tmp_path))
    monkeypatch.delenv("MCPGW_EMBED_MODEL_DIR", raising=False)
    monkeypatch.setenv("MCPGW_MODEL_CACHE", str(tmp_path / "no-prepared-models"))
    bundled = await doctor.embedder_check(load_settings(tmp_path / "none.toml", environ={}), {})
    assert bundled.status == "pass" and "mcpgw-code-minilm-l6" in bundled.message
    stock = await doctor.embedder_check(
        load_settings(tmp_path / "none.toml", environ={"MCPGW_SEARCH__EMBEDDER": "minilm"}), {}
    )
    assert stock.status == "warn" and "keyword-only" in stock.message and "mcpgw-code-minilm-l6" not in stock.message


def test_reranker_on_and_off(tmp_path: Path) -> None:
    default = doctor.reranker_check(load_settings(tmp_path / "none.toml", environ={}))
    assert default.status == "pass" and "mcpgw-code-rerank-l6" in default.message and "--rerank" in default.message
    on = doctor.reranker_check(load_settings(tmp_path / "none.toml", environ={"MCPGW_SEARCH__RERANK": "true"}))
    assert on.status == "pass" and "search.rerank = true" in on.message
