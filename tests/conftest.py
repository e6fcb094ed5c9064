"""Shared fixtures: a private MCPGW_HOME per test, the CLI as a subprocess, a real daemon on a real
socket, and the daemon app in-process (httpx.ASGITransport with its lifespan running)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpgw.config import Settings, load_settings
from mcpgw.paths import Paths, resolve_paths

MCPGW = [sys.executable, "-m", "mcpgw"]


@pytest.fixture
def home() -> Iterator[Path]:
    """A short private MCPGW_HOME (Unix socket paths must stay under 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="mg", dir="/tmp"))
    yield path
    with contextlib.suppress(Exception):
        stop_daemon_in(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    """The environment for CLI subprocesses: our MCPGW_HOME, no provider keys from the outside."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.endswith("_BASE_URL") and k not in ("OLLAMA_HOST",)
        and not k.startswith("MCPGW_") and not k.startswith("COST_")
    }
    clean["MCPGW_HOME"] = str(home)
    clean["NO_COLOR"] = "1"
    clean["COLUMNS"] = "200"
    return clean


@pytest.fixture
def paths(env: dict[str, str]) -> Paths:
    return resolve_paths(env)


def run_cli(
    env: dict[str, str], *args: str, input: str | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MCPGW, *args], env=env, input=input, capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


@pytest.fixture
def cli(env: dict[str, str]) -> Any:
    def go(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run_cli(env, *args, **kwargs)

    return go


def stop_daemon_in(home: Path) -> None:
    from mcpgw.daemonctl import stop_daemon

    stop_daemon(resolve_paths({"MCPGW_HOME": str(home)}), wait_s=15)


@pytest.fixture
def daemon(cli: Any, paths: Paths) -> Iterator[Paths]:
    """A real daemon on a real socket in the test's MCPGW_HOME; stopped afterwards."""
    result = cli("daemon", "start")
    assert result.returncode == 0, result.stderr
    yield paths
    cli("daemon", "stop")


@contextlib.asynccontextmanager
async def app_client(paths: Paths, settings: Settings | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The daemon app in-process: lifespan running, an httpx client on ASGITransport."""
    from mcpgw.daemon.app import create_app

    paths.ensure()
    app = create_app(paths, settings or load_settings(paths.config_file, environ={}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mcpgw") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[object]:
    """A migrated SQLite store in ``tmp_path`` (modules with other needs define their own ``conn``)."""
    from mcpgw.store import connect_sync, migrate

    c = connect_sync(tmp_path / "db.sqlite")
    migrate(c)
    yield c
    c.close()
