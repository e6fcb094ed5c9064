"""Prices from genai-prices, overrides, local/free models, fallback, token estimates."""

from __future__ import annotations

import pytest

from mcpgw import pricing
from mcpgw.pricing import (
    FALLBACK_INPUT_PER_MTOK,
    cost,
    cost_usd,
    estimate_text_tokens,
    estimate_tokens,
    is_local_url,
    max_cost_usd,
    price_for,
)


def test_known_models_use_the_genai_prices_table() -> None:
    price = price_for("openai", "gpt-4o-mini")
    assert price.source == "genai-prices" and not price.estimated
    assert price.input_per_mtok > 0 and price.output_per_mtok > price.input_per_mtok
    assert cost_usd("openai", "gpt-4o-mini", 1_000_000, 0) == pytest.approx(price.input_per_mtok)
    assert price_for("anthropic", "claude-3-haiku-20240307").source == "genai-prices"
    assert price_for("openrouter", "openai/gpt-4o").input_per_mtok > 0


def test_local_and_free_models_cost_nothing() -> None:
    assert cost_usd("ollama", "llama3.2", 10_000, 10_000) == 0.0
    assert cost_usd("openrouter", "meta-llama/llama-3.3-70b-instruct:free", 5_000, 5_000) == 0.0
    assert price_for("lmstudio", "qwen", base_url="http://127.0.0.1:1234/v1").source == "local"
    assert is_local_url("http://localhost:8080/v1") and is_local_url("http://192.168.1.5:8000")
    assert not is_local_url("https://api.openai.com/v1") and not is_local_url(None)


def test_unknown_models_get_the_flagged_fallback_price() -> None:
    result = cost("my-proxy", "totally-unknown-model-xyz", 1_000_000, 0, base_url="https://llm.example.com/v1")
    assert result.price.source == "fallback" and result.estimated
    assert result.usd == FALLBACK_INPUT_PER_MTOK > 0


def test_overrides_win_by_model_or_ref() -> None:
    overrides = {"gpt-4o-mini": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}, "ollama/big": {"input_per_mtok": 0.5}}
    assert cost_usd("openai", "gpt-4o-mini", 1_000_000, 1_000_000, overrides) == 3.0
    assert cost_usd("ollama", "big", 2_000_000, 1, overrides) == 1.0
    assert price_for("openai", "gpt-4o-mini", overrides).source == "override"


def test_unreported_usage_marks_the_cost_estimated() -> None:
    assert cost("openai", "gpt-4o-mini", 10, 10, usage_reported=False).estimated
    assert not cost("openai", "gpt-4o-mini", 10, 10).estimated


def test_token_estimates() -> None:
    assert estimate_text_tokens("") == 0 and estimate_text_tokens("abcde") == 2
    messages = [
        {"role": "system", "content": "x" * 40},
        {"role": "user", "content": [{"type": "text", "text": "y" * 8}]},
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "ab", "arguments": "cd"}}]},
    ]
    assert estimate_tokens(messages) == (40 + 8 + 4 + 3) // 4 + 3 * 4


def test_max_cost_covers_prompt_and_output_cap() -> None:
    messages = [{"role": "user", "content": "z" * 4000}]
    capped = max_cost_usd("openai", "gpt-4o-mini", messages, max_tokens=100)
    default = max_cost_usd("openai", "gpt-4o-mini", messages)
    price = price_for("openai", "gpt-4o-mini")
    assert capped == pytest.approx((1004 * price.input_per_mtok + 100 * price.output_per_mtok) / 1e6)
    assert default > capped
    assert max_cost_usd("ollama", "llama3.2", messages) == 0.0


def test_lookups_are_cached() -> None:
    pricing._table_price.cache_clear()
    price_for("openai", "gpt-4o")
    price_for("openai", "gpt-4o")
    info = pricing._table_price.cache_info()
    assert (info.hits, info.misses) == (1, 1)
