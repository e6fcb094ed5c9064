"""Stage 1b — context: the project's knowledge and its active work profile, added to the prompt.

Runs right after resolve (which knows the project). When the project has knowledge packs and the request
allows it (``knowledge``), the sections that best match the last user message join the prompt, bounded to
``KNOWLEDGE_TOKENS``; when a profile is active for the project (or ``profile`` names one), its goals,
focus, files in scope and recent decisions join too. Both go into ONE system message placed first, and
each is recorded as a routing decision so the trace shows what the model was told.

Cheap when nothing applies: packs and the active profile are cached per project (invalidated by the
knowledge and profile routes), so a project with neither costs two dict lookups per request.
"""

from __future__ import annotations

from typing import Any

from mcpgw.errors import UsageError
from mcpgw.gateway.context import Ctx
from mcpgw.knowledge import Hit, knowledge_for, section_tokens
from mcpgw.profiles import Profile, profiles_for

KNOWLEDGE_TOKENS = 1_500
QUERY_CHARS = 2_000


async def run(ctx: Ctx) -> None:
    req = ctx.req
    project_id = req.project_id
    if project_id is None:
        if req.profile:
            raise UsageError(
                f"profile {req.profile!r} needs a project",
                fix="run inside the project's git repository (or send project_root)",
            )
        return
    parts: list[str] = []
    profiles = profiles_for(ctx.gw.store)
    profile = await profiles.get(project_id, req.profile) if req.profile else await profiles.active(project_id)
    if profile is not None:
        parts.append(profile.prompt_block())
        ctx.decide("-", _profile_reason(profile))
    if req.knowledge:
        knowledge = knowledge_for(ctx.gw.store, ctx.gw.settings.search)
        if await knowledge.has_packs(project_id):
            query = last_user_text(ctx.messages)[-QUERY_CHARS:]
            hits = await knowledge.context_for(project_id, query, KNOWLEDGE_TOKENS)
            if hits:
                parts.append(knowledge_block(hits))
            ctx.decide("-", _knowledge_reason(hits))
    if parts:
        ctx.messages.insert(0, {"role": "system", "content": "\n\n".join(parts)})
    if profile is not None:
        profiles.note_request(profile, req.files, ctx.conversation_id)


def knowledge_block(hits: list[Hit]) -> str:
    body = "\n\n".join(f"### {h.title} [{h.doc_type}]\n{h.content}" for h in hits)
    return f"Project knowledge (from the project's documentation; use it when relevant):\n\n{body}"


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message (string content or the text parts of a content list)."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(
                str(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("type") == "text"
            )
        return ""
    return ""


def _profile_reason(profile: Profile) -> str:
    return (
        f"profile {profile.name} ({profile.type}): {profile.goals_done()}/{len(profile.goals)} goals done, "
        f"{len(profile.files_in_scope)} files in scope, {len(profile.decisions)} decisions"
    )


def _knowledge_reason(hits: list[Hit]) -> str:
    if not hits:
        return "knowledge: no section matched the question"
    tokens = sum(section_tokens(h) for h in hits)
    titles = "; ".join(h.title for h in hits)
    return f"knowledge: {len(hits)} sections (~{tokens} tokens): {titles}"
