"""Fake upstream servers (OpenAI, Anthropic, Ollama wire formats) for tests and benchmarks.

Names resolve lazily so ``python -m tests.fakes.upstreams`` runs the module without importing it twice.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "FAKES",
    "FakeAnthropic",
    "FakeOllama",
    "FakeOpenAI",
    "FakeUpstream",
    "Fault",
    "RecordedRequest",
    "Reply",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("tests.fakes.upstreams"), name)
    raise AttributeError(f"module 'tests.fakes' has no attribute {name!r}")
