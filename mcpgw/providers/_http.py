"""Shared HTTP machinery for adapters: one pooled aiohttp session, retries with backoff, error mapping.

Why aiohttp rather than httpx: at 32 concurrent requests httpx/httpcore cost ~820 µs of CPU per call
(its pool runs a ``select()`` readability check over every pooled connection on every request), aiohttp
~60 µs (C HTTP parser, event-driven keep-alive pool); measured against the benchmark's fake upstream.
Stale pooled connections are noticed by the event loop (``connection_lost``), not by polling.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import email.utils
import ipaddress
import logging
import os
import random
import ssl
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import aiohttp
import orjson
from yarl import URL

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


def parse_arguments(arguments: Any, *, keep_invalid: bool) -> Any:
    """OpenAI tool-call ``arguments`` (a JSON string) as an object for APIs that want one. Invalid JSON is
    kept as ``{"_raw": text}`` when ``keep_invalid`` (so nothing is lost), else dropped to ``{}``."""
    if isinstance(arguments, str):
        try:
            return orjson.loads(arguments) if arguments.strip() else {}
        except orjson.JSONDecodeError:
            return {"_raw": arguments} if keep_invalid else {}
    return arguments or {}


#: What the HTTP layer raises for transport trouble (refused, reset, timeouts, truncated bodies, bad TLS).
TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError)
TransportError = aiohttp.ClientError | TimeoutError
#: Connection pool bounds: concurrent connections per provider, and how long an idle one is kept.
POOL_LIMIT = 256
KEEPALIVE_S = 60.0
#: Extra time a request may wait for a free pooled connection, on top of the connect timeout.
POOL_WAIT_S = 30.0


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


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """``NO_PROXY`` matching as curl does it: ``*``, exact hosts, domain suffixes (leading dot optional),
    ``host:port`` entries."""
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and (not entry_port.isdigit() or int(entry_port) != port):
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy URL the environment gives for ``url`` (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, either
    case, ``NO_PROXY`` honoured), or None. Loopback upstreams (Ollama, LM Studio) are never proxied, and a
    proxy that is not ``http(s)://`` (aiohttp speaks no SOCKS) is skipped with a warning.

    Resolved once per provider, not per request (aiohttp's ``trust_env`` would re-read the environment
    on every call)."""
    env = os.environ if environ is None else environ
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or _is_loopback(host):
        return None

    def var(name: str) -> str:
        return (env.get(name.lower()) or env.get(name.upper()) or "").strip()

    proxy = var(f"{parts.scheme}_proxy") or var("all_proxy")
    if not proxy or _bypassed(host, parts.port or (443 if parts.scheme == "https" else 80), var("no_proxy")):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy
    if not proxy.startswith(("http://", "https://")):
        log.warning("ignoring proxy %s for %s: only http:// and https:// proxies are supported", proxy, host)
        return None
    return proxy


