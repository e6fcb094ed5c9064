"""OpenTelemetry export with the SDK's in-memory exporter; off by default without importing the SDK."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from mcpgw.observability import otel


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    otel.configure(provider)
    yield memory
    otel.configure(None)


def git_repo(path: Path) -> str:
    subprocess.run(["git", "init", "-q", "-b", "feature/x", str(path)], check=True)
    (path / "f.txt").write_text("x")
    subprocess.run(["git", "-C", str(path), "add", "f.txt"], check=True)
    subprocess.run(
        ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"], check=True
    )
    return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()


def test_spans_follow_genai_conventions(exporter: InMemorySpanExporter, tmp_path: Path) -> None:
    commit = git_repo(tmp_path)
    trace = {
        "id": "t1", "request_type": "chat", "project_id": "p1", "conversation_id": "c1", "status": "error",
        "created_at": "2026-01-01T10:00:00.000Z", "total_duration_ms": 900, "total_cost": 0.02,
        "routing_decisions": [{"layer": "L2", "reason": "escalated"}], "request_payload": {"project_root": str(tmp_path)},
        "error_info": {"type": "upstream-error", "message": "boom"},
        "tool_calls": [{"toolName": "fs_read", "durationMs": 5}],
    }  # fmt: skip
    calls = [
        {"provider": "openai", "model": "gpt-4o-mini", "layer": "L1", "input_tokens": 10, "output_tokens": 4,
         "cost": 0.005, "duration_ms": 300, "status": "error", "error": "500", "created_at": "2026-01-01T10:00:00.010Z"},
        {"provider": "anthropic", "model": "claude-3-haiku", "layer": "L2", "input_tokens": 12, "output_tokens": 6,
         "cost": 0.015, "duration_ms": 500, "created_at": "2026-01-01T10:00:00.350Z"},
    ]  # fmt: skip
    otel.record_trace_spans(trace, calls)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"chat gpt-4o-mini", "chat claude-3-haiku", "execute_tool fs_read"}
    root = next(s for s in exporter.get_finished_spans() if s.parent is None)
    assert root.kind == SpanKind.SERVER and root.status.status_code == StatusCode.ERROR
    assert root.attributes is not None
    assert root.attributes["gen_ai.operation.name"] == "chat"
    assert root.attributes["gen_ai.conversation.id"] == "c1"
    assert root.attributes["gen_ai.usage.input_tokens"] == 22
    assert root.attributes["mcpgw.layer"] == "L2" and root.attributes["mcpgw.cost_usd"] == 0.02
    assert root.attributes["mcpgw.project_id"] == "p1"
    assert root.attributes["mcpgw.git.branch"] == "feature/x" and root.attributes["mcpgw.git.commit"] == commit
    assert (root.end_time or 0) - (root.start_time or 0) == 900_000_000
    haiku = spans["chat claude-3-haiku"]
    assert haiku.kind == SpanKind.CLIENT and haiku.parent is not None and haiku.parent.span_id == root.context.span_id
    assert haiku.attributes is not None
    assert haiku.attributes["gen_ai.provider.name"] == "anthropic"
    assert haiku.attributes["gen_ai.request.model"] == "claude-3-haiku"
    assert haiku.attributes["gen_ai.usage.output_tokens"] == 6 and haiku.attributes["mcpgw.layer"] == "L2"
    assert spans["chat gpt-4o-mini"].status.status_code == StatusCode.ERROR
    tool = spans["execute_tool fs_read"]
    assert tool.attributes is not None and tool.attributes["gen_ai.tool.name"] == "fs_read"


async def test_enqueue_trace_exports_when_configured(exporter: InMemorySpanExporter, tmp_path: Path) -> None:
    from mcpgw.store.db import Store
    from mcpgw.store.traces import enqueue_trace

    store = await Store.open(tmp_path / "o.db")
    try:
        enqueue_trace(store, {"request_type": "chat"}, [{"provider": "openai", "model": "gpt-4o", "cost": 0.1}])
    finally:
        await store.close()
    names = sorted(s.name for s in exporter.get_finished_spans())
    assert names == ["chat gpt-4o", "chat gpt-4o"]  # the request span and its one LLM call span


def test_off_by_default_imports_nothing(tmp_path: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from mcpgw.store.db import Store\n"
        "from mcpgw.store.traces import enqueue_trace\n"
        "from mcpgw.observability import otel\n"
        "async def main():\n"
        f"    s = await Store.open({str(tmp_path / 'x.db')!r})\n"
        "    enqueue_trace(s, {'request_type': 'chat'}, [{'provider': 'openai', 'model': 'm'}])\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
        "assert not otel.enabled()\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_endpoint_from_environment_turns_export_on() -> None:
    try:
        assert otel.configure_from_env({"MCPGW_OTEL_ENDPOINT": "http://127.0.0.1:4318"}) is True
        assert otel.enabled()
    finally:
        otel.shutdown()
    assert otel.configure_from_env({}) is False and not otel.enabled()
