"""The daemon client used by the CLI (sync), the TUI and the MCP server (async).

HTTP/1.1 over the daemon's Unix socket. A one-shot command's JSON calls take the standard library's
``http.client`` on the socket (:func:`mcpgw.daemonctl.socket_request`): importing httpx costs a CLI call ~80 ms, a third
of ``mcpgw search``'s wall time. httpx, imported on first use, serves streams, the async client, the
fallback that starts a daemon which is not running, and tests, which swap the transport for
``httpx.ASGITransport(app=...)``. Problem+json answers become the matching :mod:`mcpgw.errors` exception;
connection failures become one-line :class:`~mcpgw.errors.DaemonError` messages with the fix.
This module is import-light: no httpx until needed, no server stack, no Textual.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from mcpgw import errors
from mcpgw._version import __version__
from mcpgw.daemonctl import socket_request, start_daemon
from mcpgw.paths import Paths

if TYPE_CHECKING:
    import httpx

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
    return error_from(response.status_code, response.content, response.reason_phrase)


def error_from(status: int, raw: bytes, reason: str = "") -> errors.MCPGWError:
    """The mcpgw exception for an error answer's status and body (problem+json, OpenAI-style, or text)."""
    try:
        body = jsonlib.loads(raw) if raw else None
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body and "type" in body:
        cls = _ERROR_TYPES.get(str(body["type"]), errors.MCPGWError)
        detail = body["detail"]
        extra = {k: v for k, v in body.items() if k not in ("type", "title", "status", "detail", "fix")}
        err = cls(str(detail), fix=body.get("fix"), **extra)
        err.status = status
        return err
    if isinstance(body, dict) and isinstance(body.get("error"), dict):  # OpenAI-style error object
        return errors.GatewayError(str(body["error"].get("message")))
    text = raw[:300].decode("utf-8", "replace") if raw else reason
    return errors.MCPGWError(f"daemon answered {status}: {text}")


def _check_version(response: httpx.Response) -> None:
    _check_version_header(response.headers.get("x-mcpgw-version"))


def _check_version_header(theirs: str | None) -> None:
    global _warned_mismatch
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


def query_string(params: Mapping[str, Any] | None) -> str:
    """``?a=1&b=true`` as httpx encodes ``params`` (booleans lower-case, None empty, lists repeated)."""
    if not params:
        return ""
    from urllib.parse import urlencode

    def text(value: Any) -> str:
        if value is True or value is False:
            return "true" if value else "false"
        return "" if value is None else str(value)

    pairs = [
        (key, text(item))
        for key, value in params.items()
        for item in (value if isinstance(value, list | tuple) else [value])
    ]
    return "?" + urlencode(pairs)


class DaemonClient:
    """Sync client for the CLI. ``autostart`` starts the daemon when it is not running.

    ``get``/``post``/``put``/``delete`` with at most ``params`` take the socket directly; anything else
    (streams, other httpx options, a test's transport, a daemon to start) goes through httpx.
    """

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
        self.timeout = timeout
        self._transport = transport
        self._http: httpx.Client | None = None
        self._started = False

    @property
    def _client(self) -> httpx.Client:
        if self._http is None:
            import httpx

            self._http = httpx.Client(
                transport=self._transport or httpx.HTTPTransport(uds=str(self.paths.socket_path)),
                base_url=BASE_URL,
                timeout=httpx.Timeout(self.timeout, connect=5.0),
            )
        return self._http

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

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

    def call(self, method: str, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """One JSON call: the decoded answer, or the matching :mod:`mcpgw.errors` exception."""
        if self._transport is None and self.paths.socket_path.exists():
            try:
                answer = socket_request(self.paths, method, path + query_string(params), json, timeout=self.timeout)
            except TimeoutError as exc:
                raise errors.DaemonError(f"the daemon did not answer {method} {path} in time") from exc
            except (ConnectionError, FileNotFoundError):
                pass  # nothing listens (a stale socket, a daemon gone): httpx's path starts one
            except (OSError, ValueError) as exc:
                raise errors.DaemonError(f"bad answer from the daemon for {method} {path}: {exc}") from exc
            else:
                _check_version_header(answer.version)
                if answer.status >= 400:
                    raise error_from(answer.status, answer.raw)
                try:
                    return answer.json()
                except ValueError as exc:
                    raise errors.DaemonError(f"bad answer from the daemon for {method} {path}: {exc}") from exc
        return self.request(method, path, json=json, params=params).json()

    def _call(self, method: str, path: str, json: Any, kwargs: dict[str, Any]) -> Any:
        if kwargs.keys() <= {"params"}:
            return self.call(method, path, json, kwargs.get("params"))
        return self.request(method, path, json=json, **kwargs).json()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._call("GET", path, None, kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self._call("POST", path, json, kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self._call("PUT", path, json, kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self._call("DELETE", path, None, kwargs)

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streaming response (SSE); raises the mapped error when the status is an error."""
        import httpx

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
        import httpx

        self.paths = paths
        self._client = httpx.AsyncClient(
            transport=transport or httpx.AsyncHTTPTransport(uds=str(paths.socket_path)),
            base_url=BASE_URL,
            timeout=httpx.Timeout(timeout, connect=5.0),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

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
        import httpx

        try:
            async with self._client.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_from_response(response)
                yield response
        except (httpx.ConnectError, FileNotFoundError) as exc:
            raise _unreachable(self.paths, exc) from exc
