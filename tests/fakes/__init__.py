"""Fake upstream servers (OpenAI, Anthropic, Ollama wire formats) for tests and benchmarks."""

from tests.fakes.upstreams import (
    FAKES,
    FakeAnthropic,
    FakeOllama,
    FakeOpenAI,
    FakeUpstream,
    Fault,
    RecordedRequest,
    Reply,
)

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
