"""The TUI's data layer: typed async calls over :class:`mcpgw.client.AsyncDaemonClient`.

Screens never build URLs: they call these methods from workers and post the answers as messages. Every
failure to reach the daemon is a :class:`mcpgw.errors.DaemonError`; daemon-side problems arrive as the
matching :mod:`mcpgw.errors` exception (the client maps problem+json).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from mcpgw import errors
from mcpgw.client import AsyncDaemonClient
from mcpgw.paths import Paths


@dataclass(frozen=True)
class SSEEvent:
    """One Server-Sent Event: its ``event:`` name and its decoded JSON ``data:``."""

    event: str
    data: dict[str, Any]


@dataclass
class DashboardData:
    """Everything the dashboard shows, fetched together so the first paint is consistent."""

    today: dict[str, Any]
    month: dict[str, Any]
    last30: dict[str, Any]
    stats: dict[str, Any]
    traces: list[dict[str, Any]]


@dataclass
class StreamEvent:
    """A playground stream item: ``kind`` is ``chunk`` (``text``), ``result`` (``envelope``) or ``error``."""

    kind: str
    text: str = ""
    envelope: dict[str, Any] = field(default_factory=dict)
    problem: dict[str, Any] = field(default_factory=dict)


async def iter_sse(response: httpx.Response) -> AsyncIterator[SSEEvent]:
    """Parse an SSE body into events (comments skipped; multi-line ``data:`` joined)."""
    name = "message"
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                try:
                    payload = orjson.loads("\n".join(data))
                except orjson.JSONDecodeError:
                    payload = {"raw": "\n".join(data)}
                yield SSEEvent(name, payload if isinstance(payload, dict) else {"value": payload})
            name, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    if data:
        yield SSEEvent(name, orjson.loads("\n".join(data)))


def month_start(today: dt.date) -> str:
    return today.replace(day=1).isoformat()


class TuiApi:
    """What the TUI asks the daemon. One instance per app; close it with :meth:`aclose`."""

    def __init__(self, client: AsyncDaemonClient) -> None:
        self.client = client

    @classmethod
    def for_paths(cls, paths: Paths, *, transport: httpx.AsyncBaseTransport | None = None) -> TuiApi:
        return cls(AsyncDaemonClient(paths, transport=transport, timeout=120.0))

    async def aclose(self) -> None:
        await self.client.aclose()

    # ---- dashboard and analytics ----

    async def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.client.get("/v1/stats")
        return data

    async def analytics(self, since: str | None = None, until: str | None = None) -> dict[str, Any]:
        """The AnalyticsResponse for a range (the daemon's default: the last 30 days)."""
        params = {k: v for k, v in (("since", since), ("until", until)) if v}
        data: dict[str, Any] = await self.client.get("/v1/analytics", params=params)
        return data

    async def dashboard(self, *, today: dt.date | None = None, recent: int = 12) -> DashboardData:
        """Today's, this month's and the last 30 days' analytics, gateway stats and the latest traces."""
        day = today or dt.datetime.now(dt.UTC).date()
        t, m, last30, stats, traces = await asyncio.gather(
            self.analytics(since=day.isoformat()),
            self.analytics(since=month_start(day)),
            self.analytics(),
            self.stats(),
            self.traces(limit=recent),
        )
        return DashboardData(today=t, month=m, last30=last30, stats=stats, traces=traces)

    # ---- traces ----

    async def traces(
        self,
        *,
        since: str | None = None,
        status: str | None = None,
        request_type: str | None = None,
        project: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Trace summaries, newest first."""
        params: dict[str, Any] = {"limit": limit}
        for key, value in (("since", since), ("status", status), ("request_type", request_type),
                           ("project", project)):  # fmt: skip
            if value:
                params[key] = value
        data = await self.client.get("/v1/traces", params=params)
        items: list[dict[str, Any]] = data["traces"]
        return items

    async def trace(self, trace_id: str) -> dict[str, Any]:
        data: dict[str, Any] = await self.client.get(f"/v1/traces/{trace_id}")
        return data

    # ---- playground ----

    async def models(self) -> list[str]:
        """The configured models (``provider/model``), without the gateway's virtual ``mcpgw/*`` ids."""
        try:
            data = await self.client.get("/v1/models")
        except errors.NotFound:
            return await self._models_from_health()
        return [m["id"] for m in data.get("data", []) if m.get("owned_by") != "mcpgw"]

    async def _models_from_health(self) -> list[str]:
        health = await self.client.get("/health")
        configured = {p["name"] for p in health.get("providers", [])}
        layers = health.get("config", {}).get("routing", {}).get("layers", {})
        seen: list[str] = []
        for refs in layers.values():
            for ref in refs:
                if ref.partition("/")[0] in configured and ref not in seen:
                    seen.append(ref)
        return seen

    async def chat_stream(self, model: str, prompt: str) -> AsyncIterator[StreamEvent]:
        """Stream one prompt to one model through the gateway (no cache), as chunk/result/error events."""
        body = {"messages": [{"role": "user", "content": prompt}], "model": model, "stream": True,
                "cache": False, "request_type": "playground"}  # fmt: skip
        async with self.client.stream("POST", "/v1/chat", json=body) as response:
            async for event in iter_sse(response):
                if event.event == "chunk":
                    for choice in event.data.get("choices") or []:
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            yield StreamEvent("chunk", text=text)
                elif event.event == "result":
                    yield StreamEvent("result", envelope=event.data)
                elif event.event == "error":
                    yield StreamEvent("error", problem=event.data)

    # ---- history ----

    async def history(
        self, *, last: int = 200, mode: str | None = None, failed: bool = False, search: str | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"last": last}
        if mode:
            params["mode"] = mode
        if failed:
            params["failed"] = "true"
        if search:
            params["search"] = search
        data = await self.client.get("/v1/history", params=params)
        entries: list[dict[str, Any]] = data["entries"]
        return entries

    async def history_entry(self, ref: str) -> dict[str, Any]:
        data: dict[str, Any] = await self.client.get(f"/v1/history/{ref}")
        return data

    # ---- code search ----

    async def search(self, query: str, root: Path, *, mode: str = "hybrid", top_k: int = 20) -> dict[str, Any]:
        body = {"query": query, "root": str(root), "mode": mode, "top_k": top_k}
        data: dict[str, Any] = await self.client.post("/v1/search", json=body)
        return data

    async def search_index(self, root: Path) -> dict[str, Any]:
        """Start (or join) indexing ``root`` in the daemon; answers the job."""
        data: dict[str, Any] = await self.client.post("/v1/search/index", json={"root": str(root)})
        return data

    # ---- live events ----

    async def events(self) -> AsyncIterator[SSEEvent]:
        """The daemon's event stream (``trace``, ``alert``, ``shutdown`` …) until it ends or breaks.

        The daemon wraps each event as ``{type, time, data}``; this yields the inner ``data``. The first
        item is a synthetic ``connected`` event, sent as soon as the daemon accepted the subscription.
        """
        async with self.client.stream("GET", "/v1/events", timeout=httpx.Timeout(None, connect=5.0)) as response:
            yield SSEEvent("connected", {})
            async for event in iter_sse(response):
                inner = event.data.get("data")
                yield SSEEvent(event.event, inner if isinstance(inner, dict) else event.data)
