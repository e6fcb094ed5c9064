"""Settings from the environment, SSE/NDJSON decoding, Retry-After, cooldowns, registry resolution."""

from __future__ import annotations

import email.utils

import pytest
from pydantic import ValidationError

from mcpgw.errors import ConfigError
from mcpgw.providers._http import backoff_delay, parse_retry_after, upstream_message
from mcpgw.providers.base import ProviderSettings, StreamAccumulator, settings_from_env
from mcpgw.providers.health import ModelHealth
from mcpgw.providers.registry import ProviderRegistry
from mcpgw.providers.sse import NDJSONDecoder, SSEDecoder


def test_settings_from_env_reads_conventional_variables() -> None:
    found = settings_from_env(
        {
            "OPENAI_API_KEY": "sk-o",
            "ANTHROPIC_API_KEY": "sk-a",
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9999/",
            "OPENROUTER_API_KEY": "sk-r",
            "OLLAMA_HOST": "127.0.0.1:11500",
        }
    )
    by_name = {s.name: s for s in found}
    assert set(by_name) == {"openai", "anthropic", "openrouter", "ollama"}
    assert by_name["openai"].base_url == "https://api.openai.com/v1"
    assert by_name["openai"].api_key is not None and by_name["openai"].api_key.get_secret_value() == "sk-o"
    assert by_name["anthropic"].base_url == "http://127.0.0.1:9999"
    assert by_name["openrouter"].headers.keys() == {"HTTP-Referer", "X-Title"}
    assert by_name["ollama"].base_url == "http://127.0.0.1:11500" and by_name["ollama"].api_key is None
    assert "sk-o" not in repr(by_name["openai"])


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("localhost", "http://localhost:11434"),
        (":1234", "http://127.0.0.1:1234"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("https://gpu.example:443/", "https://gpu.example:443"),
    ],
)
def test_ollama_host_forms(host: str, url: str) -> None:
    assert settings_from_env({"OLLAMA_HOST": host})[0].base_url == url


def test_empty_environment_and_keyless_base_url() -> None:
    assert settings_from_env({}) == []
    (only,) = settings_from_env({"OPENAI_BASE_URL": "http://127.0.0.1:1234/v1", "ANTHROPIC_API_KEY": " "})
    assert only.name == "openai" and only.api_key is None


def test_settings_reject_bad_values() -> None:
    with pytest.raises(ValidationError):
        ProviderSettings(name="x", kind="openai", base_url="ftp://nope")
    with pytest.raises(ValidationError):
        ProviderSettings(name="x", kind="gemini", base_url="http://a")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ProviderSettings(name="has space", kind="openai", base_url="http://a")


def test_sse_decoder_handles_split_events_crlf_comments_and_multiline() -> None:
    decoder = SSEDecoder()
    stream = b': OPENROUTER PROCESSING\n\nevent: x\r\ndata: {"a":\r\ndata: 1}\r\n\r\ndata:{"b":2}\n\ndata: [DONE]\n\n'
    out: list[bytes] = []
    for i in range(0, len(stream), 3):  # byte-by-few feeding exercises every split point
        out.extend(decoder.feed(stream[i : i + 3]))
    assert out == [b'{"a":\n1}', b'{"b":2}', b"[DONE]"]
    tail = SSEDecoder()
    assert tail.feed(b"data: last") == [] and tail.flush() == [b"last"]


def test_ndjson_decoder() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert decoder.feed(b":2}\n\n") == [b'{"b":2}']
    assert decoder.feed(b'{"c":3}') == [] and decoder.flush() == [b'{"c":3}']


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=1_000_000) == 30.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_is_full_jitter_capped_and_prefers_retry_after() -> None:
    assert backoff_delay(0, None, rng=lambda: 1.0) == 0.5
    assert backoff_delay(3, None, rng=lambda: 0.5) == 2.0
    assert backoff_delay(10, None, rng=lambda: 1.0) == 8.0
    assert backoff_delay(0, None, rng=lambda: 0.0) == 0.0
    assert backoff_delay(0, 4.0) == 4.0 and backoff_delay(0, 999.0) == 20.0


def test_upstream_message_shapes() -> None:
    assert upstream_message(b'{"error": {"message": "slow down", "type": "requests"}}') == "slow down (requests)"
    assert upstream_message(b'{"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}') == (
        "busy (overloaded_error)"
    )
    assert upstream_message(b'{"error": "model not found"}') == "model not found"
    assert upstream_message(b"<html>bad gateway</html>") == "<html>bad gateway</html>"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cooldown_after_consecutive_failures_grows_and_resets() -> None:
    clock = Clock()
    health = ModelHealth(threshold=2, base_s=10, cap_s=25, clock=clock)
    assert health.record_failure("openai", "gpt-4o", error="500") == 0.0
    assert health.available("openai", "gpt-4o")
    assert health.record_failure("openai", "gpt-4o") == 10.0
    assert not health.available("openai", "gpt-4o") and health.available("openai", "gpt-4o-mini")
    clock.now += 10.5
    assert health.available("openai", "gpt-4o")
    assert health.record_failure("openai", "gpt-4o") == 20.0
    clock.now += 21
    assert health.record_failure("openai", "gpt-4o") == 25.0  # capped
    health.record_success("openai", "gpt-4o")
    assert health.available("openai", "gpt-4o") and health.cooldown_remaining("openai", "gpt-4o") == 0.0
    snap = health.snapshot()["models"]["openai/gpt-4o"]
    assert snap["consecutive_failures"] == 0 and snap["failures"] == 4 and snap["successes"] == 1