def _ssl_context() -> ssl.SSLContext:
    """Verify TLS against certifi's CA bundle when it is installed (as httpx did), else the system's."""
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class HTTPProvider(Provider):
    """Base of the adapters: owns the pooled ``aiohttp.ClientSession`` and the retry loop.

    The session is created on first use, inside the running event loop (aiohttp binds it to that loop),
    so adapters can be built from synchronous code. ``sleep`` is a seam for tests (a no-wait sleep);
    ``environ`` (for the proxy) defaults to ``os.environ``.
    """

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        sleep: Sleep = asyncio.sleep,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.kind = settings.kind
        self._secret = settings.api_key.get_secret_value() if settings.api_key else None
        self._sleep = sleep
        headers = {"content-type": "application/json", "user-agent": "mcpgw"}
        headers.update(self.auth_headers(self._secret))
        headers.update(settings.headers)
        self._headers = headers
        self._base = settings.base_url
        self._urls: dict[str, URL] = {}
        self.proxy = proxy_for(settings.base_url, environ)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=POOL_LIMIT,
                keepalive_timeout=KEEPALIVE_S,
                ssl=_ssl_context() if self._base.startswith("https://") else True,
            )
            timeout = aiohttp.ClientTimeout(
                total=None,
                connect=self.settings.connect_timeout_s + POOL_WAIT_S,
                sock_connect=self.settings.connect_timeout_s,
                sock_read=self.settings.timeout_s,
            )
            session = self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers, timeout=timeout, trust_env=False
            )
        return session

    def _url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = URL(self._base + path)
            if len(self._urls) < 64:
                self._urls[path] = url
        return url

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
        if self._session is not None:
            await self._session.close()
            self._session = None

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

    def transport_error(self, exc: TransportError, what: str) -> ProviderError:
        """Map a transport failure; ``what`` says where it happened (``"calling /x"``, ``"mid-stream"``)."""
        if isinstance(exc, TimeoutError):
            connect = isinstance(exc, aiohttp.ConnectionTimeoutError)
            limit = self.settings.connect_timeout_s if connect else self.settings.timeout_s
            return self.error(
                f"timed out {what} ({'connect' if connect else 'read'} timeout {limit:g}s)",
                retryable=True,
                reason="timeout",
                fix=f"raise timeout_s for provider '{self.name}' or check that the upstream is responsive",
            )
        if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError):
            return self.error(
                f"TLS handshake with {self.settings.base_url} failed: {exc}",
                retryable=False,
                reason="connect",
                fix="check the system clock and CA certificates (SSL_CERT_FILE), or an intercepting proxy",
            )
        if isinstance(exc, aiohttp.ClientProxyConnectionError):
            return self.error(
                f"cannot connect to the proxy {self.proxy}: {exc}",
                retryable=True,
                reason="connect",
                fix="check HTTPS_PROXY/HTTP_PROXY, or exempt the host with NO_PROXY",
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            return self.error(
                f"cannot connect to {self.settings.base_url}: {exc}",
                retryable=True,
                reason="connect",
                fix=f"check that provider '{self.name}' is running and its base_url is right",
            )
        if what == "mid-stream" and isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
            return self.error(f"stream ended early: {exc}", retryable=True, reason="truncated")
        if isinstance(exc, aiohttp.ClientResponseError):  # the upstream did not speak valid HTTP
            return self.error(f"sent an invalid HTTP response {what}: {exc.message}", retryable=True, reason="protocol")
        return self.error(f"connection failed {what}: {exc or type(exc).__name__}", retryable=True, reason="connect")

    def malformed(self, detail: str) -> ProviderError:
        return self.error(f"returned malformed data: {detail}", retryable=True, reason="malformed")

    @contextlib.contextmanager
    def reading_stream(self, response: aiohttp.ClientResponse) -> Iterator[None]:
        """Around the loop that reads a streamed body: transport failures and unexpected event shapes become
        ProviderErrors, and the connection goes back to the pool however the loop ends."""
        try:
            yield
        except TRANSPORT_ERRORS as exc:
            raise self.transport_error(exc, "mid-stream") from exc
        except SHAPE_ERRORS as exc:
            raise self.malformed(f"unexpected stream event shape ({exc!r})") from exc
        finally:
            response.release()

    async def list_data_ids(self, path: str) -> list[str]:
        """Model ids from an OpenAI-style list (``{"data": [{"id": …}, …]}``), as OpenAI and Anthropic answer."""
        data = await self.request_json("GET", path)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise self.malformed("model list without 'data'")
        return [str(item["id"]) for item in items if isinstance(item, dict) and "id" in item]

    # -- requests -------------------------------------------------------------------------------
    async def request_json(self, method: str, path: str, payload: bytes | None = None) -> Any:
        """Send with retries and return the decoded JSON body of a 2xx answer."""
        attempts = self.settings.max_retries + 1
        session, url = self._client(), self._url(path)
        for attempt in range(attempts):
            try:
                async with session.request(method, url, data=payload, proxy=self.proxy) as response:
                    status = response.status
                    content = await response.read()
            except TRANSPORT_ERRORS as exc:
                err = self.transport_error(exc, f"calling {path}")
                if attempt + 1 >= attempts:
                    raise err from exc
                await self._sleep(backoff_delay(attempt, None))
                continue
            if status < 300:
                try:
                    return orjson.loads(content)
                except orjson.JSONDecodeError as exc:
                    raise self.malformed(f"invalid JSON from {path} ({exc})") from exc
            err = self.http_error(status, content, response.headers)
            await self._retry_or_raise(err, attempt, attempts)
        raise AssertionError("unreachable")  # pragma: no cover

    async def open_stream(self, path: str, payload: bytes) -> aiohttp.ClientResponse:
        """POST and return the streaming response once a 2xx status arrived, retrying before that.

        Read the body with ``response.content.iter_any()`` (map :data:`TRANSPORT_ERRORS` with
        :meth:`transport_error`), then ``response.release()``: the connection goes back to the pool
        when the body was read to its end, and is closed otherwise."""
        attempts = self.settings.max_retries + 1
        session, url = self._client(), self._url(path)
        for attempt in range(attempts):
            try:
                response = await session.post(url, data=payload, proxy=self.proxy)
            except TRANSPORT_ERRORS as exc:
                err = self.transport_error(exc, f"calling {path}")
                if attempt + 1 >= attempts:
                    raise err from exc
                await self._sleep(backoff_delay(attempt, None))
                continue
            if response.status < 300:
                return response
            try:
                body = await response.read()
            except TRANSPORT_ERRORS:
                body = b""
            finally:
                response.release()
            err = self.http_error(response.status, body, response.headers)
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
