"""Shared HTTP machinery for adapters: one pooled client, retries with backoff, error mapping."""

from __future__ import annotations

import abc
import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import orjson

from mcpgw.providers.base import ChatResult, Provider, ProviderError, ProviderSettings

log = logging.getLogger("mcpgw.providers")

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
#: A ``Retry-After`` longer than this is not waited for inside the adapter: the error is raised at
#: once (with ``retry_after`` set) so the router can cool the model down and fall back instead.
RETRY_AFTER_CAP_S = 20.0
_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
}

Sleep = Callable[[float], Awaitable[None]]
#: What indexing into an unexpected JSON shape raises; adapters turn these into "malformed" errors.
SHAPE_ERRORS = (KeyError, IndexError, TypeError, AttributeError, ValueError)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(attempt: int, retry_after: float | None, rng: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff (``U(0, min(cap, base·2^attempt))``), or ``Retry-After`` when
    the upstream gave one (it knows best)."""
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_CAP_S)
    return float(rng() * min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0**attempt))


def upstream_message(body: bytes) -> str:
    """The human part of an error body in any of the OpenAI, Anthropic or Ollama shapes."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return text[:300] or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, str):
            return error[:500]
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail")
            kind = error.get("type") or error.get("code")
            if isinstance(message, str):
                return f"{message[:500]} ({kind})" if isinstance(kind, str) else message[:500]
    return orjson.dumps(data)[:300].decode("utf-8", "replace")


class HTTPProvider(Provider):
    """Base of the adapters: owns the pooled ``httpx.AsyncClient`` and the retry loop.

    ``transport`` and ``sleep`` are seams for tests and embedding (e.g. an ASGI or mock transport,
    a no-wait sleep); production uses the defaults.
    """

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.kind = settings.kind
        self._secret = settings.api_key.get_secret_value() if settings.api_key else None
        self._sleep = sleep
        headers = {"content-type": "application/json", "user-agent": "mcpgw"}
        headers.update(self.auth_headers(self._secret))
        headers.update(settings.headers)
        self._client = httpx.AsyncClient(
            base_url=settings.base_url,
            headers=headers,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s, pool=30.0),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=60.0),
            transport=transport,
            trust_env=False,
        )

    async def chat(self, model: str, body: dict[str, Any]) -> ChatResult:
        try:
            return await self._chat(model, body)
        except SHAPE_ERRORS as exc:
            raise self.malformed(f"unexpected response shape ({exc!r})") from exc

    @abc.abstractmethod
    async def _chat(self, model: str, body: dict[str, Any]) -> ChatResult:
        """The adapter's request and translation; shape errors are mapped by :meth:`chat`."""

    def auth_headers(self, secret: str | None) -> dict[str, str]:
        """Headers carrying the key; OpenAI-style bearer by default."""
        return {"authorization": f"Bearer {secret}"} if secret else {}

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- errors ---------------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def error(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        reason: Any = "http",
        fix: str | None = None,
    ) -> ProviderError:
        return ProviderError(
            self.name,
            self._redact(message),
            upstream_status=status,
            retryable=retryable,
            retry_after=retry_after,
            reason=reason,
            fix=fix,
        )

    def http_error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        message = upstream_message(body)
        fix = None
        if status in (401, 403):
            env = _KEY_ENV.get(self.kind)
            fix = f"check the API key for provider '{self.name}'" + (f" ({env})" if env else "")
        elif status == 404:
            fix = f"check the model name and base URL of provider '{self.name}' ({self.settings.base_url})"
        return self.error(
            f"HTTP {status}: {message}",
            status=status,
            retryable=status in RETRYABLE_STATUS or status >= 500,
            retry_after=parse_retry_after(headers),
            fix=fix,
        )

    def transport_error(self, exc: httpx.TransportError, what: str) -> ProviderError:
        """Map an httpx failure; ``what`` says where it happened (``"connecting"``, ``"mid-stream"``)."""
        if isinstance(exc, httpx.TimeoutException):
            limit = (
                self.settings.connect_timeout_s if isinstance(exc, httpx.ConnectTimeout) else self.settings.timeout_s
            )
            kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "read"
            return self.error(
                f"timed out {what} ({kind} timeout {limit:g}s)",
                retryable=True,
                reason="timeout",
                fix=f"raise timeout_s for provider '{self.name}' or check that the upstream is responsive",
            )
        if isinstance(exc, httpx.ConnectError):
            return self.error(
                f"cannot connect to {self.settings.base_url}: {exc}",
                retryable=True,
                reason="connect",
                fix=f"check that provider '{self.name}' is running and its base_url is right",
            )
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError) and what == "mid-stream":
            return self.error(f"stream ended early: {exc}", retryable=True, reason="truncated")
        return self.error(f"connection failed {what}: {exc}", retryable=True, reason="connect")

    def malformed(self, detail: str) -> ProviderError:
        return self.error(f"returned malformed data: {detail}", retryable=True, reason="malformed")

    # -- requests -------------------------------------------------------------------------------
    async def request_json(self, method: str, path: str, payload: bytes | None = None) -> Any:
        """Send with retries and return the decoded JSON body of a 2xx answer."""
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            try:
                response = await self._client.request(method, path, content=payload)
            except httpx.TransportError as exc:
                err = self.transport_error(exc, f"calling {path}")
                if attempt + 1 >= attempts:
                    raise err from exc
                await self._sleep(backoff_delay(attempt, None))
                continue
            if response.status_code < 300:
                try:
                    return orjson.loads(response.content)
                except orjson.JSONDecodeError as exc:
                    raise self.malformed(f"invalid JSON from {path} ({exc})") from exc
            err = self.http_error(response.status_code, response.content, response.headers)
            await self._retry_or_raise(err, attempt, attempts)
        raise AssertionError("unreachable")  # pragma: no cover

    async def open_stream(self, path: str, payload: bytes) -> httpx.Response:
        """POST and return the streaming response once a 2xx status arrived, retrying before that.
        The caller must ``aclose()`` it."""
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            request = self._client.build_request("POST", path, content=payload)
            try:
                response = await self._client.send(request, stream=True)
            except httpx.TransportError as exc:
                err = self.transport_error(exc, f"calling {path}")
                if attempt + 1 >= attempts:
                    raise err from exc
                await self._sleep(backoff_delay(attempt, None))
                continue
            if response.status_code < 300:
                return response
            try:
                body = await response.aread()
            except httpx.TransportError:
                body = b""
            finally:
                await response.aclose()
            err = self.http_error(response.status_code, body, response.headers)
            await self._retry_or_raise(err, attempt, attempts)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _retry_or_raise(self, err: ProviderError, attempt: int, attempts: int) -> None:
        too_long = err.retry_after is not None and err.retry_after > RETRY_AFTER_CAP_S
        if not err.retryable or attempt + 1 >= attempts or too_long:
            raise err
        delay = backoff_delay(attempt, err.retry_after)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %s; retry %d in %.2fs", self.name, err.message, attempt + 1, delay)
        await self._sleep(delay)
