"""The aiohttp-based upstream client: proxy selection from the environment, and requests really going
through an HTTP proxy (a loopback proxy that records the absolute-URI request line)."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import pytest

from mcpgw.providers._http import proxy_for
from mcpgw.providers.base import ProviderError, ProviderSettings
from mcpgw.providers.openai_compat import OpenAICompatProvider

BODY = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("https://api.openai.com/v1", {}, None),
        ("https://api.openai.com/v1", {"HTTPS_PROXY": "http://proxy:3128"}, "http://proxy:3128"),
        ("https://api.openai.com/v1", {"https_proxy": "proxy:3128"}, "http://proxy:3128"),
        ("http://gpu.lan:8000/v1", {"HTTPS_PROXY": "http://p:1"}, None),
        ("http://gpu.lan:8000/v1", {"ALL_PROXY": "http://p:1"}, "http://p:1"),
        ("https://api.openai.com/v1", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.org,.openai.com"}, None),
        ("https://api.openai.com/v1", {"HTTPS_PROXY": "http://p:1", "no_proxy": "openai.com"}, None),
        ("https://api.openai.com/v1", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, None),
        ("https://api.openai.com/v1", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.openai.com:80"}, "http://p:1"),
        ("https://api.openai.com/v1", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.openai.com:443"}, None),
        ("https://notopenai.com/v1", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "openai.com"}, "http://p:1"),
        ("http://127.0.0.1:11434", {"HTTP_PROXY": "http://p:1"}, None),
        ("http://localhost:1234/v1", {"HTTP_PROXY": "http://p:1"}, None),
        ("http://[::1]:1234/v1", {"HTTP_PROXY": "http://p:1"}, None),
        ("https://api.openai.com/v1", {"HTTPS_PROXY": "socks5://p:1080"}, None),
    ],
)
def test_proxy_for(url: str, env: dict[str, str], expected: str | None) -> None:
    assert proxy_for(url, env) == expected


async def test_requests_go_through_the_proxy() -> None:
    seen: list[bytes] = []
    answer = orjson.dumps(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "via proxy"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                seen.append(head.split(b"\r\n", 1)[0])
                length = next(
                    (int(line[15:]) for line in head.split(b"\r\n") if line[:15].lower() == b"content-length:"), 0
                )
                await reader.readexactly(length)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                    % (len(answer), answer)
                )
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # The upstream host does not resolve: only the proxy can have answered.
    settings = ProviderSettings(name="remote", kind="openai_compat", base_url="http://upstream.invalid:8000/v1")
    provider = OpenAICompatProvider(settings, environ={"HTTP_PROXY": f"http://127.0.0.1:{port}"})
    result = await provider.chat("m", BODY)
    direct = OpenAICompatProvider(settings.model_copy(update={"max_retries": 0}), environ={})
    with pytest.raises(ProviderError) as info:
        await direct.chat("m", BODY)
    await provider.aclose()
    await direct.aclose()
    server.close()
    assert result.text == "via proxy"
    assert seen == [b"POST http://upstream.invalid:8000/v1/chat/completions HTTP/1.1"]
    assert info.value.reason == "connect"
