"""Optional OpenTelemetry export: one span per request, one child span per LLM call and per tool call.

Off unless ``MCPGW_OTEL_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (or :func:`configure` is
called with a tracer provider, as the tests do). When off, :func:`record_trace_spans` is one function call
and a global read; the OpenTelemetry SDK is imported only when export is on (the ``otel`` extra).

Spans are built after the fact from the recorded trace, so the request path never waits on them, and
follow the OpenTelemetry GenAI semantic conventions (``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``gen_ai.usage.input_tokens`` …) plus ``mcpgw.*`` attributes: layer, cost,
project, user, git branch and commit of the project the request came from.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

    from mcpgw.daemon.state import DaemonState

log = logging.getLogger(__name__)

ENDPOINT_VARS = ("MCPGW_OTEL_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_tracer: Tracer | None = None
_provider: TracerProvider | None = None
_owns_provider = False
_checked = False
# Request types that are a model conversation; others (mcp-tool, hook, route) get operation "invoke_agent".
_CHAT_TYPES = {"chat", "openai", "code-agent"}


def enabled() -> bool:
    """Whether spans are exported (reads the environment once, on first use)."""
    if not _checked:
        configure_from_env()
    return _tracer is not None


def configure_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Turn export on when an OTLP endpoint is set in the environment. Returns whether it is on."""
    global _checked
    _checked = True
    env = os.environ if environ is None else environ
    name = next((var for var in ENDPOINT_VARS if env.get(var)), None)
    if name is None:
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("%s is set but the OpenTelemetry SDK is not installed (pip install 'mcpgw[otel]')", name)
        return False
    if name == "MCPGW_OTEL_ENDPOINT":
        base = env[name].rstrip("/")
        exporter = OTLPSpanExporter(endpoint=base if base.endswith("/v1/traces") else base + "/v1/traces")
    else:
        exporter = OTLPSpanExporter()  # reads the standard OTEL_EXPORTER_OTLP_* variables itself
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "mcpgw")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    configure(provider, owned=True)
    log.info("exporting OpenTelemetry spans (endpoint from %s)", name)
    return True


def configure(provider: TracerProvider | None, *, owned: bool = False) -> None:
    """Export spans through ``provider`` (None turns export off). ``owned``: shut it down in :func:`shutdown`."""
    global _tracer, _provider, _owns_provider, _checked
    from mcpgw._version import __version__

    _checked = True
    _provider = provider
    _owns_provider = owned and provider is not None
    _tracer = provider.get_tracer("mcpgw", __version__) if provider is not None else None


def shutdown() -> None:
    """Flush and stop an exporter this module created; turn export off."""
    provider, owned = _provider, _owns_provider
    configure(None)
    if provider is not None and owned:
        provider.shutdown()


async def start(state: DaemonState) -> Callable[[], Awaitable[None]] | None:
    """Daemon startup hook: configure from the environment; the stop function flushes pending spans."""
    if not configure_from_env():
        return None

    async def stop() -> None:
        import asyncio

        await asyncio.to_thread(shutdown)

    return stop


def _ns(text: str | None) -> int | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1_000_000) * 1000


def git_head(root: str | Path) -> tuple[str | None, str | None]:
    """(branch, commit) of the git checkout at ``root``, read from ``.git`` files (no subprocess)."""
    git = Path(root) / ".git"
    try:
        if git.is_file():  # worktree or submodule: "gitdir: <path>"
            target = git.read_text().strip().removeprefix("gitdir:").strip()
            git = (Path(root) / target).resolve()
        head = (git / "HEAD").read_text().strip()
    except OSError:
        return None, None
    if not head.startswith("ref:"):
        return None, head or None
    ref = head.removeprefix("ref:").strip()
    branch = ref.removeprefix("refs/heads/")
    common = git
    commondir = git / "commondir"
    if commondir.is_file():
        common = (git / commondir.read_text().strip()).resolve()
    for base in (git, common):
        try:
            return branch, (base / ref).read_text().strip()
        except OSError:
            pass
        try:
            for line in (base / "packed-refs").read_text().splitlines():
                sha, _, name = line.partition(" ")
                if name == ref:
                    return branch, sha
        except OSError:
            pass
    return branch, None


def _attrs(pairs: Mapping[str, Any]) -> dict[str, Any]:
    """Span attributes without the None values (OpenTelemetry rejects them)."""
    return {k: v for k, v in pairs.items() if v is not None}


