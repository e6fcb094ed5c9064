"""The CLI's direct socket path (`DaemonClient.call`): same answers and errors as httpx, no httpx import."""

from __future__ import annotations

import json
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from mcpgw import client as client_module
from mcpgw import errors
from mcpgw.client import DaemonClient, query_string
from mcpgw.paths import Paths


@pytest.mark.parametrize(
    "params",
    [
        {"root": "/tmp/a b/ü", "last": 5},
        {"failed": True, "verbose": False, "none": None},
        {"tag": ["a", "b&c"], "q": "x=y?"},
        {},
        None,
    ],
)
def test_query_string_matches_httpx(params: dict[str, Any] | None) -> None:
    ours = query_string(params)
    theirs = str(httpx.QueryParams(params or {}))
    assert ours == (f"?{theirs}" if theirs else "")


class _Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next scripted (status, headers, body); records what it was asked."""

    script: ClassVar[list[tuple[int, dict[str, str], bytes]]] = []
    seen: ClassVar[list[tuple[str, str, bytes]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.seen.append((self.command, self.path, self.rfile.read(length)))
        status, headers, body = self.script.pop(0)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def address_string(self) -> str:  # a Unix socket has no peer address
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def scripted(paths: Paths) -> Iterator[type[_Scripted]]:
    paths.ensure()
    handler = type("Handler", (_Scripted,), {"script": [], "seen": []})
    server = socketserver.ThreadingUnixStreamServer(str(paths.socket_path), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler
    server.shutdown()
    server.server_close()


def _json(status: int, body: Any, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json", **headers}, json.dumps(body).encode()


def test_call_sends_json_and_params_on_the_socket(paths: Paths, scripted: type[_Scripted]) -> None:
    scripted.script += [_json(200, {"ok": 1}), _json(200, [1, 2]), (200, {}, b"")]
    with DaemonClient(paths, autostart=False) as client:
        assert client.get("/v1/x", params={"root": "/a b", "all": True}) == {"ok": 1}
        assert client.post("/v1/y", json={"query": "zebra ü"}) == [1, 2]
        assert client.delete("/v1/z") is None
        assert client._http is None  # httpx never built
    assert scripted.seen == [
        ("GET", "/v1/x?root=%2Fa+b&all=true", b""),
        ("POST", "/v1/y", json.dumps({"query": "zebra ü"}).encode()),
        ("DELETE", "/v1/z", b""),
    ]


def test_error_answers_map_like_httpx_does(paths: Paths, scripted: type[_Scripted]) -> None:
    problem = {"type": "not-found", "title": "Not found", "status": 404, "detail": "no trace t1", "fix": "list them"}
    scripted.script += [
        _json(404, problem),
        _json(502, {"error": {"message": "upstream said no"}}),
        (500, {"content-type": "text/plain"}, b"Internal Server Error"),
        (200, {"content-type": "application/json"}, b"{not json"),
    ]
    with DaemonClient(paths, autostart=False) as client:
        with pytest.raises(errors.NotFound) as missing:
            client.get("/v1/traces/t1")
        assert missing.value.fix == "list them" and missing.value.status == 404
        with pytest.raises(errors.GatewayError, match="upstream said no"):
            client.post("/v1/chat", json={})
        with pytest.raises(errors.MCPGWError, match="daemon answered 500: Internal Server Error"):
            client.get("/v1/boom")
        with pytest.raises(errors.DaemonError, match="bad answer from the daemon for GET /v1/garbled"):
            client.get("/v1/garbled")


def test_version_mismatch_warns_once_on_the_socket_path(
    paths: Paths, scripted: type[_Scripted], capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.script += [_json(200, {}, **{"x-mcpgw-version": "0.0.1-old"})] * 2
    client_module._warned_mismatch = False
    with DaemonClient(paths, autostart=False) as client:
        client.get("/v1/a")
        client.get("/v1/b")
    err = capsys.readouterr().err
    assert err.count("mcpgw daemon restart") == 1 and "0.0.1-old" in err


def test_a_socket_nobody_listens_on_falls_back_to_the_client_that_reports_it(paths: Paths) -> None:
    import socket

    paths.ensure()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(paths.socket_path))
    stale.close()
    with DaemonClient(paths, autostart=False) as client, pytest.raises(errors.DaemonError) as exc:
        client.get("/v1/version")
    assert "cannot reach the mcpgw daemon" in str(exc.value) and "mcpgw daemon start" in (exc.value.fix or "")


def test_a_silent_daemon_times_out_with_a_clear_error(paths: Paths) -> None:
    import socket

    paths.ensure()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(paths.socket_path))
    listener.listen(1)  # accepts, never answers
    try:
        with DaemonClient(paths, autostart=False, timeout=0.3) as client, pytest.raises(errors.DaemonError) as exc:
            client.get("/v1/version")
        assert "did not answer GET /v1/version in time" in str(exc.value)
    finally:
        listener.close()


def test_cli_json_commands_on_a_real_daemon_skip_httpx(daemon: Paths, env: dict[str, str], tmp_path: Path) -> None:
    """`mcpgw search` against a running daemon: the answer (here: the unindexed-root error) with no httpx."""
    code = (
        "import sys; sys.argv = ['mcpgw', *sys.argv[1:]]; import mcpgw.cli.app as m\n"
        "try:\n    m.main()\nexcept SystemExit as e:\n    print('exit', e.code, file=sys.stderr)\n"
        "print('httpx' in sys.modules, file=sys.stderr)"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
        )

    stats = run("search", "stats", "--json")
    assert stats.stderr.strip().splitlines()[-2:] == ["exit 0", "False"], stats.stderr
    assert isinstance(json.loads(stats.stdout), dict | list)
    missing = run("search", "where is the zebra", "--root", str(tmp_path), "--json")
    lines = missing.stderr.strip().splitlines()
    assert lines[-2:] == ["exit 1", "False"], missing.stderr
    assert "is not indexed" in missing.stderr and f"mcpgw search index {tmp_path}" in missing.stderr
