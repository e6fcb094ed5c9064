"""The MCP server's connection to the daemon: started on first use, one retry after a restart.

Tools that need the gateway, the database or the index go through :class:`DaemonLink`; file and git
tools never do, so they keep working when the daemon cannot start.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import anyio
import anyio.to_thread

from mcpgw import errors
from mcpgw.client import AsyncDaemonClient
from mcpgw.daemonctl import start_daemon
from mcpgw.paths import Paths

log = logging.getLogger(__name__)


def path_part(value: str) -> str:
    """Quote one URL path segment (cache keys may hold '/', spaces, …)."""
    return quote(value, safe="")


def _missing_endpoint(exc: errors.MCPGWError) -> bool:
    # A route the daemon does not serve answers FastAPI's plain 404/405, not problem+json.
    return type(exc) is errors.MCPGWError and exc.message.startswith(("daemon answered 404", "daemon answered 405"))


class DaemonLink:
    """Lazily started async client. ``autostart=False`` (tests) uses the given client as is."""

    def __init__(self, paths: Paths, *, client: AsyncDaemonClient | None = None, autostart: bool = True) -> None:
        self.paths = paths
        self.autostart = autostart and client is None
        self._client = client
        self._lock = anyio.Lock()
        self._started = client is not None
        self.start_error: errors.DaemonError | None = None

    async def _ensure(self) -> AsyncDaemonClient:
        async with self._lock:
            if not self._started and self.autostart:
                try:
                    await anyio.to_thread.run_sync(start_daemon, self.paths)
                except errors.DaemonError as exc:
                    self.start_error = exc
                    raise
                self.start_error = None
                self._started = True
            if self._client is None:
                self._client = AsyncDaemonClient(self.paths)
            return self._client

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the daemon and return the decoded JSON; errors are :mod:`mcpgw.errors` exceptions."""
        client = await self._ensure()
        try:
            response = await client.request(method, path, **kwargs)
        except errors.DaemonError:
            if not self.autostart:
                raise
            self._started = False  # the daemon went away: start it again, once
            client = await self._ensure()
            response = await client.request(method, path, **kwargs)
        except errors.MCPGWError as exc:
            if _missing_endpoint(exc):
                raise errors.DaemonError(
                    f"the daemon does not provide {method} {path.split('?')[0]} (this build has no such endpoint yet)",
                    fix="update mcpgw, then run `mcpgw daemon restart`",
                ) from exc
            raise
        if not response.content:
            return None
        return response.json()

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return await self.request("POST", path, json=json, **kwargs)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
