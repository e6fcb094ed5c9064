"""Cost of an LLM call from its token usage, and token estimates when an upstream reports none.

Prices come from the ``genai-prices`` table bundled with the package (no network), overridable per
model; local models cost $0; lookups are memoised because accounting runs on every request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

#: Characters per token for the estimate: ~4 for English prose and code with common BPE tokenizers.
CHARS_PER_TOKEN = 4
#: Tokens of framing per message (role, separators) in chat formats.
TOKENS_PER_MESSAGE = 4


def estimate_text_tokens(text: str) -> int:
    """Rough token count of ``text``: ``ceil(len / 4)``. Good to ±30 % for English and code."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _content_chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        total = 0
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str):
                    total += len(text)
                elif part.get("type") in ("image_url", "image", "input_image"):
                    total += 85 * CHARS_PER_TOKEN  # a low-detail image costs ~85 tokens at OpenAI
        return total
    return 0


def estimate_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Rough prompt token count of OpenAI-shaped ``messages``: text chars / 4, plus 4 per message
    for framing, plus the arguments of any tool calls. Used for budget reservations and when the
    upstream reports no usage."""
    chars = 0
    count = 0
    for message in messages:
        count += 1
        chars += _content_chars(message.get("content"))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            chars += len(function.get("name") or "") + len(function.get("arguments") or "")
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * count


#: Price assumed for a model no price table knows, per million tokens (USD). Deliberately that of a
#: premium model, so budgets and reservations err on the safe side; results carry ``estimated=True``.
FALLBACK_INPUT_PER_MTOK = 3.0
FALLBACK_OUTPUT_PER_MTOK = 15.0
#: Output tokens assumed by :func:`max_cost_usd` when the request sets no ``max_tokens``.
DEFAULT_MAX_OUTPUT_TOKENS = 4096
#: Provider kinds priced by genai-prices under the same id.
_PRICED_PROVIDERS = frozenset({"openai", "anthropic", "openrouter"})
_LOCAL_HOSTS = ("localhost", "127.", "[::1]", "0.0.0.0", "10.", "192.168.", "host.docker.internal")

PriceSource = Literal["override", "genai-prices", "local", "free", "fallback"]
Overrides = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million input/output tokens and where the figure came from."""

    input_per_mtok: float
    output_per_mtok: float
    source: PriceSource

    @property
    def estimated(self) -> bool:
        """True when no price table knew the model and the fallback price was used."""
        return self.source == "fallback"


@dataclass(frozen=True, slots=True)
class Cost:
    usd: float
    price: Price
    estimated: bool  # fallback price, or tokens estimated because the upstream reported no usage


def is_local_url(base_url: str | None) -> bool:
    """True for loopback and private-network endpoints (LM Studio, vLLM, llama.cpp on this machine)."""
    if not base_url:
        return False
    host = urlsplit(base_url).netloc.rsplit("@", 1)[-1]
    return host.startswith(_LOCAL_HOSTS) or host.split(":")[0].endswith(".local")


def price_for(provider: str, model: str, overrides: Overrides | None = None, *, base_url: str | None = None) -> Price:
    """The price of ``model`` at ``provider`` (a kind or name: openai, anthropic, openrouter, ollama, …).

    Order: a per-model override (keyed ``model`` or ``provider/model``, values ``input_per_mtok`` and
    ``output_per_mtok``) → $0 for Ollama, loopback/private endpoints and OpenRouter ``:free`` models →
    genai-prices → :data:`FALLBACK_INPUT_PER_MTOK`/:data:`FALLBACK_OUTPUT_PER_MTOK` (``estimated``).
    Tiered prices use their base tier (exact below the first threshold, e.g. 200k tokens).
    """
    if overrides:
        entry = overrides.get(f"{provider}/{model}") or overrides.get(model)
        if entry is not None:
            return Price(float(entry.get("input_per_mtok", 0.0)), float(entry.get("output_per_mtok", 0.0)), "override")
    return _table_price(provider, model, base_url)


@functools.lru_cache(maxsize=4096)
def _table_price(provider: str, model: str, base_url: str | None) -> Price:
    if provider == "ollama" or is_local_url(base_url):
        return Price(0.0, 0.0, "local")
    if model.endswith(":free"):
        return Price(0.0, 0.0, "free")
    found = _genai_price(provider, model, base_url)
    if found is not None:
        return found
    return Price(FALLBACK_INPUT_PER_MTOK, FALLBACK_OUTPUT_PER_MTOK, "fallback")


def _genai_price(provider: str, model: str, base_url: str | None) -> Price | None:
    import genai_prices
    from genai_prices.types import TieredPrices

    usage = genai_prices.Usage(input_tokens=1, output_tokens=1)
    lookups: list[Callable[[], Any]] = []
    if provider in _PRICED_PROVIDERS:
        lookups.append(lambda: genai_prices.calc_price(usage, model, provider_id=provider))
    elif base_url:
        lookups.append(lambda: genai_prices.calc_price(usage, model, provider_api_url=base_url))
    lookups.append(lambda: genai_prices.calc_price(usage, model))
    for lookup in lookups:
        try:
            calc = lookup()
        except LookupError:
            continue
        prices = calc.model_price

        def per_mtok(value: Any) -> float:
            if isinstance(value, TieredPrices):
                return float(value.base)
            return float(value or 0)

        return Price(
            per_mtok(getattr(prices, "input_mtok", 0)), per_mtok(getattr(prices, "output_mtok", 0)), "genai-prices"
        )
    return None


def cost(
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    overrides: Overrides | None = None,
    *,
    base_url: str | None = None,
    usage_reported: bool = True,
) -> Cost:
    """Cost of one call with its price and whether any part of it is an estimate."""
    price = price_for(provider, model, overrides, base_url=base_url)
    usd = (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1_000_000
    return Cost(usd, price, price.estimated or not usage_reported)


def cost_usd(
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    overrides: Overrides | None = None,
    *,
    base_url: str | None = None,
) -> float:
    """USD cost of one call from its token counts (see :func:`price_for` for where prices come from)."""
    return cost(provider, model, input_tokens, output_tokens, overrides, base_url=base_url).usd


def max_cost_usd(
    provider: str,
    model: str,
    messages: Iterable[Mapping[str, Any]],
    max_tokens: int | None = None,
    overrides: Overrides | None = None,
    *,
    base_url: str | None = None,
) -> float:
    """Upper estimate for a budget reservation: estimated prompt tokens plus ``max_tokens``
    (or :data:`DEFAULT_MAX_OUTPUT_TOKENS`) of output."""
    output = max_tokens if max_tokens and max_tokens > 0 else DEFAULT_MAX_OUTPUT_TOKENS
    return cost_usd(provider, model, estimate_tokens(messages), output, overrides, base_url=base_url)
