"""OpenAI-compatible adapter against the fake OpenAI server: wire format, retries, failures."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from mcpgw.errors import UpstreamError
from mcpgw.providers.base import ProviderError, ProviderSettings, StreamAccumulator
from mcpgw.providers.openai_compat import OpenAICompatProvider
from tests.fakes import FakeOpenAI

KEY = "sk-test-secret-123456"
BODY = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def fake(server: FakeOpenAI) -> FakeOpenAI:
    server.reset()
    return server


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(fake: FakeOpenAI, sleeps: Sleeps | None = None, **kw: object) -> OpenAICompatProvider:
    settings = ProviderSettings(name="openai", kind="openai", base_url=fake.base_url, api_key=SecretStr(KEY), **kw)
    return OpenAICompatProvider(settings, sleep=sleeps if sleeps is not None else Sleeps())


async def test_chat_passes_body_through_and_maps_usage(fake: FakeOpenAI) -> None:
    fake.reply("Hello!", prompt_tokens=11, completion_tokens=3)
    provider = make(fake)
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    body = {**BODY, "tools": tools, "tool_choice": "auto", "response_format": {"type": "json_object"}, "seed": 7}
    result = await provider.chat("gpt-4o-mini", body)
    await provider.aclose()
    sent = fake.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "gpt-4o-mini" and sent.body["stream"] is False
    assert sent.body["tools"] == tools and sent.body["response_format"] == {"type": "json_object"}
    assert sent.body["seed"] == 7 and "stream_options" not in sent.body
    assert (result.text, result.finish_reason, result.provider) == ("Hello!", "stop", "openai")
    assert (result.input_tokens, result.output_tokens, result.usage_reported) == (11, 3, True)
    assert result.response["usage"]["total_tokens"] == 14
    assert result.response["choices"][0]["message"]["content"] == "Hello!"


async def test_chat_without_usage_is_estimated(fake: FakeOpenAI) -> None:
    fake.reply("x" * 40, usage=False)
    provider = make(fake)
    result = await provider.chat("gpt-4o-mini", BODY)
    await provider.aclose()
    assert result.usage_reported is False
    assert result.output_tokens == 10
    assert result.input_tokens > 0
    assert result.response["usage"]["completion_tokens"] == 10


async def test_chat_tool_calls(fake: FakeOpenAI) -> None:
    fake.reply("", tool_calls=[{"name": "lookup", "arguments": {"q": "weather"}, "id": "call_1"}])
    provider = make(fake)
    result = await provider.chat("gpt-4o", BODY)
    await provider.aclose()
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls == [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"weather"}'}}
    ]
    assert result.response["choices"][0]["message"]["content"] is None


async def test_stream_forwards_upstream_bytes_and_accumulates(fake: FakeOpenAI) -> None:
    fake.reply("one two three", tool_calls=[{"name": "f", "arguments": {"a": 1}}])
    provider = make(fake)
    acc = StreamAccumulator("openai", "gpt-4o")
    raws = []
    async for item in provider.stream_chunks("gpt-4o", BODY):
        raws.append(item.raw)
        acc.add(item.chunk)
    await provider.aclose()
    sent = fake.requests[-1].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    # the raw bytes are exactly the upstream's event payloads, not a re-encoding
    assert raws[1] == b'{"id"' + raws[1][5:] and b'"system_fingerprint":"fp_fake"' in raws[1]
    result = acc.result(BODY["messages"])
    assert result.text == "one two three"
    assert result.tool_calls[0]["function"] == {"name": "f", "arguments": '{"a":1}'}
    assert result.finish_reason == "tool_calls"
    assert result.usage_reported and result.input_tokens == fake.prompt_tokens(sent)


async def test_stream_usage_chunk_is_marked(fake: FakeOpenAI) -> None:
    provider = make(fake)
    items = [c async for c in provider.stream_chunks("gpt-4o", BODY)]
    await provider.aclose()
    assert items[-1].is_usage and not any(c.is_usage for c in items[:-1])


async def test_429_retry_after_is_honoured_then_succeeds(fake: FakeOpenAI) -> None:
    fake.fail_next(429, retry_after=3)
    fake.fail_next(503)
    fake.reply("finally")
    sleeps = Sleeps()
    provider = make(fake, sleeps)
    result = await provider.chat("gpt-4o", BODY)
    await provider.aclose()
    assert result.text == "finally"
    assert len(fake.requests) == 3
    assert sleeps[0] == 3.0
    assert 0 <= sleeps[1] <= 1.0  # full jitter on attempt 1: U(0, 0.5·2)


async def test_retries_exhausted_raise_retryable_error(fake: FakeOpenAI) -> None:
    fake.fail_next(500, message="boom", times=5)
    sleeps = Sleeps()
    provider = make(fake, sleeps, max_retries=2)
    with pytest.raises(ProviderError) as info:
        await provider.chat("gpt-4o", BODY)
    await provider.aclose()
    err = info.value
    assert isinstance(err, UpstreamError) and err.status == 502
    assert (err.provider, err.upstream_status, err.retryable, err.reason) == ("openai", 500, True, "http")
    assert "openai" in str(err) and "boom" in str(err)
    assert len(fake.requests) == 3 and len(sleeps) == 2


async def test_long_retry_after_is_not_waited_for(fake: FakeOpenAI) -> None:
    fake.fail_next(429, retry_after=120)
    sleeps = Sleeps()
    provider = make(fake, sleeps)
    with pytest.raises(ProviderError) as info:
        await provider.chat("gpt-4o", BODY)
    await provider.aclose()
    assert info.value.retry_after == 120 and sleeps == [] and len(fake.requests) == 1


async def test_client_errors_are_not_retried_and_key_never_leaks(fake: FakeOpenAI) -> None:
    settings = ProviderSettings(name="openai", kind="openai", base_url=fake.base_url, api_key=SecretStr("sk-wrong-key"))
    provider = OpenAICompatProvider(settings, sleep=Sleeps())
    with pytest.raises(ProviderError) as info:
        await provider.chat("gpt-4o", BODY)
    await provider.aclose()
    err = info.value
    assert err.upstream_status == 401 and not err.retryable
    assert "sk-wrong-key" not in str(err) and "sk-wrong-key" not in repr(err.details)
    assert err.fix is not None and "OPENAI_API_KEY" in err.fix
    assert len(fake.requests) == 1


async def test_upstream_error_echoing_the_key_is_redacted(fake: FakeOpenAI) -> None:
    fake.fail_next(400, message=f"bad key {KEY} given")
    provider = make(fake)
    with pytest.raises(ProviderError) as info:
        await provider.chat("gpt-4o", BODY)
    await provider.aclose()
    assert KEY not in str(info.value) and "***" in str(info.value)


async def test_read_timeout_is_a_clear_upstream_error(fake: FakeOpenAI) -> None:
    fake.hang_next(3)
    provider = make(fake, timeout_s=0.2, max_retries=0)
    with pytest.raises(ProviderError) as info:
        await provider.chat("gpt-4o", BODY)
    await provider.aclose()
    assert info.value.reason == "timeout" and info.value.retryable
    assert "timed out" in str(info.value) and "0.2s" in str(info.value)


async def test_stream_stall_mid_stream_times_out(fake: FakeOpenAI) -> None:
    fake.hang_next(3, mid_stream=True)
    provider = make(fake, timeout_s=0.2, max_retries=0)
    got = []
    with pytest.raises(ProviderError) as info:
        async for item in provider.stream_chunks("gpt-4o", BODY):
            got.append(item)
    await provider.aclose()
    assert got and info.value.reason == "timeout"


async def test_malformed_json_names_the_provider(fake: FakeOpenAI) -> None:
    fake.malformed_next()
    provider = make(fake)
    with pytest.raises(ProviderError) as info:
        await provider.chat("gpt-4o", BODY)
    assert info.value.reason == "malformed" and str(info.value).startswith("openai: ")
    # the provider stays usable afterwards
    assert (await provider.chat("gpt-4o", BODY)).text
    await provider.aclose()


async def test_malformed_stream_event(fake: FakeOpenAI) -> None:
    fake.malformed_next()
    provider = make(fake)
    with pytest.raises(ProviderError) as info:
        async for _ in provider.stream_chunks("gpt-4o", BODY):
            pass
    await provider.aclose()
    assert info.value.reason == "malformed"


async def test_truncated_stream(fake: FakeOpenAI) -> None:
    fake.truncate_stream_next()
    provider = make(fake)
    with pytest.raises(ProviderError) as info:
        async for _ in provider.stream_chunks("gpt-4o", BODY):
            pass
    await provider.aclose()
    assert info.value.reason == "truncated" and info.value.retryable


async def test_stream_retries_before_first_byte(fake: FakeOpenAI) -> None:
    fake.fail_next(502)
    fake.reply("after retry")
    provider = make(fake)
    acc = StreamAccumulator("openai", "gpt-4o")
    async for item in provider.stream_chunks("gpt-4o", BODY):
        acc.add(item.chunk)
    await provider.aclose()
    assert acc.text == "after retry" and len(fake.requests) == 2


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = ProviderSettings(name="local", kind="openai_compat", base_url=f"http://127.0.0.1:{port}/v1")
    provider = OpenAICompatProvider(settings, sleep=Sleeps())
    with pytest.raises(ProviderError) as info:
        await provider.chat("m", BODY)
    health = await provider.health()
    await provider.aclose()
    assert info.value.reason == "connect" and "local" in str(info.value)
    assert health.ok is False and health.error and "cannot connect" in health.error


async def test_models_and_health(fake: FakeOpenAI) -> None:
    provider = make(fake)
    assert await provider.list_models() == ["gpt-4o-mini", "gpt-4o"]
    health = await provider.health()
    await provider.aclose()
    assert health.ok and health.models == 2 and health.error is None


async def test_openrouter_sends_attribution_headers(fake: FakeOpenAI) -> None:
    settings = ProviderSettings(
        name="openrouter",
        kind="openrouter",
        base_url=fake.base_url,
        api_key=SecretStr(KEY),
        headers={"X-Title": "mine"},
    )
    provider = OpenAICompatProvider(settings)
    await provider.chat("meta-llama/llama-3.3-70b-instruct:free", BODY)
    await provider.aclose()
    headers = fake.requests[-1].headers
    assert headers["http-referer"].startswith("https://") and headers["x-title"] == "mine"
    assert fake.requests[-1].body["model"] == "meta-llama/llama-3.3-70b-instruct:free"


async def test_concurrent_streams_share_one_pool(fake: FakeOpenAI) -> None:
    import asyncio

    provider = make(fake)

    async def one() -> str:
        acc = StreamAccumulator("openai", "gpt-4o")
        async for item in provider.stream_chunks("gpt-4o", BODY):
            acc.add(item.chunk)
        return acc.text

    texts = await asyncio.gather(*(one() for _ in range(32)))
    await provider.aclose()
    assert set(texts) == {fake.default_reply.text}


async def test_stream_yields_plain_chunk_dicts(fake: FakeOpenAI) -> None:
    fake.reply("a b")
    provider = make(fake)
    chunks = [c async for c in provider.stream("gpt-4o", BODY)]
    await provider.aclose()
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "a b"


async def _canned_server(answer: Callable[[bytes], bytes]) -> asyncio.Server:
    """A one-route HTTP/1.1 server on loopback answering each request's body with ``answer(body)``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (int(line[15:]) for line in head.split(b"\r\n") if line[:15].lower() == b"content-length:"), 0
                )
                writer.write(answer(await reader.readexactly(length)))
                await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_wrong_json_shapes_are_malformed_errors_not_tracebacks() -> None:
    def answer(body: bytes) -> bytes:
        if b'"stream":true' in body:
            kind, payload = b"text/event-stream", b'data: {"choices": [7]}\n\n'
        else:
            kind, payload = (
                b"application/json",
                b'{"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": "lots"}}',
            )
        return b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s" % (kind, len(payload), payload)

    server = await _canned_server(answer)
    port = server.sockets[0].getsockname()[1]
    settings = ProviderSettings(name="weird", kind="openai_compat", base_url=f"http://127.0.0.1:{port}/v1")
    provider = OpenAICompatProvider(settings)
    with pytest.raises(ProviderError) as one:
        await provider.chat("m", BODY)
    with pytest.raises(ProviderError) as two:
        async for _ in provider.stream_chunks("m", BODY):
            pass
    await provider.aclose()
    server.close()
    assert one.value.reason == two.value.reason == "malformed"
    assert str(one.value).startswith("weird: ")
