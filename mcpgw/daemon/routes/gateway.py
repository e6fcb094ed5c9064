"""The native gateway API: ``/v1/chat``, ``/v1/code-agent``, ``/v1/route`` answer the envelope
``{result, routing, context, performance}``; with ``stream: true`` they answer Server-Sent Events
(``event: chunk`` per OpenAI chunk, then ``event: result`` with the envelope, or ``event: error``)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from mcpgw.errors import MCPGWError, NotFound, UsageError
from mcpgw.gateway.core import Gateway
from mcpgw.gateway.request import GatewayRequest, GatewayResult
from mcpgw.providers.base import StreamChunk
from mcpgw.routing.simulator import DEFAULT_STRATEGIES

router = APIRouter()


def gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.daemon.services["gateway"]
    return gw


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def _sse(gw: Gateway, req: GatewayRequest) -> AsyncIterator[bytes]:
    try:
        async for item in gw.stream(req):
            if isinstance(item, StreamChunk):
                yield b"event: chunk\ndata: " + item.raw + b"\n\n"
            else:
                yield b"event: result\ndata: " + orjson.dumps(item.envelope()) + b"\n\n"
    except MCPGWError as exc:
        problem = {"type": exc.type, "title": type(exc).__name__, "status": exc.status, "detail": exc.message,
                   "fix": exc.fix, **exc.details}  # fmt: skip
        yield b"event: error\ndata: " + orjson.dumps(problem, default=str) + b"\n\n"


async def answer(gw: Gateway, req: GatewayRequest) -> Response:
    if req.stream:
        return StreamingResponse(_sse(gw, req), media_type="text/event-stream", headers={"cache-control": "no-cache"})
    result: GatewayResult = await gw.run(req)
    return _json(result.envelope())


@router.post("/v1/chat")
async def chat(request: Request, body: GatewayRequest) -> Response:
    """Ask the gateway. The body is a GatewayRequest (messages, task_type, quality, layer, model, budget …)."""
    return await answer(gateway(request), body)


@router.post("/v1/route")
async def route(request: Request, body: GatewayRequest) -> Response:
    """The original generic entry point: route and run a request (request_type 'route')."""
    if body.request_type == "chat":
        body.request_type = "route"
    return await answer(gateway(request), body)


class CodeContext(BaseModel):
    language: str | None = None
    framework: str | None = None
    existingCode: str | None = None
    requirements: list[str] = Field(default_factory=list)


class CodeAgentRequest(BaseModel):
    """A code task: generate, review, diff (full new file), analyze, or create a project plan."""

    task: str = Field(min_length=1)
    mode: Literal["generate", "review", "diff", "analyze", "create-project"] = "generate"
    path: str | None = None
    content: str | None = None
    files: list[dict[str, str]] = Field(default_factory=list, description="[{path, content}] for analyze")
    context: CodeContext = Field(default_factory=CodeContext)
    quality: Literal["draft", "normal", "high", "production", "critical"] = "normal"
    risk: Literal["low", "normal", "high", "prod-critical"] | None = None
    layer: Literal["L0", "L1", "L2", "L3"] | None = None
    model: str | None = None
    budget_usd: float | None = Field(None, ge=0)
    project_root: str | None = None
    conversation_id: str | None = None
    stream: bool = False
    cache: bool = True
    confirm: bool = False
    auto_escalate: bool | None = None
    request_type: str = "code-agent"


SYSTEM = {
    "generate": "You are a senior software engineer. Write correct, idiomatic, production-quality code. Answer with "
    "the code in one fenced block, then at most a few sentences.",
    "review": "You are a meticulous code reviewer. List only real problems (bugs, security, data loss, clear "
    "mistakes), each on its own line as 'LINE: message' where LINE is the line number in the file. If there are "
    "none, answer exactly 'No issues found.'",
    "diff": "You are a senior software engineer editing a file. Return the COMPLETE new content of the file in a "
    "single fenced code block and nothing else. Change only what the task needs.",
    "analyze": "You are a senior software engineer. Analyse the code: structure, risks, bugs, and concrete "
    "improvement suggestions, most important first. Be specific, cite file and line.",
    "create-project": "You are a software architect. From the description, propose a project: directory tree, "
    "the key files with their purpose, the main dependencies, and the first steps to build it.",
}
TASK_TYPE = {"generate": "code", "review": "review", "diff": "code", "analyze": "analyze",
             "create-project": "createProject"}  # fmt: skip


def code_agent_request(body: CodeAgentRequest) -> GatewayRequest:
    parts: list[str] = [f"Task: {body.task}"]
    ctx = body.context
    if ctx.language or ctx.framework:
        parts.append(f"Language: {ctx.language or '-'}; framework: {ctx.framework or '-'}")
    if ctx.requirements:
        parts.append("Requirements:\n" + "\n".join(f"- {r}" for r in ctx.requirements))
    if body.path and body.content is not None:
        numbered = (
            body.content
            if body.mode != "review"
            else "\n".join(f"{i}: {line}" for i, line in enumerate(body.content.splitlines(), 1))
        )
        parts.append(f"File {body.path}:\n```\n{numbered}\n```")
    for item in body.files:
        parts.append(f"File {item.get('path')}:\n```\n{item.get('content', '')}\n```")
    if ctx.existingCode:
        parts.append(f"Existing code:\n```\n{ctx.existingCode}\n```")
    files = [body.path] if body.path else [f.get("path", "") for f in body.files]
    return GatewayRequest(
        request_type=body.request_type,
        messages=[{"role": "system", "content": SYSTEM[body.mode]}, {"role": "user", "content": "\n\n".join(parts)}],
        task_type=TASK_TYPE[body.mode],  # type: ignore[arg-type]
        quality=body.quality, layer=body.layer, model=body.model, budget_usd=body.budget_usd,
        project_root=body.project_root, files=[f for f in files if f], stream=body.stream, confirm=body.confirm,
        auto_escalate=body.auto_escalate, conversation_id=body.conversation_id, risk=body.risk, cache=body.cache,
    )  # fmt: skip


_FINDING = re.compile(r"^\s*(?:[-*]\s*)?(?:line\s*)?(\d+)\s*[:.)-]\s*(.+)$", re.IGNORECASE)


def review_findings(text: str) -> list[dict[str, Any]]:
    """``LINE: message`` lines of a review as findings; free text that follows no format becomes one
    line-less ``info`` finding (never blocking); "No issues found." is none."""
    findings = []
    for line in text.splitlines():
        match = _FINDING.match(line)
        if match:
            findings.append({"line": int(match.group(1)), "message": match.group(2).strip(), "severity": "warning"})
    stripped = text.strip()
    if not findings and stripped and not stripped.lower().startswith("no issues"):
        findings.append({"line": None, "message": stripped[:500], "severity": "info"})
    return findings


@router.post("/v1/code-agent")
async def code_agent(request: Request, body: CodeAgentRequest) -> Response:
    """A code task through the gateway (the CLI's code/diff/analyze/create-project and the git hooks use it).
    In ``review`` mode the envelope also carries ``findings``: ``[{line, message, severity}]``."""
    req = code_agent_request(body)
    if body.mode != "review" or req.stream:
        return await answer(gateway(request), req)
    result = await gateway(request).run(req)
    envelope = result.envelope()
    envelope["findings"] = review_findings(result.text) if result.status == "ok" else []
    return _json(envelope)


@router.get("/v1/stats")
async def stats(request: Request) -> dict[str, Any]:
    """Requests, cache, budgets (spend, remaining, reset times), provider and model health."""
    return gateway(request).stats()


@router.get("/v1/server-stats")
async def server_stats(request: Request) -> dict[str, Any]:
    d = request.app.state.daemon
    gw = gateway(request)
    rss_kb = 0
    try:
        for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "pid": d.pid,
        "uptime_s": d.uptime_s,
        "state": d.lifecycle.value,
        "requests_total": gw.requests_total,
        "in_flight": gw.in_flight,
        "rss_mb": round(rss_kb / 1024, 1),
        "event_subscribers": d.events.subscriber_count,
        "pending_writes": d.store.pending,
    }


@router.get("/v1/context/{conversation_id}")
async def get_context(request: Request, conversation_id: str) -> dict[str, Any]:
    """A conversation: its messages and summaries."""
    data = await gateway(request).conversations.export(conversation_id)
    if not data:
        raise NotFound(f"conversation {conversation_id} does not exist")
    return data


class ContextAction(BaseModel):
    action: Literal["append", "compress", "handoff"] = "append"
    messages: list[dict[str, Any]] = Field(default_factory=list)


@router.post("/v1/context/{conversation_id}")
async def post_context(request: Request, conversation_id: str, body: ContextAction) -> dict[str, Any]:
    """Append messages, compress the history now, or hand off: a new conversation seeded with a summary."""
    gw = gateway(request)
    if not await gw.conversations.exists(conversation_id):
        raise NotFound(f"conversation {conversation_id} does not exist")
    if body.action == "append":
        for m in body.messages:
            if m.get("role") not in ("system", "user", "assistant") or not isinstance(m.get("content"), str):
                raise UsageError("each message needs a role (system/user/assistant) and text content")
        await gw.conversations.append(conversation_id, body.messages, project_id=None, user_id=None, model=None)
        return await gw.conversations.export(conversation_id)
    ctx = gw.new_ctx(GatewayRequest(request_type="context", messages=[{"role": "user", "content": "-"}]))
    fold, until = await gw.conversations.messages_before(conversation_id, 0 if body.action == "handoff" else 4)
    if not fold:
        raise UsageError("nothing to summarise in this conversation yet")
    summary = await gw.summarise(ctx, fold)
    await gw.conversations.save_summary(conversation_id, summary, until)
    from mcpgw.gateway.stages import account, record

    await account.run(ctx)
    await record.run(ctx)
    if body.action == "compress":
        return {"conversation_id": conversation_id, "summary": summary}
    new_id_ = await gw.conversations.create(project_id=None, user_id=None, title=f"handoff from {conversation_id}")
    await gw.conversations.save_summary(new_id_, summary, None)
    return {"conversation_id": new_id_, "from": conversation_id, "summary": summary}


@router.post("/v1/cache/clear")
async def cache_clear(request: Request) -> dict[str, Any]:
    return {"cleared": gateway(request).cache.clear()}


@router.get("/v1/cache/stats")
async def cache_stats(request: Request) -> dict[str, Any]:
    return gateway(request).cache.stats()


class CacheValue(BaseModel):
    value: Any
    ttl_s: int | None = Field(None, gt=0)


@router.get("/v1/cache/entries/{key:path}")
async def cache_get(request: Request, key: str) -> dict[str, Any]:
    found, value = gateway(request).cache.get_value(key)
    if not found:
        raise NotFound(f"no cache entry {key!r}")
    return {"key": key, "value": value}


@router.put("/v1/cache/entries/{key:path}")
async def cache_set(request: Request, key: str, body: CacheValue) -> dict[str, Any]:
    gateway(request).cache.set_value(key, body.value, body.ttl_s)
    return {"key": key, "stored": True}


@router.delete("/v1/cache/entries/{key:path}")
async def cache_delete(request: Request, key: str) -> dict[str, Any]:
    return {"key": key, "deleted": gateway(request).cache.delete(f"kv:{key}")}


class SimulateRequest(BaseModel):
    traceId: str = Field(min_length=4)
    strategies: list[str] = Field(default_factory=lambda: list(DEFAULT_STRATEGIES))


@router.post("/v1/routing/simulate")
async def simulate_route(request: Request, body: SimulateRequest) -> dict[str, Any]:
    """What a past request would have cost under other layer strategies (no model is called)."""
    from mcpgw.routing.simulator import median_latencies, parse_strategy, simulate
    from mcpgw.store.traces import get_trace

    strategies = [parse_strategy(s) for s in body.strategies] or [parse_strategy(s) for s in DEFAULT_STRATEGIES]
    store = request.app.state.store
    trace = await store.run(lambda c: get_trace(c, body.traceId))
    latencies = await store.run(median_latencies)
    return simulate(gateway(request), trace, strategies, latencies)
