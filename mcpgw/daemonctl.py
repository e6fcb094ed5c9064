"""Daemon process control, import-light (no httpx, no pydantic): ping, start detached, stop.

``mcpgw daemon status`` and autostart use this; keeping it free of heavy imports keeps them fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

from mcpgw import errors
from mcpgw.paths import Paths


def read_pid(paths: Paths) -> int | None:
    """The pid in the pid file if that process is alive; None (and the stale file removed) otherwise."""
    try:
        pid = int(paths.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        with contextlib.suppress(FileNotFoundError):
            paths.pid_file.unlink()
        return None
    except PermissionError:
        return pid
    return pid


class Answer(NamedTuple):
    """A daemon's answer read by :func:`socket_request`."""

    status: int
    raw: bytes
    version: str | None = None

    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


def socket_request(paths: Paths, method: str, path: str, body: Any = None, *, timeout: float = 30.0) -> Answer:
    """One JSON request on the daemon's socket with ``http.client``. Raises OSError (ConnectionError and
    FileNotFoundError when nothing listens, TimeoutError) or ValueError for an answer that is not HTTP."""
    import http.client
    import socket

    conn = http.client.HTTPConnection("mcpgw", timeout=timeout)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(paths.socket_path))
        conn.sock = sock
        headers = {"accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return Answer(response.status, response.read(), response.getheader("x-mcpgw-version"))
    except http.client.RemoteDisconnected as exc:
        raise ConnectionResetError(f"the daemon closed the connection: {exc}") from exc
    except http.client.HTTPException as exc:
        raise ValueError(f"bad answer from the daemon: {exc}") from exc
    finally:
        conn.close()
        sock.close()


def ping(paths: Paths, timeout: float = 1.0) -> dict[str, Any] | None:
    """The daemon's /v1/version answer, or None when nothing answers on the socket.

    Uses ``http.client`` on a raw socket rather than httpx: ``mcpgw daemon status`` stays fast.
    """
    if not paths.socket_path.exists():
        return None
    try:
        answer = socket_request(paths, "GET", "/v1/version", timeout=timeout)
        data = answer.json() if answer.status == 200 else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    data["_header_version"] = answer.version
    return data


def start_daemon(paths: Paths, *, extra_args: list[str] | None = None, wait_s: float = 20.0) -> dict[str, Any]:
    """Start the daemon detached (own session, logs to the state dir) and wait until it answers."""
    info = ping(paths)
    if info is not None:
        return info
    paths.ensure()
    env = {"MALLOC_ARENA_MAX": "2", **os.environ, "PYTHONUNBUFFERED": "1"}  # fewer glibc arenas: less RSS
    if env.get("MCPGW_HOME"):  # the daemon runs in / : a relative home must mean what it means here
        env["MCPGW_HOME"] = str(Path(env["MCPGW_HOME"]).expanduser().absolute())
    log = open(paths.log_file, "ab")  # noqa: SIM115 - handed to the child
    try:
        # In /, like any daemon (it holds no directory of the caller's), and with -P: `python -m` would
        # otherwise put the caller's directory first on sys.path, and an `mcpgw` folder there (a checkout of
        # another version) would be the code the daemon runs.
        proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "mcpgw.daemon.server", *(extra_args or [])],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd="/",
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    finally:
        log.close()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        info = ping(paths, timeout=0.5)
        if info is not None:
            return info
        code = proc.poll()
        if code is not None:
            raise errors.DaemonError(
                f"the daemon exited with code {code} while starting: {_log_tail(paths)}",
                fix="see `mcpgw daemon logs`",
            )
        time.sleep(0.05)
    raise errors.DaemonError(
        f"the daemon did not answer on {paths.socket_path} within {wait_s:.0f} s",
        fix="see `mcpgw daemon logs`",
    )


def _log_tail(paths: Paths, lines: int = 3) -> str:
    try:
        text = paths.log_file.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "(no log)"
    return " | ".join(text[-lines:])


def stop_daemon(paths: Paths, *, wait_s: float = 35.0) -> bool:
    """SIGTERM the daemon and wait for it to drain and exit. False when none was running."""
    pid = read_pid(paths)
    if pid is None:
        info = ping(paths)
        pid = int(info["pid"]) if info else None
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    else:
        raise errors.DaemonError(f"the daemon (pid {pid}) did not stop within {wait_s:.0f} s")
    return True