def record_trace_spans(trace: dict[str, Any], llm_calls: Sequence[Mapping[str, Any]] | None = None) -> None:
    """Export one recorded trace as spans; a no-op when OpenTelemetry is not configured.

    ``trace`` has the ``request_traces`` columns (JSON columns decoded; ``created_at`` is the request's
    start). LLM call spans come from ``llm_calls`` (``llm_calls`` table rows) or else ``trace['llm_calls']``.
    """
    if _tracer is None and (_checked or not enabled()):
        return
    tracer = _tracer
    assert tracer is not None
    from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

    start = _ns(trace.get("created_at")) or time.time_ns()
    end = start + int(trace.get("total_duration_ms") or 0) * 1_000_000
    request_type = str(trace.get("request_type") or "request")
    decisions = trace.get("routing_decisions") or []
    last = decisions[-1] if decisions and isinstance(decisions[-1], dict) else {}
    payload = trace.get("request_payload") or {}
    root_dir = payload.get("project_root") if isinstance(payload, dict) else None
    branch, commit = git_head(root_dir) if root_dir else (None, None)
    calls = list(llm_calls) if llm_calls is not None else list(trace.get("llm_calls") or [])
    first_model = next((c.get("model") for c in calls if c.get("model")), None)
    operation = "chat" if request_type in _CHAT_TYPES else "invoke_agent"
    root = tracer.start_span(
        f"{operation} {first_model}" if first_model and operation == "chat" else f"mcpgw {request_type}",
        kind=SpanKind.SERVER,
        start_time=start,
        attributes=_attrs(
            {
                "gen_ai.operation.name": operation,
                "gen_ai.conversation.id": trace.get("conversation_id"),
                "gen_ai.request.model": first_model,
                "gen_ai.usage.input_tokens": sum(int(c.get("input_tokens") or 0) for c in calls),
                "gen_ai.usage.output_tokens": sum(int(c.get("output_tokens") or 0) for c in calls),
                "mcpgw.trace_id": trace.get("id"),
                "mcpgw.request_type": request_type,
                "mcpgw.status": trace.get("status"),
                "mcpgw.layer": last.get("layer"),
                "mcpgw.cost_usd": float(trace.get("total_cost") or 0),
                "mcpgw.project_id": trace.get("project_id"),
                "mcpgw.user_id": trace.get("user_id"),
                "mcpgw.git.branch": branch,
                "mcpgw.git.commit": commit,
            }
        ),
    )
    error = trace.get("error_info")
    if trace.get("status") == "error":
        message = error.get("message") if isinstance(error, dict) else None
        root.set_attribute("error.type", str((error or {}).get("type") or "error"))
        root.set_status(Status(StatusCode.ERROR, message))
    ctx = set_span_in_context(root)
    cursor = start
    for call in calls:
        call_start = _ns(call.get("created_at")) or cursor
        if call_start < start:
            call_start = start
        call_end = call_start + int(call.get("duration_ms") or 0) * 1_000_000
        cursor = call_end
        provider = call.get("provider")
        span = tracer.start_span(
            f"chat {call.get('model')}",
            context=ctx,
            kind=SpanKind.CLIENT,
            start_time=call_start,
            attributes=_attrs(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": provider,
                    "gen_ai.system": provider,
                    "gen_ai.request.model": call.get("model"),
                    "gen_ai.response.model": call.get("model"),
                    "gen_ai.usage.input_tokens": int(call.get("input_tokens") or 0),
                    "gen_ai.usage.output_tokens": int(call.get("output_tokens") or 0),
                    "mcpgw.layer": call.get("layer"),
                    "mcpgw.cost_usd": float(call.get("cost") or 0),
                    "mcpgw.cached": bool(call.get("cached")),
                    "mcpgw.task_type": call.get("task_type"),
                    "mcpgw.project_id": call.get("project_id") or trace.get("project_id"),
                }
            ),
        )
        if call.get("status") == "error":
            span.set_attribute("error.type", "upstream_error")
            span.set_status(Status(StatusCode.ERROR, str(call.get("error") or "")))
        span.end(end_time=max(call_end, call_start))
    for tool in trace.get("tool_calls") or []:
        if not isinstance(tool, dict):
            continue
        name = tool.get("tool_name") or tool.get("toolName") or tool.get("name") or "tool"
        tool_ms = int(tool.get("duration_ms") or tool.get("durationMs") or 0)
        tool_start = _ns(tool.get("started_at") or tool.get("created_at")) or start
        span = tracer.start_span(
            f"execute_tool {name}",
            context=ctx,
            kind=SpanKind.INTERNAL,
            start_time=tool_start,
            attributes=_attrs(
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": name,
                    "gen_ai.tool.call.id": tool.get("id"),
                    "mcpgw.duration_ms": tool_ms,
                    "mcpgw.project_id": trace.get("project_id"),
                }
            ),
        )
        if tool.get("error"):
            span.set_attribute("error.type", "tool_error")
            span.set_status(Status(StatusCode.ERROR, str(tool["error"])))
        span.end(end_time=tool_start + tool_ms * 1_000_000)
    root.end(end_time=max(end, cursor))
