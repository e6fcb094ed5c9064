"""The CLI skeleton: version, exit codes, errors without tracebacks, import hygiene, the in-process API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from mcpgw._version import __version__
from mcpgw.paths import Paths
from tests.conftest import app_client


def test_version(cli: Any) -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"mcpgw {__version__}"


def test_usage_error_exit_2(cli: Any) -> None:
    result = cli("daemon", "no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_malformed_config_validate(cli: Any, paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text("[budgets]\ndaily_usd = [\n")
    result = cli("config", "validate")
    assert result.returncode == 1
    assert str(paths.config_file) in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    paths.config_file.write_text('[budgets]\ndaily_usd = "many"\n')
    result = cli("config", "validate")
    assert result.returncode == 1
    assert "budgets.daily_usd" in result.stderr


def test_config_init_show_masks_secrets(cli: Any, paths: Paths, env: dict[str, str]) -> None:
    assert cli("config", "init").returncode == 0
    assert paths.config_file.exists()
    assert cli("config", "init").returncode == 2  # exists: refuses without --force
    assert cli("config", "validate").returncode == 0
    with paths.config_file.open("a") as fh:
        fh.write(
            '\n[providers.mine]\nkind = "openai_compat"\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "sk-topsecret"\n'
        )
    shown = cli("config", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    assert "sk-topsecret" not in shown.stdout
    assert json.loads(shown.stdout)["config"]["providers"]["mine"]["api_key"] == "***"


def test_cli_import_hygiene() -> None:
    """Importing the CLI must not pull in the server stack, Textual, tree-sitter, numpy or an embedder."""
    code = (
        "import sys, mcpgw.cli.app; "
        "heavy = ['fastapi', 'uvicorn', 'starlette', 'textual', 'tree_sitter', 'numpy', 'onnxruntime', "
        "'mcpgw.daemon.app', 'mcpgw.store', 'mcpgw.providers', 'aiosqlite', 'sqlean']; "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


async def test_api_in_process(paths: Paths) -> None:
    async with app_client(paths) as client:
        r = await client.get("/v1/version")
        assert r.status_code == 200
        assert r.json()["version"] == __version__
        assert r.headers["x-mcpgw-version"] == __version__
        spec = (await client.get("/openapi.json")).json()
        assert "/health" in spec["paths"]
        health = (await client.get("/health")).json()
        assert health["database"]["fts5"] is True
        bad = await client.post("/v1/db/backup", json={"path": "relative.db"})
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert "absolute" in bad.json()["detail"]
        missing = await client.post("/v1/db/backup", json={})
        assert missing.status_code == 400


def test_db_path(cli: Any, paths: Paths, tmp_path: Path) -> None:
    assert cli("db", "path").stdout.strip() == str(paths.db_path)


def test_client_warns_once_on_a_version_mismatch(paths: Paths, capsys: Any) -> None:
    import httpx

    from mcpgw import client as client_module

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ok": True}, headers={"x-mcpgw-version": "0.0.1-old"})

    client_module._warned_mismatch = False
    with client_module.DaemonClient(paths, transport=httpx.MockTransport(handler)) as client:
        client.get("/v1/version")
        client.get("/v1/version")
    err = capsys.readouterr().err
    assert err.count("mcpgw daemon restart") == 1
    assert "0.0.1-old" in err
