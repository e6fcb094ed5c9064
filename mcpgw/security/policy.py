"""Prompt and output policy (the roadmap's item 11): secrets, blocked keywords, unsafe commands.

``scan`` finds violations in a text under a project's ``security`` policy; ``redact`` replaces the secret
spans. Built-in secret formats come from :mod:`mcpgw.observability.redact` (one list for traces and
prompts); a project adds its own regular expressions in ``security.secretPatterns``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from mcpgw.config import SecurityPolicy
from mcpgw.errors import ConfigError
from mcpgw.observability.redact import secret_spans

ViolationType = Literal["secret_detected", "blocked_keyword", "unsafe_command"]
REDACTED = "[REDACTED]"

# Shell commands that destroy data or run code from the network; flagged in answers.
_UNSAFE = re.compile(
    r"rm\s+-(?:[a-zA-Z]*r[a-zA-Z]*f|[a-zA-Z]*f[a-zA-Z]*r)[a-zA-Z]*\s+(?:--no-preserve-root\s+)?(?:/|~|\$HOME)(?:\s|$|\*)"
    r"|\bmkfs(?:\.\w+)?\s+/dev/"
    r"|\bdd\s+[^\n]*\bof=/dev/(?:sd|nvme|hd|disk)"
    r"|:\(\)\s*\{\s*:\|:&\s*\};:"
    r"|\b(?:curl|wget)\b[^\n|]*\|\s*(?:sudo\s+)?(?:ba|z)?sh\b"
    r"|\bchmod\s+-R\s+777\s+/(?:\s|$)",
)


@dataclass(frozen=True)
class Violation:
    type: ViolationType
    pattern: str
    start: int
    end: int
    severity: Literal["low", "medium", "high"]

    def as_dict(self) -> dict[str, object]:
        return {"type": self.type, "pattern": self.pattern, "position": {"start": self.start, "end": self.end},
                "severity": self.severity}  # fmt: skip


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"security.secretPatterns: {pattern!r} is not a valid regular expression ({exc})",
            fix="fix the pattern in the project policy file (ai-mcp.config.json)",
        ) from exc


def scan(text: str, policy: SecurityPolicy, *, output: bool = False) -> list[Violation]:
    """Every violation in ``text`` (secrets, blocked keywords; unsafe commands too when ``output``)."""
    found = [Violation("secret_detected", "builtin", a, b, "high") for a, b in secret_spans(text)]
    for pattern in policy.secret_patterns:
        found += [Violation("secret_detected", pattern, *m.span(), "high") for m in _compile(pattern).finditer(text)]
    if policy.blocked_keywords:
        lowered = text.lower()
        for keyword in policy.blocked_keywords:
            at = lowered.find(keyword.lower())
            if at >= 0:
                found.append(Violation("blocked_keyword", keyword, at, at + len(keyword), "high"))
    if output:
        found += [Violation("unsafe_command", m.group(0).strip(), *m.span(), "medium") for m in _UNSAFE.finditer(text)]
    return found


def redact(text: str, violations: list[Violation]) -> str:
    """``text`` with every secret span replaced by ``[REDACTED]`` (overlapping spans merged)."""
    spans = sorted((v.start, v.end) for v in violations if v.type == "secret_detected")
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for start, end in spans:
        if start < last:
            start = last
        if start >= end:
            continue
        out.append(text[last:start])
        out.append(REDACTED)
        last = end
    out.append(text[last:])
    return "".join(out)
