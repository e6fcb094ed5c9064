"""The provider interface the gateway calls: settings, results, stream chunks, errors and ``Provider``.

Every adapter speaks **OpenAI chat.completions** to the gateway, whatever its wire format upstream:

* in: ``body`` is an OpenAI chat.completions request dict (``messages``, ``tools``, ``tool_choice``,
  ``response_format``, ``temperature``, ``max_tokens``/``max_completion_tokens``, ``top_p``, ``stop``, …)
  and ``model`` is the *upstream* model name (the registry strips the provider prefix). ``body["model"]``
  and ``body["stream"]`` are ignored; the adapter sets them.
* out, one shot: :class:`ChatResult` — ``response`` is an OpenAI ``chat.completion`` dict the gateway may
  return verbatim; the typed fields (``text``, ``input_tokens``, …) are for accounting and traces.
* out, streaming: :meth:`Provider.stream` yields OpenAI ``chat.completion.chunk`` dicts;
  :meth:`Provider.stream_chunks` yields :class:`StreamChunk` (the dict plus its JSON bytes, which for the
  OpenAI-compatible adapter are the upstream's bytes, never re-encoded) so the gateway can forward
  ``b"data: " + c.raw + b"\\n\\n"`` and accumulate ``c.chunk`` in a :class:`StreamAccumulator`.
  Adapters always ask the upstream for usage, so the last chunk is usually a usage chunk
  (``choices == []``, ``usage`` set, ``is_usage`` true): forward it only when the client sent
  ``stream_options.include_usage``.
* errors: :class:`ProviderError` (an :class:`mcpgw.errors.UpstreamError`) naming the provider, with
  ``upstream_status`` (HTTP status, or ``None`` for timeouts/connection/garbage), ``retryable``,
  ``retry_after`` and ``reason``. Timeouts, refused connections, malformed JSON and truncated streams
  are ``ProviderError`` too. The API key never appears in a message.
* retries happen inside the adapter (``max_retries``, exponential backoff with full jitter, honouring
  ``Retry-After``); for streams only before the first byte. The router's fallback and cooldown sit on
  top (:mod:`mcpgw.providers.health`).
"""

from __future__ import annotations

import abc
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from mcpgw.errors import ConfigError, UpstreamError

ProviderKind = Literal["openai", "openrouter", "anthropic", "ollama", "openai_compat"]
ErrorReason = Literal["http", "timeout", "connect", "malformed", "truncated", "protocol"]

#: Base URLs used when neither config nor environment give one. OpenAI-style URLs include ``/v1``
#: (the OpenAI SDK convention for ``OPENAI_BASE_URL``); Anthropic's and Ollama's do not.
DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "anthropic": "https://api.anthropic.com",
    "ollama": "http://127.0.0.1:11434",
}
OPENROUTER_REFERER = "https://github.com/mcpgw/mcpgw"
OPENROUTER_TITLE = "mcpgw"


class ProviderSettings(BaseModel):
    """One configured upstream. ``name`` is unique and is the prefix of model refs (``name/model``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: ProviderKind
    base_url: str
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=120.0, gt=0, description="read timeout (per chunk when streaming)")
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    headers: dict[str, str] = Field(default_factory=dict)
    models: list[str] = Field(default_factory=list, description="models served; empty = discover")
    enabled: bool = True

    @classmethod
    def with_defaults(cls, name: str, kind: str, base_url: str | None = None, **fields: Any) -> ProviderSettings:
        """Settings with the kind's default base URL filled in (``openai_compat`` has none: it needs one)."""
        url = base_url or DEFAULT_BASE_URLS.get(kind)
        if url is None:
            raise ConfigError(
                f"provider '{name}' of kind {kind} needs a base_url",
                fix=f'add base_url = "http://127.0.0.1:1234/v1" (your server) under [providers.{name}]',
            )
        return cls(name=name, kind=kind, base_url=url, **fields)

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
        return value


def _ollama_url(host: str) -> str:
    """``OLLAMA_HOST`` may be ``host``, ``host:port``, ``:port`` or a full URL (Ollama accepts all)."""
    host = host.strip().rstrip("/")
    if host.startswith(("http://", "https://")):
        return host
    if host.startswith(":"):
        host = "127.0.0.1" + host
    if host in ("0.0.0.0", "") or host.startswith("0.0.0.0:"):
        host = host.replace("0.0.0.0", "127.0.0.1") or "127.0.0.1"
    if ":" not in host.rsplit("]", 1)[-1]:
        host += ":11434"
    return "http://" + host


