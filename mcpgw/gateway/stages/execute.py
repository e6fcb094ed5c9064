"""Stage 6 — execute: call the candidates in order (fallback within a layer), escalate one layer up after
failures or a rejected answer (never past the ceiling; with auto-escalation off, stop and ask), and
cross-check the answer when the quality level asks for it."""

from __future__ import annotations

from mcpgw.errors import BudgetExceeded, GatewayError, UpstreamError
from mcpgw.gateway.context import Ctx
from mcpgw.gateway.request import Confirmation, CrossCheck
from mcpgw.providers.base import ChatResult, ProviderError
from mcpgw.routing import crosscheck
from mcpgw.routing.layers import Candidate, effective_risk
from mcpgw.routing.validate import validate


async def run(ctx: Ctx) -> None:
    if ctx.from_cache:
        return
    await attempt_layers(ctx, stream=False)
    if ctx.chat is not None and ctx.final is not None and cross_check_wanted(ctx):
        await cross_check(ctx)


def _risk(ctx: Ctx) -> str | None:
    req = ctx.req
    return effective_risk(req.risk, req.criticality.model_dump() if req.criticality else None)


def auto_escalate(ctx: Ctx) -> bool:
    if ctx.req.auto_escalate is not None:
        return ctx.req.auto_escalate
    if _risk(ctx) == "prod-critical":
        return False  # the roadmap: prod-critical escalations need a human's confirmation
    policy_flag = ctx.project.policy.features.enable_auto_escalate if ctx.project else None
    return policy_flag if policy_flag is not None else ctx.gw.settings.routing.auto_escalate


def cross_check_wanted(ctx: Ctx) -> bool:
    if ctx.req.cross_check is not None:
        return ctx.req.cross_check
    if ctx.req.openai.get("tools"):
        return False
    if _risk(ctx) in ("high", "prod-critical"):
        return True
    policy = ctx.project.policy if ctx.project else None
    if policy is not None:
        override = policy.routing.task_overrides.get(ctx.req.quality)
        if override and override.cross_check is not None:
            return override.cross_check
        if policy.features.enable_cross_check is False:
            return False
    return ctx.req.quality in ctx.gw.settings.routing.cross_check_quality


async def attempt_layers(ctx: Ctx, *, stream: bool) -> None:
    """Try layer after layer. Sets ``ctx.chat``/``ctx.final`` (or ``ctx.confirmation``); for ``stream`` it
    stops at the first candidate whose stream opened (``ctx.gw`` keeps the open stream on ``ctx``)."""
    assert ctx.plan is not None
    gw = ctx.gw
    last_error: GatewayError | None = None
    rejected: tuple[ChatResult, Candidate, str] | None = None
    for index, (layer, cands) in enumerate(ctx.plan.layers):
        if index > 0:
            why = _why_up(last_error, rejected)
            nxt = cands[0]
            if not auto_escalate(ctx) and not ctx.req.confirm:
                estimate = gw.estimate_cost(nxt, ctx.messages, ctx.req.openai)
                ctx.confirmation = Confirmation(
                    next_layer=layer, model=nxt.ref, estimated_cost_usd=round(estimate, 6), reason=why
                )
                ctx.decide(layer, f"escalation to {layer} needs confirmation ({why})", nxt.ref)
                if rejected is not None:  # keep the rejected answer visible
                    ctx.chat, ctx.final = rejected[0], rejected[1]
                return
            ctx.decide(layer, f"escalated: {why}", nxt.ref)
        budget_errors: list[BudgetExceeded] = []
        for cand in cands:
            try:
                if stream:
                    if await gw.open_stream(ctx, cand):
                        ctx.final, ctx.final_layer = cand, layer
                        return
                    continue
                result = await gw.call_model(ctx, cand, ctx.messages, ctx.req.openai, purpose="answer")
            except BudgetExceeded as exc:
                budget_errors.append(exc)
                ctx.decide(layer, f"skipped {cand.ref}: {exc.message}", cand.ref)
                continue
            except ProviderError as exc:
                last_error = exc
                ctx.decide(layer, f"{cand.ref} failed: {exc.upstream_message}", cand.ref)
                continue
            problem = validate(
                result.text,
                openai=ctx.req.openai,
                task_type=ctx.req.task_type,
                files=ctx.req.files,
                has_tool_calls=bool(result.tool_calls),
            )
            if problem is not None:
                rejected = (result, cand, problem)
                ctx.decide(layer, f"answer of {cand.ref} rejected: {problem}", cand.ref)
                break
            ctx.chat, ctx.final, ctx.final_layer = result, cand, layer
            if cand is not cands[0] or index > 0:
                ctx.decide(layer, f"answered by {cand.ref}", cand.ref)
            return
        else:
            if budget_errors and last_error is None:
                raise _budget_refusal(budget_errors)
    if rejected is not None:
        ctx.chat, ctx.final, ctx.final_layer = rejected[0], rejected[1], rejected[1].layer
        ctx.decide(rejected[1].layer, "no higher layer left: returning the rejected answer", rejected[1].ref)
        return
    if last_error is not None:
        tried = ", ".join(c["provider"] + "/" + c["model"] for c in ctx.calls if c.get("status") == "error")
        raise UpstreamError(
            f"every candidate failed ({tried}); last: {last_error.message}",
            fix="see `mcpgw traces show " + ctx.trace_id + "` and `mcpgw doctor`",
        ) from last_error


