"""What a recorded MCP tool call looks like: arguments with secrets masked and long values shortened,
and a one-line summary of the result. The record itself is a trace written by the daemon."""

from __future__ import annotations

import json
import re
from typing import Any

from mcp_types import CallToolResult, TextContent

MASK = "***"
MAX_VALUE_CHARS = 200
SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password|passwd|authorization|credential|cookie)", re.I)
SECRET_VALUE = re.compile(
    r"(sk-[A-Za-z0-9_\-]{16,}|sk-ant-[A-Za-z0-9_\-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|AKIA[0-9A-Z]{16}|xox[abpr]-[A-Za-z0-9\-]{10,}|eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]+"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)


def mask_value(value: Any, key: str = "") -> Any:
    """Mask secrets (by key name or by shape) and shorten long strings, recursively."""
    if key and SECRET_KEY.search(key):
        return MASK
    if isinstance(value, str):
        text = SECRET_VALUE.sub(MASK, value)
        if len(text) > MAX_VALUE_CHARS:
            return f"{text[:MAX_VALUE_CHARS]}… ({len(value)} chars)"
        return text
    if isinstance(value, dict):
        return {str(k): mask_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v) for v in value[:50]] + ([f"… ({len(value)} items)"] if len(value) > 50 else [])
    return value


def mask_args(args: dict[str, Any]) -> dict[str, Any]:
    masked = mask_value(args)
    assert isinstance(masked, dict)
    return masked


def summarize(result: CallToolResult) -> str:
    """A short description of a tool result for the trace (keys of the structured output, or text)."""
    if result.structured_content is not None:
        data = result.structured_content
        parts = []
        for k, v in list(data.items())[:8]:
            if isinstance(v, (list, dict)):
                parts.append(f"{k}: {len(v)} {'items' if isinstance(v, list) else 'keys'}")
            elif isinstance(v, str) and len(v) > 60:
                parts.append(f"{k}: {len(v)} chars")
            else:
                parts.append(f"{k}={json.dumps(v, default=str)[:60]}")
        return "; ".join(parts)[:500]
    texts = [c.text for c in result.content if isinstance(c, TextContent)]
    return (" ".join(texts))[:500]
