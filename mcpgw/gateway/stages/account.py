"""Stage 8 — account: the request's cost is the sum of its calls' costs (each computed from the usage the
provider reported, or estimated); it is booked against every budget scope, and thresholds raise alerts."""

from __future__ import annotations

import logging

from mcpgw.gateway.context import Ctx

log = logging.getLogger(__name__)


async def run(ctx: Ctx) -> None:
    ctx.cost = sum(float(c.get("cost") or 0.0) for c in ctx.calls if not c.get("cached"))
    ctx.cost_estimated = any(c.get("_estimated") for c in ctx.calls)
    if ctx.cost <= 0:
        return
    gw = ctx.gw
    gw.budget.book(tuple(ctx.limits) or ("global",), ctx.cost)
    gw.check_thresholds(ctx)
