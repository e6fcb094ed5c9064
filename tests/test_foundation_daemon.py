"""A real daemon on a real socket: start/status/stop, permissions, autostart, concurrency, stale state
after kill -9, graceful SIGTERM, the peer-uid check."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpgw.daemonctl import ping, read_pid
from mcpgw.paths import Paths, resolve_paths
from mcpgw.store import connect_sync


def uds_client(paths: Paths) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(paths.socket_path)), base_url="http://mcpgw")


def test_start_status_stop(cli: Any, paths: Paths) -> None:
    status = cli("daemon", "status", "--json")
    assert status.returncode == 1
    assert json.loads(status.stdout)["running"] is False

    assert cli("daemon", "start").returncode == 0
    data = json.loads(cli("daemon", "status", "--json").stdout)
    assert data["running"] is True
    assert set(data) == {"running", "pid", "version", "socket", "db_path", "uptime_s"}
    assert data["socket"] == str(paths.socket_path)

    mode = stat.S_IMODE(os.stat(paths.socket_path).st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(paths.runtime_dir).st_mode) == 0o700

    with uds_client(paths) as client:
        health = client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    assert body["database"]["journal_mode"] == "wal"
    assert body["database"]["migrations"][0] == "0001_core"
    assert body["database"]["sqlite_vec_version"].startswith("v")
    assert health.headers["x-mcpgw-version"] == body["version"]

    assert cli("daemon", "start").returncode == 0  # already running: fine, still one daemon
    pid = data["pid"]
    stop = cli("daemon", "stop")
    assert stop.returncode == 0
    assert not paths.socket_path.exists()
    assert not paths.pid_file.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_daemon_runs_its_own_code_in_root_whatever_directory_starts_it(env: dict[str, str], tmp_path: Path) -> None:
    """Started from a directory that holds an ``mcpgw`` folder (a checkout of another version) and with a
    relative MCPGW_HOME: the daemon imports the installed package, runs in /, and uses the same home."""
    work = tmp_path / "work"
    (work / "mcpgw" / "daemon").mkdir(parents=True)
    for init in (work / "mcpgw" / "__init__.py", work / "mcpgw" / "daemon" / "__init__.py"):
        init.write_text("raise SystemExit('the decoy package was imported')\n")
    (work / "mcpgw" / "daemon" / "server.py").write_text("raise SystemExit('the decoy server was imported')\n")
    relative = {**env, "MCPGW_HOME": "home"}
    console = Path(sys.executable).parent / "mcpgw"  # the installed entry point: no cwd on its sys.path
    start = subprocess.run(
        [str(console), "daemon", "start"], env=relative, cwd=work, capture_output=True, text=True, timeout=60
    )
    try:
        assert start.returncode == 0, start.stderr
        home = resolve_paths({"MCPGW_HOME": str(work / "home")})  # where the CLI put it
        pid = read_pid(home)
        assert pid is not None and ping(home) is not None
        assert os.readlink(f"/proc/{pid}/cwd") == "/"
    finally:
        subprocess.run([str(console), "daemon", "stop"], env=relative, cwd=work, capture_output=True, timeout=60)


def test_second_daemon_is_refused(daemon: Paths, env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mcpgw.daemon.server"], env=env, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 1
    assert "already running" in proc.stderr
    assert ping(daemon) is not None  # the first one is untouched


def test_kill_9_leaves_stale_state_that_is_cleaned(cli: Any, paths: Paths) -> None:
    assert cli("daemon", "start").returncode == 0
    with uds_client(paths) as client:
        assert client.get("/v1/version").status_code == 200
    pid = read_pid(paths)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    assert paths.socket_path.exists()  # stale socket left behind
    assert json.loads(cli("daemon", "status", "--json").stdout)["running"] is False
    assert cli("daemon", "start").returncode == 0
    assert json.loads(cli("daemon", "status", "--json").stdout)["pid"] != pid
    conn = connect_sync(paths.db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert cli("daemon", "stop").returncode == 0


def test_autostart_and_concurrent_clients(cli: Any, paths: Paths, tmp_path: Path) -> None:
    assert ping(paths) is None
    backup = tmp_path / "copy.db"
    result = cli("db", "backup", str(backup), "--json")  # needs the daemon: starts it
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["path"] == str(backup)
    copy = connect_sync(backup)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0] >= 1
    copy.close()

    errors: list[str] = []

    def hammer() -> None:
        with uds_client(paths) as client:
            for _ in range(25):
                r = client.get("/v1/version")
                if r.status_code != 200:
                    errors.append(str(r.status_code))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert cli("daemon", "stop").returncode == 0


def test_sigterm_ends_event_streams_and_stops(cli: Any, paths: Paths) -> None:
    assert cli("daemon", "start").returncode == 0
    pid = read_pid(paths)
    assert pid is not None
    got: list[str] = []

    def listen() -> None:
        with uds_client(paths) as client, client.stream("GET", "/v1/events", timeout=30) as response:
            for line in response.iter_lines():
                got.append(line)

    t = threading.Thread(target=listen)
    t.start()
    time.sleep(0.3)
    started = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    t.join(timeout=20)
    assert not t.is_alive()
    assert any("shutdown" in line for line in got)
    deadline = time.monotonic() + 10
    while paths.socket_path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not paths.socket_path.exists()
    assert time.monotonic() - started < 10  # an open event stream does not hold the drain up


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another user")
def test_peer_uid_check_refuses_other_users(tmp_path: Path) -> None:
    """Serve on a world-writable socket and connect as 'nobody': the daemon closes the connection."""
    run_dir = Path("/tmp") / f"mgpeer{os.getpid()}"
    run_dir.mkdir(mode=0o777, exist_ok=True)
    os.chmod(run_dir, 0o777)
    sock_path = run_dir / "s.sock"
    server_code = f"""
import asyncio, os, socket, uvicorn
from mcpgw.daemon.server import PeerCheckedProtocol
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200, "headers": []}})
    await send({{"type": "http.response.body", "body": b"hello"}})
sock = socket.socket(socket.AF_UNIX); sock.bind({str(sock_path)!r}); os.chmod({str(sock_path)!r}, 0o777); sock.listen()
uvicorn.Server(uvicorn.Config(app, http=PeerCheckedProtocol, log_config=None, lifespan="off")).run(sockets=[sock])
"""
    server = subprocess.Popen([sys.executable, "-c", server_code])
    try:
        deadline = time.monotonic() + 10
        while not sock_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b"200" in _get_as(sock_path, uid=None)
        assert b"200" not in _get_as(sock_path, uid=65534)
    finally:
        server.terminate()
        server.wait(timeout=10)
        for p in run_dir.iterdir():
            p.unlink()
        run_dir.rmdir()


def _get_as(sock_path: Path, uid: int | None) -> bytes:
    """Connect from a forked child running as ``uid`` and return what the server sent (b"" if closed)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no exec, so no need for the venv to be readable by that user
        try:
            os.close(read_end)
            if uid is not None:
                os.setgid(uid)
                os.setuid(uid)
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            s.connect(str(sock_path))
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(100)
            except OSError:
                data = b""
            os.write(write_end, data)
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 1024):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return b"".join(chunks)