def settings_from_env(environ: Mapping[str, str]) -> list[ProviderSettings]:
    """Providers implied by the conventional variables.

    A key variable (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``OPENROUTER_API_KEY``) enables that
    provider; its ``*_BASE_URL`` overrides the endpoint. ``OLLAMA_HOST`` enables Ollama (``host:port``
    or a URL). ``OPENAI_BASE_URL`` without a key still yields an ``openai`` provider, since local
    OpenAI-compatible servers need no key. OpenRouter gets its attribution headers.
    """
    out: list[ProviderSettings] = []

    def env(key: str) -> str | None:
        value = environ.get(key, "").strip()
        return value or None

    openai_key, openai_url = env("OPENAI_API_KEY"), env("OPENAI_BASE_URL")
    if openai_key or openai_url:
        out.append(
            ProviderSettings(
                name="openai",
                kind="openai",
                base_url=openai_url or DEFAULT_BASE_URLS["openai"],
                api_key=SecretStr(openai_key) if openai_key else None,
            )
        )
    anthropic_key = env("ANTHROPIC_API_KEY")
    if anthropic_key:
        out.append(
            ProviderSettings(
                name="anthropic",
                kind="anthropic",
                base_url=env("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URLS["anthropic"],
                api_key=SecretStr(anthropic_key),
            )
        )
    openrouter_key = env("OPENROUTER_API_KEY")
    if openrouter_key:
        out.append(
            ProviderSettings(
                name="openrouter",
                kind="openrouter",
                base_url=env("OPENROUTER_BASE_URL") or DEFAULT_BASE_URLS["openrouter"],
                api_key=SecretStr(openrouter_key),
                headers={"HTTP-Referer": OPENROUTER_REFERER, "X-Title": OPENROUTER_TITLE},
            )
        )
    ollama_host = env("OLLAMA_HOST")
    if ollama_host:
        out.append(ProviderSettings(name="ollama", kind="ollama", base_url=_ollama_url(ollama_host)))
    return out


class ProviderError(UpstreamError):
    """A provider call failed. Always names the provider; never contains the API key.

    ``upstream_status`` is the upstream's HTTP status (``None`` when there was no usable response);
    ``status`` stays 502, the status the gateway answers with. ``retryable`` says whether trying again
    (or the next candidate) can help: 408/409/425/429/5xx, timeouts and connection errors are;
    4xx request errors are not.
    """

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        upstream_status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        reason: ErrorReason = "http",
        fix: str | None = None,
    ) -> None:
        super().__init__(
            f"{provider}: {message}",
            fix=fix,
            provider=provider,
            upstream_status=upstream_status,
            retryable=retryable,
            reason=reason,
        )
        self.provider = provider
        self.upstream_message = message
        self.upstream_status = upstream_status
        self.retryable = retryable
        self.retry_after = retry_after
        self.reason = reason


@dataclass(slots=True)
class ChatResult:
    """One finished completion: the OpenAI-shaped ``response`` plus typed fields for accounting.

    ``input_tokens``/``output_tokens`` are the upstream's counts when ``usage_reported`` is true, and
    estimates (see :func:`mcpgw.pricing.estimate_tokens`) otherwise. ``response["usage"]`` always
    holds the same numbers, so a client sees usage either way.
    """

    response: dict[str, Any]
    provider: str
    model: str
    text: str
    finish_reason: str | None
    tool_calls: list[dict[str, Any]]
    input_tokens: int
    output_tokens: int
    usage_reported: bool


@dataclass(slots=True)
class StreamChunk:
    """One streamed ``chat.completion.chunk``: the parsed dict and its JSON encoding (no ``data:``)."""

    chunk: dict[str, Any]
    raw: bytes

    @property
    def is_usage(self) -> bool:
        """True for the trailing usage-only chunk (``choices`` empty, ``usage`` set)."""
        return not self.chunk.get("choices") and self.chunk.get("usage") is not None

    @classmethod
    def of(cls, chunk: dict[str, Any]) -> StreamChunk:
        return cls(chunk, orjson.dumps(chunk))


@dataclass(slots=True)
class ProviderHealth:
    """Result of :meth:`Provider.health`: a cheap live probe (model list or version endpoint)."""

    provider: str
    kind: str
    ok: bool
    latency_ms: float
    error: str | None = None
    models: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "kind": self.kind,
            "ok": self.ok,
            "latency_ms": round(self.latency_ms, 2),
            "error": self.error,
            "models": self.models,
        }