def test_retry_after_and_provider_wide_cooldown() -> None:
    clock = Clock()
    health = ModelHealth(threshold=3, base_s=5, cap_s=60, clock=clock)
    assert health.record_failure("anthropic", "claude", retry_after=42) == 42.0
    assert not health.available("anthropic", "claude")
    health.record_failure("ollama", "llama3.2", provider_wide=True)
    health.record_failure("ollama", "llama3.2", provider_wide=True)
    health.record_failure("ollama", "llama3.2", provider_wide=True)
    assert not health.available("ollama", "qwen")  # the whole provider is down
    assert health.snapshot()["providers"]["ollama"]["available"] is False
    with pytest.raises(ValueError):
        ModelHealth(threshold=0)


def _registry(*kinds: str) -> ProviderRegistry:
    return ProviderRegistry(ProviderSettings(name=k, kind=k, base_url="http://127.0.0.1:9") for k in kinds)  # type: ignore[arg-type]


async def test_resolution_rules() -> None:
    everything = _registry("openai", "anthropic", "openrouter", "ollama")
    r = everything.resolve("openrouter/meta-llama/llama-3.3-70b-instruct:free")
    assert r is not None and (r.provider.name, r.model) == ("openrouter", "meta-llama/llama-3.3-70b-instruct:free")
    r = everything.resolve("openai/gpt-4o-mini")
    assert r is not None and (r.provider.name, r.model) == ("openai", "gpt-4o-mini")
    r = everything.resolve("anthropic/claude-3-haiku")
    assert r is not None and (r.provider.name, r.model) == ("anthropic", "claude-3-haiku-20240307")
    r = everything.resolve("ollama/llama3.2")
    assert r is not None and r.ref == "ollama/llama3.2"
    r = everything.resolve("meta-llama/llama-3.1-8b")  # unknown prefix → OpenRouter takes the whole ref
    assert r is not None and (r.provider.name, r.model) == ("openrouter", "meta-llama/llama-3.1-8b")
    assert everything.resolve("gpt-4o") is None
    await everything.aclose()

    direct = _registry("anthropic")
    assert direct.resolve("openai/gpt-4o") is None
    assert direct.resolve("mistral/mistral-large") is None
    await direct.aclose()


async def test_vendor_prefix_maps_to_a_differently_named_direct_provider() -> None:
    registry = ProviderRegistry(
        [
            ProviderSettings(name="work-openai", kind="openai", base_url="http://127.0.0.1:9/v1"),
            ProviderSettings(name="lmstudio", kind="openai_compat", base_url="http://127.0.0.1:1234/v1"),
            ProviderSettings(name="off", kind="anthropic", base_url="http://127.0.0.1:9", enabled=False),
        ]
    )
    r = registry.resolve("openai/gpt-4o")
    assert r is not None and (r.provider.name, r.model) == ("work-openai", "gpt-4o")
    r = registry.resolve("lmstudio/qwen2.5-7b-instruct")
    assert r is not None and (r.provider.kind, r.model) == ("openai_compat", "qwen2.5-7b-instruct")
    assert registry.resolve("off/claude-3-haiku") is None and "off" not in registry
    assert [d["has_key"] for d in registry.describe()] == [False, False]
    await registry.aclose()


def test_duplicate_names_are_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        _registry("openai", "openai")
    assert info.value.fix


def test_accumulator_merges_tool_call_deltas_by_index() -> None:
    acc = StreamAccumulator("p", "m")
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 5, "model": "m-up"}
    deltas = [
        {"role": "assistant", "content": ""},
        {"tool_calls": [{"index": 1, "id": "b", "type": "function", "function": {"name": "g", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x"'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]},
    ]
    for delta in deltas:
        acc.add({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    acc.add({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    result = acc.result([{"role": "user", "content": "abcdefgh"}])
    assert [c["function"] for c in result.tool_calls] == [
        {"name": "f", "arguments": '{"x": 1}'},
        {"name": "g", "arguments": "{}"},
    ]
    assert result.model == "m-up" and result.response["id"] == "c1" and result.finish_reason == "tool_calls"
    assert result.response["choices"][0]["message"]["content"] is None
    assert not result.usage_reported and result.input_tokens == 2 + 4  # 8 chars / 4 + framing


def test_with_defaults_fills_the_base_url_or_explains() -> None:
    assert ProviderSettings.with_defaults("or", "openrouter").base_url == "https://openrouter.ai/api/v1"
    assert ProviderSettings.with_defaults("x", "openai", "http://h:1/v1/", max_retries=0).base_url == "http://h:1/v1"
    with pytest.raises(ConfigError) as info:
        ProviderSettings.with_defaults("lmstudio", "openai_compat")
    assert "base_url" in str(info.value) and info.value.fix


async def test_expand_wildcard_lists_live_models() -> None:
    from tests.fakes import FakeOllama

    with FakeOllama(models=["llama3.2:latest", "phi4:latest"]) as fake:
        registry = ProviderRegistry([ProviderSettings(name="ollama", kind="ollama", base_url=fake.base_url)])
        expanded = await registry.expand("ollama/*")
        single = await registry.expand("ollama/llama3.2")
        await registry.aclose()
    assert [r.ref for r in expanded] == ["ollama/llama3.2:latest", "ollama/phi4:latest"]
    assert [r.model for r in single] == ["llama3.2"]
    direct = _registry("anthropic")
    assert await direct.expand("mistral/x") == []
    await direct.aclose()
