"""Stage 1 — resolve: the project (git root, policy file), the conversation history, compression."""

from __future__ import annotations

import logging

from mcpgw.errors import NotFound
from mcpgw.gateway.context import Ctx

log = logging.getLogger(__name__)
KEEP_RECENT = 4  # messages kept verbatim when older ones are summarised


async def run(ctx: Ctx) -> None:
    gw, req = ctx.gw, ctx.req
    ctx.project = await gw.projects.resolve(req.project_root)
    if ctx.project is not None and req.project_id is None:
        req.project_id = ctx.project.id
    ctx.messages = list(req.messages)
    if req.conversation_id:
        ctx.conversation_id = req.conversation_id
        if not await gw.conversations.exists(req.conversation_id):
            raise NotFound(
                f"conversation {req.conversation_id} does not exist",
                fix="list conversations with `mcpgw history`, or start a new one without --conversation",
            )
        history = await gw.conversations.history(req.conversation_id)
        budget = gw.settings.context.max_history_tokens
        if ctx.project and ctx.project.policy.routing.max_context_tokens:
            budget = min(budget, ctx.project.policy.routing.max_context_tokens)
        if history.tokens > budget and len(history.messages) > KEEP_RECENT:
            await gw.compress(ctx, req.conversation_id, KEEP_RECENT)
            history = await gw.conversations.history(req.conversation_id)
            ctx.compressed = True
        ctx.messages = history.as_messages() + ctx.messages
    if req.persist:
        ctx.new_turns = [m for m in req.messages if m.get("role") == "user"][-1:]
