"""In-process publish/subscribe for live updates (new traces, cost alerts, index progress).

``GET /v1/events`` streams them as Server-Sent Events. A slow subscriber never blocks a publisher:
its queue is bounded and the oldest events are dropped for it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson


class EventBus:
    def __init__(self, queue_size: int = 256) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._queue_size = queue_size
        self.closed = False

    def close(self) -> None:
        """Tell every subscriber the daemon is stopping (their streams end, so the drain is not held up)."""
        self.closed = True
        self.publish("shutdown", {})

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        event = {"type": kind, "time": time.time(), "data": data}
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


def sse_frame(event: dict[str, Any]) -> bytes:
    payload: bytes = orjson.dumps(event)
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + payload + b"\n\n"
