"""The daemon client used by the CLI (sync), the TUI and the MCP server (async).

HTTP/1.1 over the daemon's Unix socket with httpx; tests swap the transport for
``httpx.ASGITransport(app=...)``. Problem+json answers become the matching :mod:`mcpgw.errors`
exception; connection failures become one-line :class:`~mcpgw.errors.DaemonError` messages with the fix.
This module is import-light: no server stack, no Textual.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from mcpgw import errors
from mcpgw._version import __version__
from mcpgw.daemonctl import start_daemon
from mcpgw.paths import Paths

BASE_URL = "http://mcpgw"
_ERROR_TYPES: dict[str, type[errors.MCPGWError]] = {
    cls.type: cls
    for cls in (
        errors.ConfigError,
        errors.UsageError,
        errors.StoreError,
        errors.NotFound,
        errors.GatewayError,
        errors.PolicyViolation,
        errors.OutputPolicyViolation,
        errors.BudgetExceeded,
        errors.NoRoute,
        errors.UpstreamError,
        errors.ConfirmationRequired,
        errors.PatchError,
        errors.IndexError_,
    )
}
_warned_mismatch = False


def error_from_response(response: httpx.Response) -> errors.MCPGWError:
    """Turn an error response (problem+json, or anything else) into an mcpgw exception."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body and "type" in body:
        cls = _ERROR_TYPES.get(str(body["type"]), errors.MCPGWError)
        detail = body["detail"]
        extra = {k: v for k, v in body.items() if k not in ("type", "title", "status", "detail", "fix")}
        err = cls(str(detail), fix=body.get("fix"), **extra)
        err.status = response.status_code
        return err
    if isinstance(body, dict) and isinstance(body.get("error"), dict):  # OpenAI-style error object
        return errors.GatewayError(str(body["error"].get("message")))
    text = response.text[:300] if response.text else response.reason_phrase
    return errors.MCPGWError(f"daemon answered {response.status_code}: {text}")


def _check_version(response: httpx.Response) -> None:
    global _warned_mismatch
    theirs = response.headers.get("x-mcpgw-version")
    if theirs and theirs != __version__ and not _warned_mismatch:
        _warned_mismatch = True
        print(
            f"mcpgw: the daemon runs version {theirs}, this CLI is {__version__}; "
            "run `mcpgw daemon restart` to use the same version",
            file=sys.stderr,
        )


def _unreachable(paths: Paths, exc: Exception) -> errors.DaemonError:
    return errors.DaemonError(
        f"cannot reach the mcpgw daemon at {paths.socket_path} ({type(exc).__name__})",
        fix="start it with `mcpgw daemon start`; see `mcpgw daemon logs` if it does not come up",
    )


class DaemonClient:
    """Sync client for the CLI. ``autostart`` starts the daemon when it is not running."""

    def __init__(
        self,
        paths: Paths,
        *,
        transport: httpx.BaseTransport | None = None,
        autostart: bool = True,
        timeout: float = 300.0,
    ) -> None:
        self.paths = paths
        self.autostart = autostart and transport is None
        self._client = httpx.Client(
            transport=transport or httpx.HTTPTransport(uds=str(paths.socket_path)),
            base_url=BASE_URL,
            timeout=httpx.Timeout(timeout, connect=5.0),
        )
        self._started = False

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.RemoteProtocolError, FileNotFoundError) as exc:
            if not self.autostart or self._started:
                raise _unreachable(self.paths, exc) from exc
            start_daemon(self.paths)
            self._started = True
            try:
                response = self._client.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.RemoteProtocolError) as exc2:
                raise _unreachable(self.paths, exc2) from exc2
        except httpx.TimeoutException as exc:
            raise errors.DaemonError(f"the daemon did not answer {method} {path} in time") from exc
        _check_version(response)
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=json, **kwargs).json()

    def put(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("PUT", path, json=json, **kwargs).json()

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs).json()

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streaming response (SSE); raises the mapped error when the status is an error."""
        for attempt in (0, 1):
            try:
                with self._client.stream(method, path, **kwargs) as response:
                    _check_version(response)
                    if response.status_code >= 400:
                        response.read()
                        raise error_from_response(response)
                    yield response
                    return
            except (httpx.ConnectError, FileNotFoundError) as exc:
                if attempt or not self.autostart:
                    raise _unreachable(self.paths, exc) from exc
                start_daemon(self.paths)
                self._started = True


class AsyncDaemonClient:
    """Async client for the TUI and the MCP server (no autostart here: callers start the daemon first)."""

    def __init__(self, paths: Paths, *, transport: httpx.AsyncBaseTransport | None = None, timeout: float = 300.0):
        self.paths = paths
        self._client = httpx.AsyncClient(
            transport=transport or httpx.AsyncHTTPTransport(uds=str(paths.socket_path)),
            base_url=BASE_URL,
            timeout=httpx.Timeout(timeout, connect=5.0),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.RemoteProtocolError, FileNotFoundError) as exc:
            raise _unreachable(self.paths, exc) from exc
        except httpx.TimeoutException as exc:
            raise errors.DaemonError(f"the daemon did not answer {method} {path} in time") from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    async def get(self, path: str, **kwargs: Any) -> Any:
        return (await self.request("GET", path, **kwargs)).json()

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return (await self.request("POST", path, json=json, **kwargs)).json()

    @contextlib.asynccontextmanager
    async def stream(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        try:
            async with self._client.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_from_response(response)
                yield response
        except (httpx.ConnectError, FileNotFoundError) as exc:
            raise _unreachable(self.paths, exc) from exc
