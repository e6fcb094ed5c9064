"""Stage 7 — guard-out: the output policy. Secrets in the answer are redacted (before it is returned, cached
or stored); a blocked keyword refuses the answer (422); unsafe shell commands are flagged in the trace.
For streamed answers the pieces are already on their way: the check records what it found and the stored
and cached copies are redacted."""

from __future__ import annotations

from mcpgw.config import ProjectPolicy
from mcpgw.errors import OutputPolicyViolation
from mcpgw.gateway.context import Ctx
from mcpgw.security.policy import redact, scan

_DEFAULT = ProjectPolicy().security


async def run(ctx: Ctx) -> None:
    policy = ctx.project.policy.security if ctx.project else _DEFAULT
    if not policy.scan_outputs or ctx.from_cache:
        return
    text = ctx.text or (ctx.chat.text if ctx.chat else "")
    if not text:
        return
    violations = scan(text, policy, output=True)
    if not violations:
        return
    blocked = [v for v in violations if v.type == "blocked_keyword"]
    if blocked and not ctx.req.stream:
        raise OutputPolicyViolation(
            f"the answer contains the blocked keyword {blocked[0].pattern!r}; it was withheld",
            fix="rephrase the request, or change security.blockedKeywords in the policy file",
            violations=[v.as_dict() for v in blocked],
        )
    for v in violations:
        if v.type == "unsafe_command":
            ctx.decide("-", f"policy: the answer contains an unsafe command: {v.pattern[:80]}")
        elif v.type == "blocked_keyword":
            ctx.decide("-", f"policy: the streamed answer contained the blocked keyword {v.pattern!r}")
    secrets = [v for v in violations if v.type == "secret_detected"]
    if secrets:
        ctx.text = redact(text, secrets)
        ctx.decide("-", f"policy: redacted {len(secrets)} secret(s) from the answer")
