"""Helpers for the TUI tests (no tests here): a streaming ASGI transport (httpx's ASGITransport buffers
whole bodies, which never ends for ``/v1/events``), a transport that records the requests the TUI makes,
seeding through the store's real write path, and an in-process daemon + TuiApi pair."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from mcpgw.client import AsyncDaemonClient
from mcpgw.paths import Paths
from mcpgw.store.traces import enqueue_trace, iso_utc
from mcpgw.tui.api import TuiApi
from tests.conftest import app_client


class _BodyStream(httpx.AsyncByteStream):
    def __init__(self, queue: asyncio.Queue[bytes | None], task: asyncio.Task[None], gone: asyncio.Event) -> None:
        self.queue, self.task, self.gone = queue, task, gone

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := await self.queue.get()) is not None:
            yield chunk

    async def aclose(self) -> None:
        self.gone.set()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Like httpx.ASGITransport, but the response body streams as the app sends it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, str(request.url.copy_with(scheme="http", host="mcpgw"))))
        body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        started: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] = asyncio.get_running_loop().create_future()
        gone = asyncio.Event()
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.set_result((message["status"], list(message.get("headers", []))))
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    await queue.put(message["body"])
                if not message.get("more_body"):
                    await queue.put(None)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method,
            "headers": [(k.lower(), v) for k, v in request.headers.raw], "scheme": "http",
            "path": request.url.path, "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query, "server": ("mcpgw", None), "client": ("127.0.0.1", 1), "root_path": "",
        }  # fmt: skip

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except Exception as exc:  # the test sees it as the request's failure
                if not started.done():
                    started.set_exception(exc)
            finally:
                await queue.put(None)

        task = asyncio.create_task(run())
        status, headers = await started
        return httpx.Response(status, headers=headers, stream=_BodyStream(queue, task, gone))

    def paths(self) -> list[str]:
        """The request paths (with query) in order, e.g. ``GET /v1/analytics?since=2026-01-01``."""
        out = []
        for method, url in self.requests:
            parsed = httpx.URL(url)
            query = parsed.query.decode()
            out.append(f"{method} {parsed.path}" + (f"?{query}" if query else ""))
        return out


@dataclass
class Daemon:
    """An in-process daemon, the TUI's API over it, and the transport that recorded every request."""

    http: httpx.AsyncClient
    api: TuiApi
    transport: StreamingASGITransport
    paths: Paths
    seeded: list[dict[str, Any]] = field(default_factory=list)

    @property
    def app(self) -> Any:
        return self.http.app  # type: ignore[attr-defined]

    async def flush(self) -> None:
        await self.app.state.store.flush()


@contextlib.asynccontextmanager
async def in_process_daemon(paths: Paths, settings: Any = None) -> AsyncIterator[Daemon]:
    async with app_client(paths, settings) as http:
        transport = StreamingASGITransport(http.app)  # type: ignore[attr-defined]
        api = TuiApi(AsyncDaemonClient(paths, transport=transport))
        yield Daemon(http, api, transport, paths)
        await api.aclose()


def seed_trace(
    daemon: Daemon,
    *,
    when: dt.datetime,
    model: str = "gpt-4o-mini",
    provider: str = "openai",
    layer: str = "L1",
    cost: float = 0.01,
    duration_ms: int = 800,
    status: str = "ok",
    cached: bool = False,
    request_type: str = "chat",
    tool_calls: list[dict[str, Any]] | None = None,
) -> str:
    """One trace with one LLM call, through the store's real write path (enqueue_trace)."""
    created = iso_utc(when)
    trace_id = f"T{len(daemon.seeded):04d}{int(when.timestamp())}"
    trace = {
        "id": trace_id,
        "request_type": request_type,
        "status": "error" if status == "error" else "ok",
        "total_duration_ms": duration_ms,
        "created_at": created,
        "routing_decisions": [
            {"layer": "L0", "reason": "start L0: no usable model", "modelSelected": "-", "timestamp": when.timestamp()},
            {
                "layer": layer,
                "reason": "escalated: L0 unavailable",
                "modelSelected": f"{provider}/{model}",
                "timestamp": when.timestamp() + 0.002,
            },
        ],
        "tool_calls": tool_calls or [],
        "error_info": {"message": "upstream 500"} if status == "error" else None,
    }
    call = {"provider": provider, "model": model, "layer": layer, "input_tokens": 100, "output_tokens": 50,
            "cost": cost, "duration_ms": duration_ms, "status": status, "cached": cached,
            "error": "upstream 500" if status == "error" else None}  # fmt: skip
    enqueue_trace(daemon.app.state.store, trace, [call])
    daemon.seeded.append(trace)
    return trace_id
