"""Stage 4 — route: the starting layer, the ceiling, and the candidates of every layer in between."""

from __future__ import annotations

from mcpgw.config import LAYERS, Layer, ProjectPolicy
from mcpgw.errors import NoRoute, UsageError
from mcpgw.gateway.context import Ctx, Plan
from mcpgw.routing import layers as L


async def run(ctx: Ctx) -> None:
    gw, req = ctx.gw, ctx.req
    routing = gw.settings.routing
    policy = ctx.project.policy if ctx.project else ProjectPolicy()
    rule = L.file_rule(policy, req.files)
    task = rule.task_type if rule and rule.task_type else req.task_type
    risk = L.effective_risk(req.risk, req.criticality.model_dump() if req.criticality else None)
    ceiling, why_ceiling = L.ceiling(routing, policy, rule, task, req.quality, risk)

    if req.model:
        resolved = gw.registry.resolve(req.model)
        if resolved is None:
            raise UsageError(
                f"unknown model {req.model!r}: no configured provider serves it",
                fix="use one of: " + ", ".join(gw.usable_models()[:20])
                if gw.usable_models()
                else "configure a provider (OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENROUTER_API_KEY or OLLAMA_HOST); "
                "see `mcpgw doctor`",
            )
        layer: Layer = req.layer or gw.layer_of(req.model) or "L1"
        cand = L.Candidate(layer, req.model, resolved.provider, resolved.model, "pinned")
        ctx.plan = Plan([(layer, [cand])], layer, layer)
        ctx.decide(layer, "model pinned by the request", req.model)
        return

    if req.layer is not None and L.index(req.layer) > L.index(ceiling):
        raise UsageError(
            f"layer {req.layer} is above the ceiling {ceiling} ({why_ceiling})",
            fix=f"use one of {', '.join(LAYERS[: L.index(ceiling) + 1])}, or raise max_layer",
        )
    start, why_start = L.start(routing, policy, req.quality, req.layer, ceiling, risk)
    top = start if req.layer is not None and not _may_escalate(ctx) else ceiling
    plan: list[tuple[Layer, list[L.Candidate]]] = []
    skipped: list[str] = []
    for layer in LAYERS[L.index(start) : L.index(top) + 1]:
        refs = L.layer_refs(routing, layer, task, rule, first=not plan)
        cands = L.candidates(refs, layer, gw.registry, gw.health, gw.local_models)
        if cands:
            plan.append((layer, cands))
        else:
            skipped.append(layer)
    if not plan:
        if not len(gw.registry):
            raise NoRoute(
                "no provider is configured",
                fix="set OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server), ANTHROPIC_API_KEY, "
                "OPENROUTER_API_KEY or OLLAMA_HOST, or add [providers.NAME] to config.toml; then run `mcpgw doctor`",
            )
        raise NoRoute(
            f"no usable model between {start} and {top}: layers {', '.join(skipped)} have no model that a configured "
            f"provider ({', '.join(gw.registry.names())}) serves, or all are cooling down after failures",
            fix="add models for your providers to [routing.layers] in config.toml, raise the ceiling, "
            "or see `mcpgw doctor`",
        )
    first_layer, first = plan[0]
    reason = f"start {start} ({why_start}); ceiling {top} ({why_ceiling})"
    if first_layer != start:
        reason += f"; {', '.join(skipped[: L.index(first_layer) - L.index(start)])} had no usable provider"
    ctx.decide(first_layer, reason, first[0].ref)
    ctx.plan = Plan(plan, start, top)


def _may_escalate(ctx: Ctx) -> bool:
    return ctx.req.auto_escalate is not False
