"""LLM provider adapters. The interface lives in :mod:`mcpgw.providers.base`; adapters in
``openai_compat``, ``anthropic`` and ``ollama``; :mod:`~mcpgw.providers.registry` builds them from
settings and resolves model refs; :mod:`~mcpgw.providers.health` tracks cooldowns.

Only the light-weight interface types are re-exported here, so that importing settings (the config
loader does) does not import the adapters.
"""

from mcpgw.providers.base import (
    ChatResult,
    Provider,
    ProviderError,
    ProviderHealth,
    ProviderKind,
    ProviderSettings,
    StreamAccumulator,
    StreamChunk,
    settings_from_env,
)

__all__ = [
    "ChatResult",
    "Provider",
    "ProviderError",
    "ProviderHealth",
    "ProviderKind",
    "ProviderSettings",
    "StreamAccumulator",
    "StreamChunk",
    "settings_from_env",
]
