"""Stage 2 — quota: which budgets apply (global, per project, per request). The reservation itself is
made for each model call in the execute stage, once the model and so its price are known."""

from __future__ import annotations

from mcpgw.gateway.budget import Limits
from mcpgw.gateway.context import Ctx


async def run(ctx: Ctx) -> None:
    budgets = ctx.gw.settings.budgets
    ctx.limits = {"global": Limits(budgets.daily_usd, budgets.monthly_usd)}
    project = ctx.project
    if project is not None:
        per = budgets.projects.get(project.id) or budgets.projects.get(project.name) or {}
        daily = per.get("daily_usd", project.policy.budgets.daily_usd)
        monthly = per.get("monthly_usd", project.policy.budgets.monthly_usd)
        if daily is not None or monthly is not None:
            ctx.limits[f"project:{project.id}"] = Limits(daily, monthly)
    caps = [c for c in (ctx.req.budget_usd, budgets.per_request_max_usd) if c is not None]
    if project is not None and project.policy.routing.max_cost_per_request is not None:
        caps.append(project.policy.routing.max_cost_per_request)
    ctx.per_request_max = min(caps) if caps else None
