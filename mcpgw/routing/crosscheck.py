"""Cross-check: a second model reviews the answer; on conflict an arbitrator decides.

The reviewer answers with a first line ``VERDICT: AGREE`` or ``VERDICT: DISAGREE``; the arbitrator with
``FINAL: PRIMARY`` (keep the first answer) or ``FINAL: REVISED`` followed by the corrected answer.
A reviewer that follows neither form counts as agreeing (no evidence of a conflict)."""

from __future__ import annotations

import re
from typing import Any

REVIEW_SYSTEM = (
    "You review another assistant's answer for correctness. Start your reply with exactly one line, "
    "'VERDICT: AGREE' if the answer is correct and complete, or 'VERDICT: DISAGREE' if it has a real error; "
    "then explain briefly."
)
ARBITER_SYSTEM = (
    "Two assistants disagree. Decide who is right. Start your reply with exactly one line: 'FINAL: PRIMARY' to "
    "keep the first answer as it is, or 'FINAL: REVISED' followed by the full corrected answer."
)
_VERDICT = re.compile(r"^\s*\**\s*VERDICT\s*:\s*(AGREE|DISAGREE)", re.IGNORECASE | re.MULTILINE)
_FINAL = re.compile(r"^\s*\**\s*FINAL\s*:\s*(PRIMARY|REVISED)\s*\**\s*\n?", re.IGNORECASE | re.MULTILINE)


def question_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def review_messages(messages: list[dict[str, Any]], answer: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": REVIEW_SYSTEM},
        {"role": "user", "content": f"Question:\n{question_text(messages)}\n\nAnswer to review:\n{answer}"},
    ]


def parse_verdict(review: str) -> str:
    match = _VERDICT.search(review)
    return "conflict" if match and match.group(1).upper() == "DISAGREE" else "agree"


def arbiter_messages(messages: list[dict[str, Any]], answer: str, review: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": ARBITER_SYSTEM},
        {
            "role": "user",
            "content": (
                f"Question:\n{question_text(messages)}\n\nFirst answer:\n{answer}\n\n"
                f"Reviewer's objection:\n{review}"
            ),
        },
    ]


def parse_decision(text: str, primary: str) -> tuple[str, str]:
    """("primary"|"revised", final answer)."""
    match = _FINAL.search(text)
    if match and match.group(1).upper() == "REVISED":
        revised = text[match.end() :].strip()
        return ("revised", revised) if revised else ("primary", primary)
    return "primary", primary
