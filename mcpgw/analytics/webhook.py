"""Deliver cost alerts to a webhook: generic JSON that Slack and Discord incoming webhooks also accept.

Delivery is an outbox: an alert is stored first with ``delivery_status = 'pending'``, then a background
loop POSTs it (timeout per attempt, exponential backoff with jitter between attempts, no attempt limit)
and marks it ``delivered`` on a 2xx answer. A receiver that is down loses nothing: the alert stays
pending in the database, across daemon restarts, until it gets through. Requests are never delayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import sqlean

from mcpgw.errors import StoreError
from mcpgw.store.traces import now_iso

if TYPE_CHECKING:
    from mcpgw.store.db import Store

log = logging.getLogger(__name__)
DISCORD_MAX = 2000


def payload(alert: dict[str, Any]) -> dict[str, Any]:
    """The JSON body: ``text`` (Slack), ``content`` (Discord) and the full alert under ``alert``."""
    text = f"mcpgw cost alert ({alert['type']}): {alert['message']}"
    return {"text": text, "content": text[:DISCORD_MAX], "alert": alert}


class WebhookSender:
    """Background delivery of pending alerts to one URL."""

    def __init__(
        self,
        store: Store,
        url: str,
        *,
        timeout_s: float = 5.0,
        base_delay_s: float = 2.0,
        max_delay_s: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.store = store
        self.url = url
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), transport=transport)
        self._wake = asyncio.Event()
        self._retry_at: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mcpgw-alert-webhook")
        self._wake.set()  # deliver what an earlier run left pending

    def kick(self) -> None:
        """New alerts are pending: deliver them now."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    async def deliver_pending(self) -> float | None:
        """One pass over the due pending alerts; returns seconds until the next retry (None: nothing left)."""
        from mcpgw.analytics.guardrail import alert_dict

        rows = await self.store.run(_pending)
        now = time.monotonic()
        next_due: float | None = None
        for row in rows:
            alert = alert_dict(row)
            due = self._retry_at.get(alert["id"], 0.0)
            if due > now:
                next_due = min(next_due or due, due)
                continue
            error = await self._post(alert)
            attempts = int(row["delivery_attempts"]) + 1
            if error is None:
                self._retry_at.pop(alert["id"], None)
                await self.store.write(
                    "UPDATE alerts SET delivery_status = 'delivered', delivery_attempts = ?, delivered_at = ?, "
                    "last_delivery_error = NULL WHERE id = ?",
                    (attempts, now_iso(), alert["id"]),
                )
                continue
            delay = min(self.max_delay_s, self.base_delay_s * 2 ** min(attempts - 1, 20))
            delay *= 0.5 + random.random() / 2
            self._retry_at[alert["id"]] = time.monotonic() + delay
            next_due = min(next_due or self._retry_at[alert["id"]], self._retry_at[alert["id"]])
            log.warning("alert %s: webhook delivery attempt %d failed: %s", alert["id"], attempts, error)
            await self.store.write(
                "UPDATE alerts SET delivery_attempts = ?, last_delivery_error = ? WHERE id = ?",
                (attempts, error, alert["id"]),
            )
        return None if next_due is None else max(0.0, next_due - time.monotonic())

    async def _post(self, alert: dict[str, Any]) -> str | None:
        """POST one alert; None on success, else a one-line reason."""
        try:
            response = await self._client.post(
                self.url, content=orjson.dumps(payload(alert)), headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    async def _loop(self) -> None:
        wait: float | None = None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            self._wake.clear()
            try:
                wait = await self.deliver_pending()
            except (StoreError, sqlean.Error) as exc:
                log.error("alert delivery pass failed: %s", exc)
                wait = self.max_delay_s


def _pending(conn: sqlean.Connection) -> list[Any]:
    rows: list[Any] = conn.execute(
        "SELECT * FROM alerts WHERE delivery_status = 'pending' ORDER BY created_at LIMIT 100"
    ).fetchall()
    return rows
