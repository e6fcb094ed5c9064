"""The real daemon's keyed TCP listener with the official sync ``openai`` SDK: a created key completes and
streams a chat through a fake upstream, no key is 401, a viewer key cannot call models."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from mcpgw.paths import Paths
from tests.fakes.upstreams import FakeOpenAI
from tests.test_openai_api import UPSTREAM_KEY, write_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tcp_daemon(cli: Any, paths: Paths) -> Iterator[tuple[str, Any, FakeOpenAI]]:
    """A daemon listening on 127.0.0.1:PORT, routing to a fake OpenAI upstream."""
    with FakeOpenAI(api_key=UPSTREAM_KEY) as fake:
        write_config(paths, fake.base_url)
        port = free_port()
        started = cli("daemon", "start", "--tcp", f"127.0.0.1:{port}")
        assert started.returncode == 0, started.stderr
        try:
            yield f"http://127.0.0.1:{port}/v1", cli, fake  # type: ignore[misc]
        finally:
            cli("daemon", "stop")


def create_key(cli: Any, role: str) -> str:
    made = cli("keys", "create", "--role", role, "--json")
    assert made.returncode == 0, made.stderr
    key: str = json.loads(made.stdout)["key"]
    return key


def test_sdk_over_tcp_with_a_key(tcp_daemon: tuple[str, Any, FakeOpenAI]) -> None:
    base_url, cli, fake = tcp_daemon
    sdk = openai.OpenAI(base_url=base_url, api_key=create_key(cli, "developer"), max_retries=0)

    fake.reply("Hello over TCP.")
    raw = sdk.chat.completions.with_raw_response.create(
        model="mcpgw/auto", messages=[{"role": "user", "content": "hello?"}]
    )
    assert raw.parse().choices[0].message.content == "Hello over TCP."
    assert raw.headers["x-mcpgw-trace-id"] and raw.headers["x-mcpgw-layer"] == "L0"
    assert raw.headers["x-mcpgw-version"]

    fake.reply("streamed over tcp")
    stream = sdk.chat.completions.create(
        model="mcpgw/auto",
        messages=[{"role": "user", "content": "stream please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed over tcp"
    assert chunks[-1].usage is not None

    ids = [m.id for m in sdk.models.list()]
    assert "mcpgw/auto" in ids and "fake/gpt-4o-mini" in ids


def test_tcp_refuses_missing_wrong_and_low_keys(tcp_daemon: tuple[str, Any, FakeOpenAI]) -> None:
    base_url, cli, fake = tcp_daemon
    messages: Any = [{"role": "user", "content": "x"}]
    with httpx.Client() as http:
        bare = http.post(f"{base_url}/chat/completions", json={"model": "mcpgw/auto", "messages": messages})
    assert bare.status_code == 401
    assert bare.json()["error"]["code"] == "missing_api_key"

    wrong = openai.OpenAI(base_url=base_url, api_key="mcpgw_" + "x" * 43, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="mcpgw/auto", messages=messages)

    viewer = openai.OpenAI(base_url=base_url, api_key=create_key(cli, "viewer"), max_retries=0)
    assert "mcpgw/L0" in [m.id for m in viewer.models.list()]
    with pytest.raises(openai.PermissionDeniedError) as denied:
        viewer.chat.completions.create(model="mcpgw/auto", messages=messages)
    assert "developer" in denied.value.message
    assert fake.requests == []  # nothing refused ever reached the upstream