def _budget_refusal(errors: list[BudgetExceeded]) -> BudgetExceeded:
    """One refusal for a layer whose every candidate is over a budget, naming the cheapest."""
    if len(errors) == 1:
        return errors[0]
    cheapest = min(errors, key=lambda e: float(e.details.get("estimate_usd") or 0))
    others = len(errors) - 1
    return BudgetExceeded(
        f"{cheapest.message} (and {others} other candidate{'s' if others > 1 else ''} cost more)",
        fix=cheapest.fix,
        **cheapest.details,
    )


def _why_up(error: GatewayError | None, rejected: tuple[ChatResult, Candidate, str] | None) -> str:
    if rejected is not None:
        return rejected[2]
    if error is not None:
        return f"the layer's models failed ({error.message})"
    return "the layer had no usable model"


async def cross_check(ctx: Ctx) -> None:
    """A reviewer model checks the answer; on conflict an arbitrator from a higher layer decides."""
    assert ctx.chat is not None and ctx.final is not None and ctx.plan is not None
    gw = ctx.gw
    primary, answer = ctx.final, ctx.chat.text
    reviewer = _pick(ctx, exclude={primary.ref}, from_layer=primary.layer)
    if reviewer is None:
        ctx.decide(primary.layer, "cross-check skipped: no second model available", primary.ref)
        return
    try:
        review = await gw.call_model(
            ctx, reviewer, crosscheck.review_messages(ctx.messages, answer), {"temperature": 0}, purpose="review"
        )
    except (ProviderError, BudgetExceeded) as exc:
        ctx.decide(reviewer.layer, f"cross-check reviewer {reviewer.ref} failed: {exc.message}", reviewer.ref)
        return
    verdict = crosscheck.parse_verdict(review.text)
    check = CrossCheck(
        primary_model=primary.ref, reviewer_model=reviewer.ref, verdict=verdict, review=review.text,
        primary_answer=answer,
    )  # fmt: skip
    ctx.decide(reviewer.layer, f"cross-check by {reviewer.ref}: {verdict}", reviewer.ref)
    if verdict == "conflict":
        arbiter = _pick(ctx, exclude={primary.ref, reviewer.ref}, from_layer=primary.layer, prefer_higher=True)
        arbiter = arbiter or reviewer
        try:
            verdict_call = await gw.call_model(
                ctx, arbiter, crosscheck.arbiter_messages(ctx.messages, answer, review.text), {}, purpose="arbitrate"
            )
            decision, final = crosscheck.parse_decision(verdict_call.text, answer)
            check.arbitrator_model, check.decision = arbiter.ref, decision  # type: ignore[assignment]
            ctx.decide(arbiter.layer, f"arbitration by {arbiter.ref}: keep {decision}", arbiter.ref)
            if decision == "revised":
                ctx.text = final
        except (ProviderError, BudgetExceeded) as exc:
            ctx.decide(arbiter.layer, f"arbitrator {arbiter.ref} failed: {exc.message}", arbiter.ref)
    ctx.cross_check = check


def _pick(ctx: Ctx, *, exclude: set[str], from_layer: str, prefer_higher: bool = False) -> Candidate | None:
    assert ctx.plan is not None
    ordered = list(ctx.plan.layers)
    layers = [lc for lc in ordered if lc[0] >= from_layer]
    if prefer_higher:
        layers = [lc for lc in layers if lc[0] > from_layer] + [lc for lc in layers if lc[0] == from_layer]
    for _layer, cands in layers:
        for cand in cands:
            if cand.ref not in exclude and ctx.gw.health.available(cand.provider.name, cand.model):
                return cand
    return None
