"""The configured providers, by name, and the rule that maps a model reference to one of them.

Resolution of a ref like ``"openrouter/meta-llama/llama-3.3-70b-instruct:free"``:

1. ``X/rest`` where ``X`` is a configured, enabled provider name → that provider, model ``rest``;
2. otherwise, if a provider of kind ``openrouter`` is configured → it, with the whole ref as the
   model (OpenRouter ids look like ``openai/gpt-4o``);
3. otherwise, if the ref's vendor prefix names a configured direct kind (``openai/…`` → the openai
   provider, ``anthropic/…`` → the anthropic one, ``ollama/…`` → ollama) → it, prefix stripped;
4. otherwise ``None``: the router skips the candidate.

Anthropic short names (``claude-3-haiku``) become dated ids (``claude-3-haiku-20240307``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mcpgw.errors import ConfigError
from mcpgw.providers.anthropic import AnthropicProvider, resolve_alias
from mcpgw.providers.base import Provider, ProviderHealth, ProviderSettings
from mcpgw.providers.ollama import OllamaProvider
from mcpgw.providers.openai_compat import OpenAICompatProvider


@dataclass(frozen=True, slots=True)
class Resolved:
    """A model ref resolved to the provider that serves it and the name the upstream knows."""

    provider: Provider
    model: str

    @property
    def ref(self) -> str:
        return f"{self.provider.name}/{self.model}"


def make_provider(settings: ProviderSettings) -> Provider:
    """The adapter for ``settings.kind``."""
    if settings.kind == "anthropic":
        return AnthropicProvider(settings)
    if settings.kind == "ollama":
        return OllamaProvider(settings)
    return OpenAICompatProvider(settings)


class ProviderRegistry:
    """Adapters for the enabled providers, built once; shared by every request; closed at shutdown."""

    def __init__(self, settings: Iterable[ProviderSettings]) -> None:
        self._providers: dict[str, Provider] = {}
        for item in settings:
            if not item.enabled:
                continue
            if item.name in self._providers:
                raise ConfigError(
                    f"provider '{item.name}' is configured twice",
                    fix="give each [[providers]] entry a unique name",
                )
            self._providers[item.name] = make_provider(item)
        self._by_kind: dict[str, Provider] = {}
        for provider in self._providers.values():
            self._by_kind.setdefault(provider.kind, provider)
        self._cache: dict[str, Resolved | None] = {}

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers.values())

    def __len__(self) -> int:
        return len(self._providers)

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def names(self) -> list[str]:
        return list(self._providers)

    def get(self, name: str) -> Provider | None:
        return self._providers.get(name)

    def resolve(self, ref: str) -> Resolved | None:
        """Map a model ref to (provider, upstream model) by the rule in the module docstring."""
        try:
            return self._cache[ref]
        except KeyError:
            pass
        resolved = self._resolve(ref)
        if len(self._cache) < 4096:  # refs come from requests: bound the memo
            self._cache[ref] = resolved
        return resolved

    def _resolve(self, ref: str) -> Resolved | None:
        head, sep, rest = ref.partition("/")
        if not sep or not head or not rest:
            return None
        named = self._providers.get(head)
        if named is not None:
            return Resolved(named, self._upstream_name(named, rest))
        openrouter = self._by_kind.get("openrouter")
        if openrouter is not None:
            return Resolved(openrouter, ref)
        direct = self._by_kind.get(head)
        if direct is not None and head in ("openai", "anthropic", "ollama"):
            return Resolved(direct, self._upstream_name(direct, rest))
        return None

    async def expand(self, ref: str) -> list[Resolved]:
        """Resolve a ref, expanding ``name/*`` to every model the provider serves (its configured
        ``models``, else its live model list). Unresolvable refs give ``[]``; upstream trouble while
        listing raises :class:`~mcpgw.providers.base.ProviderError`."""
        head, _, rest = ref.partition("/")
        provider = self._providers.get(head)
        if rest != "*" or provider is None:
            resolved = self.resolve(ref)
            return [resolved] if resolved is not None else []
        models = list(provider.settings.models) or await provider.list_models()
        return [Resolved(provider, model) for model in models]

    @staticmethod
    def _upstream_name(provider: Provider, model: str) -> str:
        return resolve_alias(model) if provider.kind == "anthropic" else model

    async def health(self) -> list[ProviderHealth]:
        """Probe every provider concurrently."""
        return list(await asyncio.gather(*(p.health() for p in self._providers.values())))

    async def aclose(self) -> None:
        await asyncio.gather(*(p.aclose() for p in self._providers.values()))

    def describe(self) -> list[dict[str, Any]]:
        """Configured providers without secrets (for ``/health`` and ``config show``)."""
        return [
            {
                "name": p.name,
                "kind": p.kind,
                "base_url": p.settings.base_url,
                "has_key": p.settings.api_key is not None,
                "models": list(p.settings.models),
            }
            for p in self._providers.values()
        ]
