"""Mask secrets in data that is about to be recorded (tool-call arguments, request payloads).

Two rules: a value under a key that names a credential (``api_key``, ``token``, ``password`` …) is replaced
whole, and any string that contains a well-known key format (``sk-…``, ``ghp_…``, ``AKIA…``, ``Bearer …``)
has that part replaced. Masking keeps the shape of the data so a trace still shows which arguments were passed.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

_SECRET_KEY = re.compile(
    r"(?i)(api[_-]?key|apikey|secret|token|password|passwd|passphrase|authorization|auth[_-]?header|"
    r"credential|private[_-]?key|cookie|session[_-]?id|access[_-]?key)"
)
_SECRET_VALUE = re.compile(
    r"(sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}"  # OpenAI / Anthropic
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_\-]{35}"  # Google API key
    r"|(?i:bearer)\s+[A-Za-z0-9._\-+/=]{16,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----)"
)
# Keys that contain a secret-looking word but hold counts, not secrets.
_NOT_SECRET = re.compile(r"(?i)(tokens|token_count|max_tokens|tokens_used|input_tokens|output_tokens)$")


#: Every secret format :func:`mcpgw.observability.redact.mask_text` knows starts with one of these literals
#: (or with "bearer", in any case). A string containing none of them cannot change under ``mask_text``, so
#: the expensive alternation is skipped: 4000 characters of prompt cost ~15 µs here instead of ~60–85 µs.
#: tests/test_perf_traces.py fails when redact gains a format this does not cover.
_SECRET_HINT = re.compile(r"sk-|gh[pousr]_|github_pat_|AKIA|xox[abprs]-|AIza|-----BEGIN")
def may_hold_secret(text: str) -> bool:
    """False only when ``mask_text(text)`` is certainly ``text`` (a cheap screen before the full regex)."""
    return _SECRET_HINT.search(text) is not None or "bearer" in text.lower()


def secret_spans(text: str) -> list[tuple[int, int]]:
    """Where well-known secret formats occur in ``text`` (start, end), cheap when there are none."""
    if not may_hold_secret(text):
        return []
    return [m.span() for m in _SECRET_VALUE.finditer(text)]


def is_secret_key(key: str) -> bool:
    """True when a mapping key names a credential (``OPENAI_API_KEY``, ``password``; not ``max_tokens``)."""
    return bool(_SECRET_KEY.search(key)) and not _NOT_SECRET.search(key)


def mask_text(text: str) -> str:
    """``text`` with every well-known secret format replaced by ``***``."""
    return _SECRET_VALUE.sub(MASK, text)


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` (JSON-like data) with secrets masked; other values are returned unchanged."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        masked: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and is_secret_key(key) and item not in (None, "", [], {}):
                masked[key] = MASK if not isinstance(item, int | float | bool) else item
            else:
                masked[key] = mask_secrets(item)
        return masked
    if isinstance(value, list | tuple):
        return [mask_secrets(item) for item in value]
    return value
