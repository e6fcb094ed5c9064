"""Stage 2 — guard-in: the prompt policy. A blocked keyword refuses the request (400); secrets are redacted
from what is sent and stored when the policy says so (the default), or only recorded otherwise."""

from __future__ import annotations

from typing import Any

from mcpgw.config import ProjectPolicy
from mcpgw.errors import PolicyViolation
from mcpgw.gateway.context import Ctx
from mcpgw.security.policy import redact, scan

_DEFAULT = ProjectPolicy().security


async def run(ctx: Ctx) -> None:
    policy = ctx.project.policy.security if ctx.project else _DEFAULT
    if not policy.scan_prompts:
        return
    redacted = 0
    clean: list[dict[str, Any]] = []
    for message in ctx.messages:
        content = message.get("content")
        if not isinstance(content, str) or not content:
            clean.append(message)
            continue
        violations = scan(content, policy)
        blocked = [v for v in violations if v.type == "blocked_keyword"]
        if blocked:
            where = ctx.project.policy_file if ctx.project and ctx.project.policy_file else "the project policy"
            raise PolicyViolation(
                f"the prompt contains the blocked keyword {blocked[0].pattern!r} ({where})",
                fix="remove it from the prompt, or change security.blockedKeywords in the policy file",
                violations=[v.as_dict() for v in blocked],
            )
        secrets = [v for v in violations if v.type == "secret_detected"]
        if secrets and policy.redact_secrets:
            redacted += len(secrets)
            message = {**message, "content": redact(content, secrets)}
        elif secrets:
            ctx.decide("-", f"policy: {len(secrets)} secret(s) in the prompt sent as is (redactSecrets is off)")
        clean.append(message)
    if redacted:
        ctx.messages = clean
        ctx.new_turns = [
            {**t, "content": redact(t["content"], scan(t["content"], policy))} if isinstance(t.get("content"), str)
            else t
            for t in ctx.new_turns
        ]  # fmt: skip
        ctx.decide("-", f"policy: redacted {redacted} secret(s) from the prompt before sending")
