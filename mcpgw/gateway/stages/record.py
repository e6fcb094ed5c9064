"""Stage 9 — record: one trace (routing decisions, every LLM call, cost, duration, error) through the
write-behind queue, the conversation turn when asked for, and a ``trace`` event. Never fails the request."""

from __future__ import annotations

import logging
import time
from typing import Any

from mcpgw.errors import MCPGWError
from mcpgw.gateway.context import Ctx
from mcpgw.store.traces import enqueue_trace

log = logging.getLogger(__name__)
_PAYLOAD_CHARS = 4000


def _payload(ctx: Ctx) -> dict[str, Any]:
    last = ctx.req.messages[-1].get("content") if ctx.req.messages else None
    text = last if isinstance(last, str) else str(last)
    params = {k: v for k, v in ctx.req.openai.items() if k not in ("tools",)}
    if ctx.req.openai.get("tools"):
        params["tools"] = [t.get("function", {}).get("name") for t in ctx.req.openai["tools"] if isinstance(t, dict)]
    return {
        "task_type": ctx.req.task_type,
        "quality": ctx.req.quality,
        "layer": ctx.req.layer,
        "model": ctx.req.model,
        "messages": len(ctx.req.messages),
        "prompt": text[:_PAYLOAD_CHARS],
        "files": ctx.req.files,
        "params": params,
        "stream": ctx.req.stream,
    }


async def run(ctx: Ctx) -> None:
    duration_ms = int((time.perf_counter() - ctx.started) * 1000)
    status = "ok"
    error_info = None
    if ctx.error is not None:
        status = "error"
        err = ctx.error
        error_info = {
            "type": getattr(err, "type", type(err).__name__),
            "message": getattr(err, "message", str(err)),
            "fix": getattr(err, "fix", None),
        }
    elif ctx.confirmation is not None and ctx.chat is None:
        status = "confirmation_required"
    rows = [{k: v for k, v in call.items() if not k.startswith("_")} for call in ctx.calls]
    tree = [
        {
            "model": c["model"],
            "provider": c["provider"],
            "layer": c.get("layer"),
            "purpose": c.get("_purpose", "answer"),
            "inputTokens": c.get("input_tokens", 0),
            "outputTokens": c.get("output_tokens", 0),
            "cost": c.get("cost", 0.0),
            "durationMs": c.get("duration_ms", 0),
            "startTime": c.get("_start"),
            "endTime": c.get("_end"),
            "status": c.get("status", "ok"),
            "error": c.get("error"),
            "cached": bool(c.get("cached")),
        }
        for c in ctx.calls
    ]
    trace = {
        "id": ctx.trace_id,
        "conversation_id": ctx.conversation_id,
        "project_id": ctx.req.project_id,
        "user_id": ctx.req.user_id,
        "request_type": ctx.req.request_type,
        "request_payload": _payload(ctx),
        "routing_decisions": [d.model_dump() for d in ctx.decisions],
        "llm_calls": tree,
        "tool_calls": [],
        "total_cost": ctx.cost,
        "total_duration_ms": duration_ms,
        "status": status,
        "error_info": error_info,
    }
    try:
        enqueue_trace(ctx.gw.store, trace, rows)
    except MCPGWError as exc:  # a bad row must never fail the request it describes
        log.error("trace %s not recorded: %s", ctx.trace_id, exc)
    if ctx.conversation_id and ctx.req.persist and ctx.error is None and ctx.chat is not None:
        turns = [*ctx.new_turns, {"role": "assistant", "content": ctx.text}]
        await ctx.gw.conversations.append(
            ctx.conversation_id, turns, project_id=ctx.req.project_id, user_id=ctx.req.user_id,
            model=ctx.final.ref if ctx.final else None,
        )  # fmt: skip
    final = ctx.final
    ctx.gw.events.publish(
        "trace",
        {
            "id": ctx.trace_id,
            "request_type": ctx.req.request_type,
            "status": status,
            "layer": ctx.final_layer,
            "model": final.ref if final else None,
            "total_cost": ctx.cost,
            "total_duration_ms": duration_ms,
            "from_cache": ctx.from_cache,
        },
    )