class Provider(abc.ABC):
    """An upstream LLM API. One instance per configured provider, holding one pooled HTTP client.

    Instances are safe to share across concurrent requests; call :meth:`aclose` once at shutdown.
    """

    name: str
    kind: ProviderKind
    settings: ProviderSettings

    @abc.abstractmethod
    async def chat(self, model: str, body: dict[str, Any]) -> ChatResult:
        """Run one non-streaming completion. Raises :class:`ProviderError`."""

    @abc.abstractmethod
    def stream_chunks(self, model: str, body: dict[str, Any]) -> AsyncIterator[StreamChunk]:
        """Stream a completion as :class:`StreamChunk` items. Raises :class:`ProviderError`, before the
        first chunk (after retries) or mid-stream (timeouts, truncation, garbage: no retry then)."""

    async def stream(self, model: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Stream a completion as OpenAI ``chat.completion.chunk`` dicts."""
        async for item in self.stream_chunks(model, body):
            yield item.chunk

    @abc.abstractmethod
    async def list_models(self) -> list[str]:
        """Model names the upstream serves (live). Raises :class:`ProviderError`."""

    async def health(self) -> ProviderHealth:
        """Probe the upstream with :meth:`list_models`; never raises for upstream trouble."""
        started = time.perf_counter()
        try:
            models = await self.list_models()
        except ProviderError as exc:
            return ProviderHealth(self.name, self.kind, False, (time.perf_counter() - started) * 1000, exc.message)
        return ProviderHealth(self.name, self.kind, True, (time.perf_counter() - started) * 1000, None, len(models))

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the pooled connections."""


@dataclass(slots=True)
class _ToolCallAcc:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class StreamAccumulator:
    """Builds a :class:`ChatResult` from streamed chunk dicts (for traces, cache and accounting).

    ``add`` every chunk as it passes; ``result`` once the stream ended. ``request_messages`` feeds
    the token estimate used when the upstream reported no usage.
    """

    __slots__ = ("_created", "_finish", "_id", "_model", "_parts", "_tools", "_usage", "provider")

    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self._model = model
        self._id = ""
        self._created = 0
        self._parts: list[str] = []
        self._tools: dict[int, _ToolCallAcc] = {}
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None

    def add(self, chunk: Mapping[str, Any]) -> None:
        if not self._id:
            self._id = chunk.get("id") or ""
            self._created = chunk.get("created") or 0
            self._model = chunk.get("model") or self._model
        usage = chunk.get("usage")
        if usage:
            self._usage = usage
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                self._parts.append(content)
            for call in delta.get("tool_calls") or ():
                acc = self._tools.get(call.get("index", 0))
                if acc is None:
                    acc = self._tools[call.get("index", 0)] = _ToolCallAcc()
                if call.get("id"):
                    acc.id = call["id"]
                function = call.get("function") or {}
                if function.get("name"):
                    acc.name = function["name"]
                if function.get("arguments"):
                    acc.arguments.append(function["arguments"])
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def result(self, request_messages: list[dict[str, Any]] | None = None) -> ChatResult:
        text = self.text
        tool_calls = [
            {
                "id": acc.id,
                "type": "function",
                "function": {"name": acc.name, "arguments": "".join(acc.arguments)},
            }
            for _, acc in sorted(self._tools.items())
        ]
        message: dict[str, Any] = {"role": "assistant", "content": text if text or not tool_calls else None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        response: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion",
            "created": self._created or int(time.time()),
            "model": self._model,
            "choices": [{"index": 0, "message": message, "finish_reason": self._finish}],
        }
        return finish_result(response, self.provider, self._model, self._usage, request_messages)


def finish_result(
    response: dict[str, Any],
    provider: str,
    model: str,
    usage: Mapping[str, Any] | None,
    request_messages: list[dict[str, Any]] | None,
) -> ChatResult:
    """Complete an OpenAI-shaped ``response`` with usage (reported or estimated) as a :class:`ChatResult`."""
    from mcpgw.pricing import estimate_text_tokens, estimate_tokens

    choice = response["choices"][0] if response.get("choices") else {}
    message = choice.get("message") or {}
    text = message.get("content") or ""
    if not isinstance(text, str):
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    tool_calls = message.get("tool_calls") or []
    reported = bool(usage) and usage.get("prompt_tokens") is not None  # type: ignore[union-attr]
    if reported:
        assert usage is not None
        input_tokens = int(usage.get("prompt_tokens") or 0)
        output_tokens = int(usage.get("completion_tokens") or 0)
        response["usage"] = dict(usage)
        response["usage"].setdefault("total_tokens", input_tokens + output_tokens)
    else:
        input_tokens = estimate_tokens(request_messages or [])
        args = "".join((c.get("function") or {}).get("arguments") or "" for c in tool_calls)
        output_tokens = estimate_text_tokens(text + args)
        response["usage"] = {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }
    return ChatResult(
        response=response,
        provider=provider,
        model=model,
        text=text,
        finish_reason=choice.get("finish_reason"),
        tool_calls=tool_calls,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        usage_reported=reported,
    )
