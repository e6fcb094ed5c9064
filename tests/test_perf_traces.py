"""The trace write path's fast masking gives exactly what the reference masking gives, and stays in step
with the secret formats the redactor knows."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from mcpgw.observability import redact
from mcpgw.observability.redact import mask_secrets, mask_text, may_hold_secret
from mcpgw.store.traces import mask_for_storage, now_iso

#: One sample per format in redact._SECRET_VALUE, in its order.
SAMPLES = [
    "sk-proj-" + "A1b2C3d4E5f6G7h8J9k0",
    "ghp_" + "abcdefghijklmnopqrstuvwxyz0123",
    "github_pat_" + "11ABCDEFG0123456789_abcdefghij",
    "AKIA" + "ABCDEFGHIJKLMNOP",
    "xoxb-" + "1234567890-abcdefghij",
    "AIza" + "SyA1234567890abcdefghijklmnopqrstuv",
    "BeArEr " + "abcdefghijklmnopqrstuvwx.yz",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
]


def _top_level_alternatives(pattern: re.Pattern[str]) -> int:
    parsed = re._parser.parse(pattern.pattern, pattern.flags)  # type: ignore[attr-defined]
    (_op, (_group, _add, _del, inner)), *_rest = list(parsed)  # one capturing group around the alternation
    (_branch_op, (_none, branches)), *_ = list(inner)
    return len(branches)


def test_every_redactor_format_is_covered_by_the_screen() -> None:
    # If redact gains a format, this count changes: add a sample above and its literal to _SECRET_HINT.
    assert _top_level_alternatives(redact._SECRET_VALUE) == len(SAMPLES)
    for secret in SAMPLES:
        text = f"please use {secret} for the call"
        assert mask_text(text) != text, secret
        assert may_hold_secret(text), secret


@pytest.mark.parametrize(
    "text",
    [
        "",
        "benchmark request 1",
        ("the right length of high thought; " * 150)[:4000],
        "def get_length(self_item):\n    return high_value  # gh_ but not a token\n" * 40,
        "sk-short and AKIA12 and xox- and AIza and bearer",
    ],
)
def test_screened_out_text_is_unchanged_by_the_regex(text: str) -> None:
    if not may_hold_secret(text):
        assert mask_text(text) == text
    assert mask_for_storage(text) == mask_text(text)


def test_mask_for_storage_equals_mask_secrets() -> None:
    payload: dict[str, Any] = {
        "task_type": "chat",
        "prompt": "deploy with " + SAMPLES[0] + " and then " + ("x " * 2000),
        "params": {"max_tokens": 64, "temperature": 0.2, "api_key": "plain", "token": 5, "password": ""},
        "files": ["a.py", SAMPLES[3]],
        "messages": 3,
        "nested": [{"Authorization": "Basic abc"}, ("tuple", SAMPLES[6]), None, 1.5, True],
        "stream": False,
    }
    expected = mask_secrets(payload)
    got = mask_for_storage(payload)
    assert got == expected
    assert SAMPLES[0] not in str(got) and got["params"]["api_key"] == "***" and got["params"]["max_tokens"] == 64


def test_now_iso_is_the_database_format_and_current() -> None:
    stamp = now_iso()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    parsed = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - parsed).total_seconds()) < 5
