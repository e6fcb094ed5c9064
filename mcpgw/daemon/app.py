"""The daemon's ASGI app: ``create_app()`` wires the route modules, error handling and lifecycle.

Route modules live in ``mcpgw/daemon/routes/`` and each exposes ``router``; ``ROUTE_MODULES`` is the one
list that says which are served. Shared objects are on ``app.state``: ``daemon`` (DaemonState) and, for
convenience, ``store``, ``settings``, ``paths`` and ``events``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from mcpgw._version import __version__
from mcpgw.config import Settings
from mcpgw.daemon.events import EventBus
from mcpgw.daemon.state import DaemonState, Lifecycle
from mcpgw.errors import MCPGWError
from mcpgw.paths import Paths
from mcpgw.security.auth import ApiKeyAuth
from mcpgw.store import Store

log = logging.getLogger(__name__)

ROUTE_MODULES: tuple[str, ...] = (
    "system",
    "gateway",
    "search",
    "patches",
    "mcp_support",
    "history",
    "doctor",
    "keys",
    "openai_api",
    "repomap",
    "traces",
    "analytics",
    "alerts",
    "knowledge",
    "profiles",
)

Startup = Callable[[DaemonState], Awaitable[None]]
# Subsystems that need start/stop hooks (gateway, background jobs, watchers) register here.
STARTUP_HOOKS: list[tuple[str, str]] = [
    ("mcpgw.gateway.core", "start"),
    ("mcpgw.search.service", "start"),
    ("mcpgw.observability.otel", "start"),
    ("mcpgw.analytics.guardrail", "start"),
    ("mcpgw.sync.service", "start"),  # team mode: after the gateway, whose cache and budget it extends
]


def problem(status: int, type_: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem+json response."""
    body = {"type": type_, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


async def _mcpgw_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MCPGWError)
    return problem(exc.status, exc.type, type(exc).__name__, exc.message, fix=exc.fix, **exc.details)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return problem(400, "bad-request", "UsageError", f"{where}: {first['msg']}" if where else str(first["msg"]))


class VersionHeader:
    """Pure-ASGI middleware: every response carries ``x-mcpgw-version`` (cheaper than BaseHTTPMiddleware)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.header = (b"x-mcpgw-version", __version__.encode())

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), self.header]
            await send(message)

        await self.app(scope, receive, send_with_version)


def create_app(
    paths: Paths, settings: Settings, *, store: Store | None = None, events: EventBus | None = None
) -> FastAPI:
    """Build the daemon app. Opens (and migrates) the store in the lifespan unless one is given."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None
        db = store if store is not None else await Store.open(paths.db_path)
        state = DaemonState(paths=paths, settings=settings, store=db, events=events or EventBus())
        app.state.daemon = state
        app.state.store = db
        app.state.settings = settings
        app.state.paths = paths
        app.state.events = state.events
        stops: list[Callable[[], Awaitable[None]]] = []
        try:
            for module_name, func_name in STARTUP_HOOKS:
                start = getattr(importlib.import_module(module_name), func_name)
                stop = await start(state)
                if stop is not None:
                    stops.append(stop)
            state.lifecycle = Lifecycle.SERVING
            yield
        finally:
            state.lifecycle = Lifecycle.DRAINING
            for stop in reversed(stops):
                await stop()
            if own_store:
                await db.close()
            state.lifecycle = Lifecycle.STOPPED

    app = FastAPI(title="mcpgw daemon", version=__version__, lifespan=lifespan)
    for name in ROUTE_MODULES:
        module = importlib.import_module(f"mcpgw.daemon.routes.{name}")
        app.include_router(module.router)
    app.add_exception_handler(MCPGWError, _mcpgw_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(VersionHeader)
    app.add_middleware(ApiKeyAuth)  # TCP only: API key + role; the socket stays keyless
    return app
