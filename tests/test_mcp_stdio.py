"""End to end: `mcpgw mcp serve --root DIR` as a real subprocess over stdio, driven by the SDK's stdio
client and by an independent client (the MCP Inspector CLI); the daemon is auto-started by the server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp_types import TextContent

from mcpgw.client import DaemonClient
from mcpgw.paths import Paths

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "hello.txt").write_text("hello from the root\n")
    (tmp_path / "outside").write_text("outside secret\n")
    (root / "sneaky").symlink_to(tmp_path / "outside")
    return root


def serve_args(root: Path) -> list[str]:
    return ["-m", "mcpgw", "mcp", "serve", "--root", str(root)]


async def test_sdk_stdio_client_lists_calls_and_gets_refusals_recorded(
    env: dict[str, str], paths: Paths, project: Path
) -> None:
    params = StdioServerParameters(command=sys.executable, args=serve_args(project), env=env, cwd=str(ROOT))
    async with Client(params, read_timeout_seconds=60) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"fs_read", "fs_write", "fs_list", "git_status", "git_diff", "git_log", "run_tests", "db_query",
                "db_insert", "db_update", "cache_get", "cache_set", "cache_delete", "chat", "code_agent",
                "code_search", "repo_map", "analyze_test_failure", "usage_summary"} <= names  # fmt: skip
        ok = await client.call_tool("fs_read", {"path": "hello.txt"})
        assert not ok.is_error and ok.structured_content is not None
        assert ok.structured_content["content"] == "hello from the root\n"
        for path in ("../outside", "sneaky", str(project.parent / "outside")):
            refused = await client.call_tool("fs_read", {"path": path})
            assert refused.is_error
            message = " ".join(c.text for c in refused.content if isinstance(c, TextContent))
            assert "outside the root" in message and "outside secret" not in message
        write = await client.call_tool("db_query", {"sql": "INSERT INTO history (id, command) VALUES ('x', 'y')"})
        assert write.is_error
        still = await client.call_tool("db_query", {"sql": "SELECT COUNT(*) FROM history"})
        assert not still.is_error and still.structured_content == {
            "columns": ["COUNT(*)"], "rows": [[0]], "row_count": 1, "truncated": False
        }  # fmt: skip
    with DaemonClient(paths, autostart=False) as daemon:
        traces = daemon.get("/v1/traces", params={"request_type": "mcp-tool", "limit": 100})["traces"]
        assert len(traces) == 6
        full = [daemon.get(f"/v1/traces/{t['id']}") for t in traces]
    calls = sorted((t["tool_calls"][0]["toolName"], t["status"]) for t in full)
    assert calls == [("db_query", "error"), ("db_query", "ok"), ("fs_read", "error"), ("fs_read", "error"),
                     ("fs_read", "error"), ("fs_read", "ok")]  # fmt: skip


def test_stdout_carries_json_rpc_only(env: dict[str, str], project: Path) -> None:
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "fs_list", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "no_such_tool", "arguments": {}}},
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, *serve_args(project)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    killer = threading.Timer(90, proc.kill)  # a hung server fails the test instead of hanging it
    killer.start()
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    replies: dict[Any, dict[str, Any]] = {}
    try:
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        proc.stdin.flush()
        while len(replies) < 4:
            line = proc.stdout.readline()
            if not line:
                break
            msg = json.loads(line)  # every line on stdout is one JSON-RPC message
            assert msg["jsonrpc"] == "2.0"
            if "id" in msg:
                replies[msg["id"]] = msg
        proc.stdin.close()
        assert proc.stdout.read().strip() == ""
        proc.wait(timeout=30)
    finally:
        killer.cancel()
        proc.kill()
        stderr = proc.stderr.read()
    assert set(replies) == {1, 2, 3, 4}, stderr
    assert replies[1]["result"]["serverInfo"]["name"] == "mcpgw"
    assert "result" in replies[3], replies[3]
    assert replies[3]["result"]["isError"] is False
    assert replies[3]["result"]["structuredContent"]["entries"][0]["path"] == "hello.txt"
    unknown = replies[4]
    assert ("error" in unknown) or unknown["result"]["isError"] is True


def test_the_server_imports_no_textual_store_or_providers() -> None:
    code = (
        "import sys, json, mcpgw.mcp_server.server, mcpgw.cli.mcp; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'textual' "
        "or m.startswith(('mcpgw.store', 'mcpgw.providers', 'mcpgw.gateway', 'mcpgw.daemon.')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(out.stdout) == []


def inspector() -> Path:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import prepare_inspector
    finally:
        sys.path.pop(0)
    binary = prepare_inspector.binary()
    if not binary.exists():
        pytest.fail("the MCP Inspector CLI is not installed: run scripts/prepare_inspector.py (scripts/test does)")
    return binary


def test_independent_client_mcp_inspector_cli(env: dict[str, str], project: Path) -> None:
    binary = inspector()
    base = [str(binary), "--cli", "-e", f"MCPGW_HOME={env['MCPGW_HOME']}", sys.executable, *serve_args(project)]

    def run(*args: str) -> dict[str, Any]:
        proc = subprocess.run([*base, *args], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        data: dict[str, Any] = json.loads(proc.stdout)
        return data

    listed = run("--method", "tools/list")
    tools = {t["name"]: t for t in listed["tools"]}
    assert len(tools) == 19 and tools["fs_read"]["annotations"]["readOnlyHint"] is True
    assert tools["fs_read"]["outputSchema"]["type"] == "object"
    read = run("--method", "tools/call", "--tool-name", "fs_read", "--tool-arg", "path=hello.txt")
    assert read["isError"] is False and read["structuredContent"]["content"] == "hello from the root\n"
    escape = run("--method", "tools/call", "--tool-name", "fs_read", "--tool-arg", "path=../outside")
    assert escape["isError"] is True and "outside the root" in escape["content"][0]["text"]
    shell = run("--method", "tools/call", "--tool-name", "run_tests", "--tool-arg", "runner=pytest",
                "--tool-arg", 'targets=["x; rm -rf ~"]')  # fmt: skip
    assert shell["isError"] is True and "not allowed" in shell["content"][0]["text"]
