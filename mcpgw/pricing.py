"""Cost of an LLM call from its token usage, and token estimates when an upstream reports none."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Characters per token for the estimate: ~4 for English prose and code with common BPE tokenizers.
CHARS_PER_TOKEN = 4
#: Tokens of framing per message (role, separators) in chat formats.
TOKENS_PER_MESSAGE = 4


def estimate_text_tokens(text: str) -> int:
    """Rough token count of ``text``: ``ceil(len / 4)``. Good to ±30 % for English and code."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _content_chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        total = 0
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str):
                    total += len(text)
                elif part.get("type") in ("image_url", "image", "input_image"):
                    total += 85 * CHARS_PER_TOKEN  # a low-detail image costs ~85 tokens at OpenAI
        return total
    return 0


def estimate_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Rough prompt token count of OpenAI-shaped ``messages``: text chars / 4, plus 4 per message
    for framing, plus the arguments of any tool calls. Used for budget reservations and when the
    upstream reports no usage."""
    chars = 0
    count = 0
    for message in messages:
        count += 1
        chars += _content_chars(message.get("content"))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            chars += len(function.get("name") or "") + len(function.get("arguments") or "")
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * count
