"""Stage 5 — cache: an exact-match hit answers without calling any model."""

from __future__ import annotations

from mcpgw.gateway.cache import cache_key
from mcpgw.gateway.context import Ctx


def enabled(ctx: Ctx) -> bool:
    gw = ctx.gw
    policy_flag = ctx.project.policy.features.enable_cache if ctx.project else None
    return ctx.req.cache and gw.settings.cache.enabled and policy_flag is not False


async def run(ctx: Ctx) -> None:
    if not enabled(ctx):
        return
    req = ctx.req
    ctx.cache_key = cache_key(
        ctx.messages,
        req.openai,
        task_type=req.task_type,
        quality=req.quality,
        layer=req.layer,
        model=req.model,
        project_id=req.project_id,
        budget_usd=req.budget_usd,
    )
    entry = await ctx.gw.cache.lookup(ctx.cache_key)
    if entry is None:
        return
    ctx.from_cache = True
    ctx.final_layer = entry.layer
    ctx.text = _text(entry.response)
    ctx.gw.cached_result(ctx, entry)
    ctx.decide(entry.layer or "-", "exact-match cache hit", f"{entry.provider}/{entry.model}")


def _text(response: dict[str, object]) -> str:
    choices = response.get("choices") or []
    if isinstance(choices, list) and choices:
        message = choices[0].get("message") or {}
        content = message.get("content")
        return content if isinstance(content, str) else ""
    return ""
