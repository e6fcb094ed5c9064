"""Ollama adapter against the fake Ollama native API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mcpgw.providers.base import ProviderError, ProviderSettings, StreamAccumulator
from mcpgw.providers.ollama import OllamaProvider, to_ollama
from tests.fakes import FakeOllama

BODY = {"messages": [{"role": "system", "content": "Short."}, {"role": "user", "content": "Hello"}]}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def fake(server: FakeOllama) -> FakeOllama:
    server.reset()
    return server


async def _no_sleep(seconds: float) -> None:
    return None


def make(fake: FakeOllama) -> OllamaProvider:
    return OllamaProvider(ProviderSettings(name="ollama", kind="ollama", base_url=fake.base_url), sleep=_no_sleep)


def test_translation_options_format_and_tool_history() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}],
            },
            {"role": "tool", "tool_call_id": "c", "content": "42"},
        ],
        "temperature": 0.1,
        "max_tokens": 64,
        "stop": ["\n\n"],
        "response_format": {"type": "json_object"},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    }
    out = to_ollama("llama3.2", body, stream=False)
    assert out["options"] == {"temperature": 0.1, "num_predict": 64, "stop": ["\n\n"]}
    assert out["format"] == "json" and out["stream"] is False and out["tools"] == body["tools"]
    assert out["messages"][1]["tool_calls"] == [{"function": {"name": "f", "arguments": {"a": 1}}}]
    assert out["messages"][2] == {"role": "tool", "content": "42"}


async def test_chat(fake: FakeOllama) -> None:
    fake.reply("Hi!", prompt_tokens=12, completion_tokens=2)
    provider = make(fake)
    result = await provider.chat("llama3.2", BODY)
    await provider.aclose()
    sent = fake.requests[-1]
    assert sent.path == "/api/chat" and sent.body["stream"] is False and "authorization" not in sent.headers
    assert sent.body["messages"][0] == {"role": "system", "content": "Short."}
    assert (result.text, result.finish_reason, result.input_tokens, result.output_tokens) == ("Hi!", "stop", 12, 2)
    assert result.usage_reported


async def test_stream_with_tool_call(fake: FakeOllama) -> None:
    fake.reply("thinking", tool_calls=[{"name": "f", "arguments": {"x": "y"}}], prompt_tokens=5, completion_tokens=7)
    provider = make(fake)
    acc = StreamAccumulator("ollama", "llama3.2")
    chunks = []
    async for item in provider.stream_chunks("llama3.2", BODY):
        chunks.append(item)
        acc.add(item.chunk)
    await provider.aclose()
    assert fake.requests[-1].body["stream"] is True
    assert chunks[-1].is_usage and chunks[-1].chunk["usage"]["total_tokens"] == 12
    result = acc.result()
    assert result.text == "thinking" and result.finish_reason == "tool_calls"
    assert result.tool_calls[0]["function"] == {"name": "f", "arguments": '{"x":"y"}'}
    assert result.tool_calls[0]["id"]


async def test_unknown_model_is_not_retried(fake: FakeOllama) -> None:
    provider = make(fake)
    with pytest.raises(ProviderError) as info:
        await provider.chat("nope", BODY)
    await provider.aclose()
    assert info.value.upstream_status == 404 and not info.value.retryable
    assert "not found" in str(info.value) and len(fake.requests) == 1


async def test_truncated_and_malformed(fake: FakeOllama) -> None:
    provider = make(fake)
    fake.truncate_stream_next()
    with pytest.raises(ProviderError) as truncated:
        async for _ in provider.stream_chunks("llama3.2", BODY):
            pass
    fake.malformed_next()
    with pytest.raises(ProviderError) as malformed:
        await provider.chat("llama3.2", BODY)
    await provider.aclose()
    assert truncated.value.reason == "truncated" and malformed.value.reason == "malformed"


async def test_models_and_health(fake: FakeOllama) -> None:
    provider = make(fake)
    assert await provider.list_models() == ["llama3.2:latest", "qwen2.5-coder:7b"]
    fake.fail_next(500, endpoint="models", times=3)
    health = await provider.health()
    await provider.aclose()
    assert not health.ok and health.error and "HTTP 500" in health.error
