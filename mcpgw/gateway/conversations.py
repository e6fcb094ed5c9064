"""Conversations and their messages, and compression: when a conversation's history exceeds the context
budget, the older turns are summarised into ``context_summaries`` and the summary stands in for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcpgw.ids import new_id
from mcpgw.pricing import estimate_tokens
from mcpgw.store import Store


@dataclass
class History:
    summary: str | None
    messages: list[dict[str, Any]]
    last_message_id: str | None

    def as_messages(self) -> list[dict[str, Any]]:
        head = []
        if self.summary:
            head.append({"role": "system", "content": f"Summary of the earlier conversation:\n{self.summary}"})
        return head + self.messages

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.as_messages())


class Conversations:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def exists(self, conversation_id: str) -> bool:
        return await self.store.read_one("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)) is not None

    async def create(self, *, project_id: str | None, user_id: str | None, title: str | None) -> str:
        conversation_id = new_id()
        await self.store.write(
            "INSERT INTO conversations (id, project_id, user_id, title) VALUES (?, ?, ?, ?)",
            (conversation_id, project_id, user_id, (title or "")[:80] or None),
        )
        return conversation_id

    async def history(self, conversation_id: str) -> History:
        summary_row = await self.store.read_one(
            "SELECT summary, covers_until FROM context_summaries WHERE conversation_id = ? "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            (conversation_id,),
        )
        covers = summary_row[1] if summary_row else None
        rows = await self.store.read(
            "SELECT id, role, content FROM messages WHERE conversation_id = ? AND (? IS NULL OR id > ?) ORDER BY id",
            (conversation_id, covers, covers),
        )
        return History(
            summary_row[0] if summary_row else None,
            [{"role": r[1], "content": r[2]} for r in rows],
            rows[-1][0] if rows else covers,
        )

    async def messages_before(self, conversation_id: str, keep_last: int) -> tuple[list[dict[str, Any]], str | None]:
        """The messages that a compression would fold (all but the last ``keep_last``) and the id of the last."""
        history = await self.history(conversation_id)
        rows = await self.store.read(
            "SELECT id FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        )
        ids = [r[0] for r in rows][-len(history.messages) :] if history.messages else []
        fold = history.messages[:-keep_last] if keep_last else history.messages
        until = ids[len(fold) - 1] if fold else None
        prefix = [{"role": "system", "content": f"Earlier summary: {history.summary}"}] if history.summary else []
        return prefix + fold, until

    async def append(
        self,
        conversation_id: str,
        turns: list[dict[str, Any]],
        *,
        project_id: str | None,
        user_id: str | None,
        model: str | None,
    ) -> None:
        statements: list[tuple[str, Any]] = []
        for turn in turns:
            content = turn.get("content")
            if not isinstance(content, str):
                content = "" if content is None else str(content)
            statements.append(
                (
                    "INSERT INTO messages (id, conversation_id, project_id, user_id, role, content, model, tokens) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        new_id(),
                        conversation_id,
                        project_id,
                        user_id,
                        turn["role"],
                        content,
                        model if turn["role"] == "assistant" else None,
                        estimate_tokens([turn]),
                    ),
                )
            )
        statements.append(
            (
                "UPDATE conversations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?",
                (conversation_id,),
            )
        )
        await self.store.write_many(statements)

    async def save_summary(self, conversation_id: str, summary: str, covers_until: str | None) -> None:
        await self.store.write(
            "INSERT INTO context_summaries (id, conversation_id, summary, covers_until, tokens) VALUES (?, ?, ?, ?, ?)",
            (new_id(), conversation_id, summary, covers_until, estimate_tokens([{"content": summary}])),
        )

    async def export(self, conversation_id: str) -> dict[str, Any]:
        conv = await self.store.read_one(
            "SELECT id, project_id, title, created_at, updated_at FROM conversations WHERE id = ?", (conversation_id,)
        )
        if conv is None:
            return {}
        messages = await self.store.read(
            "SELECT id, role, content, model, tokens, created_at FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        )
        summaries = await self.store.read(
            "SELECT id, summary, covers_until, created_at FROM context_summaries WHERE conversation_id = ? "
            "ORDER BY created_at",
            (conversation_id,),
        )
        return {
            "id": conv[0],
            "project_id": conv[1],
            "title": conv[2],
            "created_at": conv[3],
            "updated_at": conv[4],
            "messages": [
                {"id": m[0], "role": m[1], "content": m[2], "model": m[3], "tokens": m[4], "created_at": m[5]}
                for m in messages
            ],
            "summaries": [{"id": s[0], "summary": s[1], "covers_until": s[2], "created_at": s[3]} for s in summaries],
        }
