"""Anthropic adapter: request translation, and chat/stream against the fake Messages API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from mcpgw.providers.anthropic import AnthropicProvider, to_anthropic
from mcpgw.providers.base import ProviderError, ProviderSettings, StreamAccumulator
from tests.fakes import FakeAnthropic

KEY = "sk-ant-test-987"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=KEY) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def fake(server: FakeAnthropic) -> FakeAnthropic:
    server.reset()
    return server


async def _no_sleep(seconds: float) -> None:
    return None


def make(fake: FakeAnthropic, key: str = KEY, **kw: Any) -> AnthropicProvider:
    settings = ProviderSettings(
        name="anthropic", kind="anthropic", base_url=fake.base_url, api_key=SecretStr(key), **kw
    )
    return AnthropicProvider(settings, sleep=_no_sleep)


CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "And "},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
        ],
    },
]


def test_translation_of_a_tool_conversation() -> None:
    tools = [
        {"type": "function", "function": {"name": "weather", "description": "d", "parameters": {"type": "object"}}}
    ]
    out = to_anthropic(
        "claude-3-haiku-20240307",
        {
            "messages": CONVERSATION,
            "tools": tools,
            "tool_choice": "required",
            "stop": "END",
            "max_tokens": 50,
            "temperature": 0.2,
        },
        stream=False,
    )
    assert out["system"] == "You are terse.\n\nUse tools."
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]
    assert out["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
    ]
    last = out["messages"][2]["content"]
    assert last[0] == {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}
    assert last[2] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}}
    assert out["tools"] == [{"name": "weather", "description": "d", "input_schema": {"type": "object"}}]
    assert out["tool_choice"] == {"type": "any"}
    assert out["stop_sequences"] == ["END"] and out["max_tokens"] == 50 and out["temperature"] == 0.2
    assert "stream" not in out


def test_translation_defaults_and_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        "max_completion_tokens": 77,
    }
    out = to_anthropic("m", body, stream=True)
    assert out["max_tokens"] == 77 and out["stream"] is True
    assert "JSON Schema" in out["system"] and '"integer"' in out["system"]
    assert to_anthropic("m", {"messages": [{"role": "user", "content": "x"}]}, False)["max_tokens"] == 4096


async def test_chat_sends_required_headers_and_maps_back(fake: FakeAnthropic) -> None:
    fake.reply("Sunny.", prompt_tokens=20, completion_tokens=4)
    provider = make(fake)
    result = await provider.chat("claude-3-haiku", {"messages": CONVERSATION[:3]})
    await provider.aclose()
    sent = fake.requests[-1]
    assert sent.headers["x-api-key"] == KEY and sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.body["model"] == "claude-3-haiku-20240307"
    assert (result.text, result.finish_reason) == ("Sunny.", "stop")
    assert (result.input_tokens, result.output_tokens, result.usage_reported) == (20, 4, True)
    assert result.response["object"] == "chat.completion"


async def test_chat_tool_use_and_max_tokens_stop(fake: FakeAnthropic) -> None:
    fake.reply("Let me check.", tool_calls=[{"name": "weather", "arguments": {"city": "Oslo"}, "id": "toolu_9"}])
    fake.reply("cut", finish_reason="max_tokens")
    provider = make(fake)
    first = await provider.chat("claude-3-haiku-20240307", {"messages": [{"role": "user", "content": "hi"}]})
    second = await provider.chat("claude-3-haiku-20240307", {"messages": [{"role": "user", "content": "hi"}]})
    await provider.aclose()
    assert first.finish_reason == "tool_calls" and first.text == "Let me check."
    assert first.tool_calls == [
        {"id": "toolu_9", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}}
    ]
    assert second.finish_reason == "length"


async def test_stream_translates_events_to_openai_chunks(fake: FakeAnthropic) -> None:
    fake.reply(
        "alpha beta",
        tool_calls=[{"name": "weather", "arguments": {"city": "Rome"}}],
        prompt_tokens=30,
        completion_tokens=9,
    )
    provider = make(fake)
    acc = StreamAccumulator("anthropic", "claude-3-haiku-20240307")
    chunks = []
    async for item in provider.stream_chunks(
        "claude-3-haiku-20240307", {"messages": [{"role": "user", "content": "x"}]}
    ):
        chunks.append(item.chunk)
        acc.add(item.chunk)
    await provider.aclose()
    assert fake.requests[-1].body["stream"] is True
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" and c["id"].startswith("msg_fake") for c in chunks)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == {
        "prompt_tokens": 30,
        "completion_tokens": 9,
        "total_tokens": 39,
    }
    result = acc.result()
    assert result.text == "alpha beta" and result.finish_reason == "tool_calls"
    assert result.tool_calls[0]["function"] == {"name": "weather", "arguments": '{"city":"Rome"}'}
    assert (result.input_tokens, result.output_tokens) == (30, 9)


async def test_missing_key_is_rejected_by_the_faithful_fake(fake: FakeAnthropic) -> None:
    provider = make(fake, key="sk-ant-wrong")
    with pytest.raises(ProviderError) as info:
        await provider.chat("m", {"messages": [{"role": "user", "content": "x"}]})
    await provider.aclose()
    assert info.value.upstream_status == 401 and "authentication_error" in str(info.value)
    assert "sk-ant-wrong" not in str(info.value)


async def test_overloaded_is_retried(fake: FakeAnthropic) -> None:
    fake.fail_next(529, message="Overloaded")
    provider = make(fake)
    result = await provider.chat("m", {"messages": [{"role": "user", "content": "x"}]})
    await provider.aclose()
    assert result.text and len(fake.requests) == 2


async def test_truncated_and_malformed_streams(fake: FakeAnthropic) -> None:
    provider = make(fake)
    body = {"messages": [{"role": "user", "content": "x"}]}
    fake.truncate_stream_next()
    with pytest.raises(ProviderError) as truncated:
        async for _ in provider.stream_chunks("m", body):
            pass
    fake.malformed_next()
    with pytest.raises(ProviderError) as malformed:
        async for _ in provider.stream_chunks("m", body):
            pass
    await provider.aclose()
    assert truncated.value.reason == "truncated" and malformed.value.reason == "malformed"
    assert str(malformed.value).startswith("anthropic: ")


async def test_list_models(fake: FakeAnthropic) -> None:
    provider = make(fake)
    models = await provider.list_models()
    await provider.aclose()
    assert models == ["claude-3-haiku-20240307", "claude-3-5-sonnet-20241022"]
