"""Every MCP tool, called through the SDK's client against the server in-process, with the daemon app
in-process behind it (ASGITransport): results, error paths (isError, never a crash) and the traces."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent

from mcpgw.client import AsyncDaemonClient
from mcpgw.config import load_settings
from mcpgw.mcp_server.link import DaemonLink
from mcpgw.mcp_server.sandbox import Sandbox
from mcpgw.mcp_server.server import build_server
from mcpgw.mcp_server.tools.base import ToolContext
from mcpgw.paths import Paths
from mcpgw.store import connect_sync
from tests.conftest import app_client
from tests.fakes.upstreams import FakeOpenAI

FIXTURES = Path(__file__).parent / "fixtures" / "triage"
ALL_TOOLS = {
    "code_agent", "run_tests", "fs_read", "fs_write", "fs_list", "git_diff", "git_status", "git_log",
    "cache_get", "cache_set", "cache_delete", "db_query", "db_insert", "db_update", "chat", "code_search",
    "repo_map", "analyze_test_failure", "usage_summary",
}  # fmt: skip


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_calc.py").write_text(
        "from src.calc import add\n\n\ndef test_ok():\n    assert add(1, 1) == 2\n\n\n"
        "def test_bad():\n    assert add(2, 2) == 5\n"
    )
    (root / "src" / "__init__.py").write_text("")
    (root / "conftest.py").write_text("")
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)  # the project's own interpreter
    (root / ".gitignore").write_text(".venv/\n__pycache__/\n")
    (tmp_path / "outside.txt").write_text("not yours\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=T", "-c", "user.email=t@example.com", "add", ".")
    git(root, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first commit")
    return root


@pytest.fixture
def openai_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "OLLAMA_HOST"):
        monkeypatch.delenv(var, raising=False)
    with FakeOpenAI(api_key="sk-test-openai") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai")
        yield fake


class Harness:
    def __init__(self, client: Client, http: httpx.AsyncClient, paths: Paths) -> None:
        self.client = client
        self.http = http
        self.paths = paths

    async def call(self, name: str, args: dict[str, Any] | None = None) -> CallToolResult:
        return await self.client.call_tool(name, args or {})

    async def ok(self, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self.call(name, args)
        assert not result.is_error, text(result)
        assert result.structured_content is not None
        return result.structured_content

    async def error(self, name: str, args: dict[str, Any] | None = None) -> str:
        result = await self.call(name, args)
        assert result.is_error, result.structured_content
        return text(result)

    async def traces(self) -> list[dict[str, Any]]:
        await self.http.app.state.store.flush()  # type: ignore[attr-defined]
        conn = connect_sync(self.paths.db_path, readonly=True)
        try:
            rows = conn.execute(
                "SELECT request_type, status, tool_calls, error_info FROM request_traces "
                "WHERE request_type = 'mcp-tool' AND tool_calls != '[]' ORDER BY id"
            ).fetchall()
        finally:
            conn.close()
        return [{"status": r[1], "call": json.loads(r[2])[0], "error_info": r[3]} for r in rows]


def text(result: CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


@contextlib.asynccontextmanager
async def harness(paths: Paths, project: Path) -> AsyncIterator[Harness]:
    """The daemon app in-process and the MCP server on top (entered in the test's own task, as anyio wants)."""
    paths.ensure()
    async with app_client(paths, load_settings(paths.config_file, environ={})) as http:
        daemon = AsyncDaemonClient(paths, transport=httpx.ASGITransport(app=http.app))  # type: ignore[attr-defined]
        ctx = ToolContext(sandbox=Sandbox(project), link=DaemonLink(paths, client=daemon))
        async with Client(build_server(ctx)) as client:
            yield Harness(client, http, paths)
        await daemon.aclose()


async def test_lists_every_tool_with_schema_annotations_and_output(
    paths: Paths, project: Path, openai_fake: FakeOpenAI
) -> None:
    async with harness(paths, project) as h:
        tools = {t.name: t for t in (await h.client.list_tools()).tools}
        assert set(tools) == ALL_TOOLS
        for tool in tools.values():
            assert tool.description and len(tool.description) > 40, tool.name
            assert tool.input_schema["type"] == "object"
            assert tool.output_schema is not None and tool.output_schema["type"] == "object", tool.name
            assert tool.annotations is not None and tool.annotations.read_only_hint is not None, tool.name
        assert tools["fs_read"].annotations.read_only_hint is True  # type: ignore[union-attr]
        assert tools["fs_write"].annotations.destructive_hint is True  # type: ignore[union-attr]
        assert tools["db_query"].annotations.read_only_hint is True  # type: ignore[union-attr]
        assert tools["fs_read"].input_schema["required"] == ["path"]


async def test_file_tools_work_inside_and_refuse_attacks_which_are_recorded(
    paths: Paths, openai_fake: FakeOpenAI, project: Path
) -> None:
    async with harness(paths, project) as h:
        got = await h.ok("fs_read", {"path": "src/calc.py"})
        assert got["content"].startswith("def add") and got["encoding"] == "text"
        (project / "escape").symlink_to(project.parent / "outside.txt")
        for attack in ("../outside.txt", str(project.parent / "outside.txt"), "escape"):
            message = await h.error("fs_read", {"path": attack})
            assert "outside the root" in message and "Fix:" in message
        assert "outside the root" in await h.error("fs_write", {"path": "../planted.txt", "content": "x"})
        assert not (project.parent / "planted.txt").exists()
        assert "is inside .git" in await h.error("fs_write", {"path": ".git/hooks/post-checkout", "content": "x"})
        written = await h.ok("fs_write", {"path": "docs/notes.md", "content": "# Notes\n", "create_dirs": True})
        assert written == {"path": "docs/notes.md", "bytes_written": 8, "created": True}
        listing = await h.ok("fs_list", {"path": ".", "recursive": True})
        paths = {e["path"] for e in listing["entries"]}
        assert {"src/calc.py", "docs/notes.md", "tests/test_calc.py"} <= paths and ".git" not in paths
        assert "Field required" in await h.error("fs_read", {})  # argument validation is a tool error too
        traces = await h.traces()
        names = [t["call"]["toolName"] for t in traces]
        assert names[:6] == ["fs_read", "fs_read", "fs_read", "fs_read", "fs_write", "fs_write"]
        refused = traces[1]
        assert refused["status"] == "error" and "outside the root" in refused["call"]["error"]
        assert refused["call"]["args"] == {"path": "../outside.txt"} and refused["call"]["durationMs"] >= 0
        assert traces[0]["status"] == "ok" and traces[0]["call"]["error"] is None


async def test_git_tools(paths: Paths, openai_fake: FakeOpenAI, project: Path) -> None:
    async with harness(paths, project) as h:
        (project / "src" / "calc.py").write_text("def add(a, b):\n    return b + a\n")
        (project / "new.txt").write_text("n\n")
        status = await h.ok("git_status")
        assert status["branch"] == "main" and not status["clean"]
        assert {(f["path"], f["worktree"]) for f in status["files"]} == {("src/calc.py", "M"), ("new.txt", "?")}
        diff = await h.ok("git_diff", {"path": "src/calc.py"})
        assert "+    return b + a" in diff["diff"] and diff["files"] == [
            {"path": "src/calc.py", "added": 1, "deleted": 1}
        ]
        assert (await h.ok("git_diff", {"staged": True}))["files"] == []
        log = await h.ok("git_log", {"max_count": 5})
        assert [c["subject"] for c in log["commits"]] == ["first commit"] and len(log["commits"][0]["hash"]) == 40
        assert "not a valid git ref" in await h.error("git_log", {"ref": "--output=/tmp/x"})
        assert "outside the root" in await h.error("git_diff", {"path": "../outside.txt"})


async def test_run_tests_runs_pytest_and_structures_failures(
    paths: Paths, project: Path, openai_fake: FakeOpenAI
) -> None:
    async with harness(paths, project) as h:
        run = await h.ok("run_tests", {"runner": "auto", "targets": ["tests/test_calc.py"]})
        assert run["runner"] == "pytest" and run["exit_code"] == 1 and not run["timed_out"]
        assert (run["passed"], run["failed"]) == (1, 1)
        (failure,) = run["failures"]
        assert failure["test_name"] == "tests/test_calc.py::test_bad"
        assert (failure["file"], failure["line"], failure["failure_type"]) == ("tests/test_calc.py", 9, "assertion")
        only_ok = await h.ok("run_tests", {"runner": "pytest", "keyword": "test_ok"})
        assert only_ok["exit_code"] == 0 and only_ok["failures"] == [] and only_ok["passed"] == 1


@pytest.mark.parametrize(
    "args",
    [
        {"targets": ["tests; rm -rf /"]},
        {"targets": ["$(touch /tmp/pwned)"]},
        {"targets": ["tests/test_calc.py|cat"]},
        {"targets": ["--rootdir=/"]},
        {"targets": ["../outside.txt"]},
        {"keyword": "ok`id`"},
        {"keyword": "a && b > /tmp/x"},
    ],
)
async def test_run_tests_refuses_shell_metacharacters_and_recordsit(
    paths: Paths, project: Path, openai_fake: FakeOpenAI, args: dict[str, Any]
) -> None:
    async with harness(paths, project) as h:
        message = await h.error("run_tests", {"runner": "pytest", **args})
        assert "not allowed" in message or "outside the root" in message
        (trace,) = await h.traces()
        assert trace["status"] == "error" and trace["call"]["toolName"] == "run_tests"


async def test_run_tests_errors_without_a_runner(paths: Paths, project: Path, openai_fake: FakeOpenAI) -> None:
    async with harness(paths, project) as h:
        assert "vitest is not installed" in await h.error("run_tests", {"runner": "vitest"})


async def test_analyze_test_failure(paths: Paths, project: Path, openai_fake: FakeOpenAI) -> None:
    async with harness(paths, project) as h:
        got = await h.ok("analyze_test_failure", {"test_log": (FIXTURES / "jest.out").read_text()})
        assert got["framework"] == "jest"
        assert got["summary"] == {
            "total_failed": 2,
            "failure_types": {"assertion": 1, "exception": 1},
            "affected_files": ["jt/sum.test.js"],
        }
        assert got["failures"][1]["message"].startswith("TypeError: Cannot read properties of null")
        assert "does not look like" in await h.error("analyze_test_failure", {"test_log": "all good"})


async def test_db_query_reads_and_cannot_write(paths: Paths, project: Path, openai_fake: FakeOpenAI) -> None:
    async with harness(paths, project) as h:
        await h.ok("fs_list")
        got = await h.ok("db_query", {"sql": "SELECT request_type, status FROM request_traces WHERE request_type = ?",
                                      "params": ["mcp-tool"]})  # fmt: skip
        assert got["columns"] == ["request_type", "status"] and got["rows"] == [["mcp-tool", "ok"]]
        for sql in (
            "INSERT INTO todo_lists (id, title) VALUES ('x', 'y')",
            "DELETE FROM request_traces",
            "UPDATE llm_calls SET cost = 0",
            "DROP TABLE history",
            "ATTACH DATABASE '/tmp/evil.db' AS evil",
            "PRAGMA writable_schema = ON",
            "CREATE TABLE t (x)",
            "WITH x AS (SELECT 1) INSERT INTO todo_lists (id, title) SELECT 'a', 'b' FROM x",
        ):
            assert "read-only" in await h.error("db_query", {"sql": sql}), sql
        assert "one statement" in await h.error("db_query", {"sql": "SELECT 1; DELETE FROM history"})
        assert "SQL error" in await h.error("db_query", {"sql": "SELECT * FROM nope"})
        count = await h.ok("db_query", {"sql": "SELECT COUNT(*) FROM todo_lists"})
        assert count["rows"] == [[0]]
        traces = await h.traces()
        assert sum(t["status"] == "error" for t in traces) == 10


async def test_db_insert_and_update_are_validated(paths: Paths, project: Path, openai_fake: FakeOpenAI) -> None:
    async with harness(paths, project) as h:
        made = await h.ok(
            "db_insert", {"table": "todo_lists", "values": {"title": "Ship", "items": [{"text": "tests"}]}}
        )
        updated = await h.ok("db_update", {"table": "todo_lists", "id": made["id"],
                                           "values": {"items": [{"text": "tests", "done": True}]}})  # fmt: skip
        assert updated["changed"] == 1
        rows = (await h.ok("db_query", {"sql": "SELECT title, items FROM todo_lists"}))["rows"]
        assert rows == [["Ship", json.dumps([{"text": "tests", "done": True}])]]
        assert "not writable" in await h.error("db_insert", {"table": "request_traces", "values": {"id": "x"}})
        assert "not writable" in await h.error("db_update", {"table": "llm_calls", "id": "x", "values": {"cost": 0}})
        assert "Extra inputs" in await h.error(
            "db_insert", {"table": "todo_lists", "values": {"title": "t", "id": "mine"}}
        )
        assert "title" in await h.error("db_insert", {"table": "todo_lists", "values": {"items": []}})
        assert "no row" in await h.error(
            "db_update", {"table": "todo_lists", "id": "missing", "values": {"title": "x"}}
        )


async def test_cache_tools(paths: Paths, project: Path, openai_fake: FakeOpenAI) -> None:
    async with harness(paths, project) as h:
        assert (await h.ok("cache_get", {"key": "mcp:k1"}))["found"] is False
        await h.ok("cache_set", {"key": "mcp:k1", "value": {"answer": 42}, "ttl_s": 60})
        got = await h.ok("cache_get", {"key": "mcp:k1"})
        assert got["found"] is True and got["entry"]["value"] == {"answer": 42}
        assert (await h.ok("cache_delete", {"key": "mcp:k1"}))["deleted"] is True
        assert (await h.ok("cache_delete", {"key": "mcp:k1"}))["deleted"] is False
        assert "contains '/'" in await h.error("cache_get", {"key": "a/b"})


async def test_chat_and_code_agent_go_through_the_gateway(paths: Paths, project: Path, openai_fake: FakeOpenAI) -> None:
    async with harness(paths, project) as h:
        openai_fake.reply("Forty-two.")
        answer = await h.ok("chat", {"message": "my key is sk-abcdefghijklmnopqrstuvwxyz0123, what is 6*7?"})
        assert answer["status"] == "ok" and answer["text"] == "Forty-two."
        assert answer["routing"]["model"] and answer["context"]["trace_id"]
        openai_fake.reply("```python\ndef sub(a, b):\n    return a - b\n```")
        code = await h.ok(
            "code_agent", {"task": "write sub", "context": {"language": "python"}, "files": ["src/calc.py"]}
        )
        assert "def sub" in code["text"]
        sent = openai_fake.requests[-1].body["messages"][-1]["content"]
        assert "def add(a, b)" in sent and "write sub" in sent
        assert "outside the root" in await h.error("code_agent", {"task": "x", "files": ["../outside.txt"]})
        mcp_traces = [t for t in await h.traces() if t["call"]["toolName"] == "chat"]
        assert "sk-abcdefghijklmnop" not in json.dumps(mcp_traces[0]["call"]["args"])


async def test_usage_summary(paths: Paths, project: Path, openai_fake: FakeOpenAI) -> None:
    async with harness(paths, project) as h:
        openai_fake.reply("hi")
        await h.ok("chat", {"message": "hello"})
        usage = await h.ok("usage_summary", {"days": 1})
        assert usage["days"] == 1 and usage["usage"]["total_requests"] >= 1
        assert isinstance(usage["budgets"], dict)


async def test_repo_map_and_code_search(paths: Paths, openai_fake: FakeOpenAI, project: Path) -> None:
    async with harness(paths, project) as h:
        mapped = await h.ok("repo_map", {"format": "json"})
        assert mapped["root"] == str(project.resolve()) and mapped["graph"] is not None
        text_map = await h.ok("repo_map", {"format": "text", "tokens": 256})
        assert "calc.py" in (text_map["text"] or "")
        assert "outside the root" in await h.error("repo_map", {"path": ".."})


async def test_code_search_over_the_index(paths: Paths, project: Path, openai_fake: FakeOpenAI) -> None:
    async with harness(paths, project) as h:
        indexed = await h.http.post("/v1/search/index", json={"root": str(project), "wait": True})
        assert indexed.status_code == 200, indexed.text
        found = await h.ok("code_search", {"query": "add", "mode": "keyword"})
        assert any(hit["path"].endswith("calc.py") for hit in found["hits"])


async def test_analyze_test_failure_asks_the_gateway_for_fixes(
    paths: Paths, project: Path, openai_fake: FakeOpenAI
) -> None:
    async with harness(paths, project) as h:
        openai_fake.reply("Root cause: add is fine; the test expects 5. Fix the test.")
        log = (FIXTURES / "pytest.out").read_text()
        got = await h.ok("analyze_test_failure", {"test_log": log, "suggest_fixes": True, "files": ["src/calc.py"]})
        assert got["suggested_fixes"].startswith("Root cause") and got["model"]
        prompt = openai_fake.requests[-1].body["messages"][-1]["content"]
        assert "test_add_two" in prompt and "def add(a, b)" in prompt


async def test_run_tests_kills_a_run_past_its_timeout(paths: Paths, project: Path, openai_fake: FakeOpenAI) -> None:
    (project / "tests" / "test_slow.py").write_text("import time\n\n\ndef test_slow():\n    time.sleep(60)\n")
    async with harness(paths, project) as h:
        run = await h.ok("run_tests", {"runner": "pytest", "targets": ["tests/test_slow.py"], "timeout_s": 2})
        assert run["timed_out"] is True and run["exit_code"] is None
