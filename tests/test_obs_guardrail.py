"""The cost guardrail against synthetic histories in a real SQLite file, and webhook delivery to a real
local HTTP receiver (including a receiver that is down at first)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mcpgw.analytics.guardrail import Guardrail, GuardrailConfig
from mcpgw.daemon.events import EventBus
from mcpgw.store.db import Store
from mcpgw.store.traces import enqueue_trace, iso_utc

NOW = dt.datetime(2026, 3, 18, 10, 0, tzinfo=dt.UTC)  # a Wednesday, 10:00 UTC
VARIATION = (0.8, 0.9, 1.0, 1.1, 1.2)  # normal day-to-day variation of a window's spend around its level


class Receiver:
    """A real HTTP server on loopback that records the JSON bodies POSTed to it."""

    def __init__(self, port: int = 0) -> None:
        bodies: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["content-length"])
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.bodies = bodies
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def add_calls(
    store: Store, end: dt.datetime, cost: float, *, n: int = 4, project: str = "web", errors: int = 0,
    minutes: float = 15,
) -> None:  # fmt: skip
    """``n`` requests spread over the ``minutes`` before ``end`` costing ``cost`` in total; ``errors`` failed."""
    for i in range(n):
        at = end - dt.timedelta(minutes=minutes) + dt.timedelta(minutes=minutes * (i + 0.5) / n)
        failed = i < errors
        enqueue_trace(
            store,
            {"request_type": "chat", "project_id": project, "created_at": iso_utc(at),
             "status": "error" if failed else "ok", "error_info": {"message": "upstream 500"} if failed else None},
            [{"provider": "openai", "model": "gpt-4o-mini", "layer": "L1", "cost": cost / n,
              "status": "error" if failed else "ok", "input_tokens": 100, "output_tokens": 50}],
        )  # fmt: skip


async def history(store: Store, *, days: int = 14, level: float = 1.0, night_level: float = 0.05) -> None:
    """A daily rhythm: each day, the 15-min window ending at 10:00 costs ``level`` × variation, and the
    same window at 03:00 (night) costs ``night_level`` × variation."""
    for k in range(1, days + 1):
        factor = VARIATION[k % len(VARIATION)]
        add_calls(store, NOW - dt.timedelta(days=k), level * factor)
        add_calls(store, NOW - dt.timedelta(days=k, hours=7), night_level * factor)
    await store.flush()


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    db = await Store.open(tmp_path / "obs.db")
    yield db
    await db.close()


async def test_normal_variation_raises_no_alert(store: Store) -> None:
    await history(store)
    events = EventBus()
    guardrail = Guardrail(store, events, GuardrailConfig())
    # Busy morning at the usual level (a fixed threshold on the night level would fire here).
    add_calls(store, NOW, 1.2)
    assert await guardrail.check(NOW) == []
    # Quiet night at its usual level.
    add_calls(store, NOW - dt.timedelta(hours=7), 0.06)
    assert await guardrail.check(NOW - dt.timedelta(hours=7)) == []


async def test_three_times_spike_raises_cost_anomaly(store: Store) -> None:
    await history(store)
    events = EventBus()
    queue = events.subscribe()
    guardrail = Guardrail(store, events, GuardrailConfig(threshold_multiplier=3.0))
    add_calls(store, NOW, 2.4, project="web")
    add_calls(store, NOW, 0.6, project="batch-job")  # 3.0 in total: 3× the median level of 1.0
    alerts = await guardrail.check(NOW)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["type"] == "anomaly" and alert["metric"] == "cost"
    assert alert["current_cost"] == pytest.approx(3.0)
    assert alert["expected_cost"] == pytest.approx(1.0)
    assert alert["multiplier"] == pytest.approx(3.0)
    assert alert["window_minutes"] == 15
    assert alert["affected_projects"][0] == "web"
    assert alert["details"]["baseline"] == "time-of-day"
    event = queue.get_nowait()
    assert event["type"] == "alert" and event["data"]["id"] == alert["id"]
    # Same window checked again (the next job round): no duplicate.
    assert await guardrail.check(NOW + dt.timedelta(minutes=5)) == []


async def test_spike_at_night_is_judged_against_the_night(store: Store) -> None:
    await history(store)
    guardrail = Guardrail(store, EventBus(), GuardrailConfig())
    night = NOW - dt.timedelta(hours=7)
    add_calls(store, night, 0.9)  # far below the daytime level, but 18× the usual night spend
    alerts = await guardrail.check(night)
    assert [a["metric"] for a in alerts] == ["cost"]
    assert alerts[0]["expected_cost"] == pytest.approx(0.05)


async def test_error_burst_raises_error_rate_anomaly(store: Store) -> None:
    await history(store)
    guardrail = Guardrail(store, EventBus(), GuardrailConfig())
    add_calls(store, NOW, 1.0, n=10, errors=6)
    alerts = await guardrail.check(NOW)
    assert [a["metric"] for a in alerts] == ["error_rate"]
    assert alerts[0]["current_error_rate"] == pytest.approx(0.6)
    assert alerts[0]["expected_error_rate"] == 0


async def test_no_history_means_no_anomaly(store: Store) -> None:
    add_calls(store, NOW, 50.0)
    assert await Guardrail(store, EventBus(), GuardrailConfig()).check(NOW) == []


async def test_budget_thresholds_alert_once_per_level(store: Store) -> None:
    cfg = GuardrailConfig(daily_usd=10.0, project_budgets={"web": {"daily_usd": 4.0}})
    guardrail = Guardrail(store, EventBus(), cfg)
    add_calls(store, NOW - dt.timedelta(hours=2), 3.0, project="web")
    first = await guardrail.check(NOW)
    assert [(a["type"], a["message"].split(":")[0]) for a in first] == [
        ("threshold_exceeded", "daily budget of project web")
    ]
    assert first[0]["threshold_multiplier"] == 0.5  # 3.0 of 4.0 crosses the 50 % level only
    assert await guardrail.check(NOW) == []  # same level, same day: not again
    add_calls(store, NOW - dt.timedelta(hours=1), 3.0, project="other")
    second = await guardrail.check(NOW)
    labels = sorted((a["message"].split(":")[0], a["details"]["percent"]) for a in second)
    assert labels == [("daily budget", 50.0)]
    add_calls(store, NOW - dt.timedelta(minutes=30), 2.0, project="web")
    third = await guardrail.check(NOW)
    assert sorted((a["message"].split(":")[0], a["details"]["percent"]) for a in third) == [
        ("daily budget", 80.0), ("daily budget of project web", 100.0)
    ]  # fmt: skip


async def test_alert_reaches_webhook_receiver(store: Store) -> None:
    await history(store)
    receiver = Receiver()
    try:
        guardrail = Guardrail(store, EventBus(), GuardrailConfig(), webhook_url=receiver.url)
        guardrail.start()
        add_calls(store, NOW, 4.0)
        [alert] = await guardrail.check(NOW)
        for _ in range(200):
            if receiver.bodies:
                break
            await asyncio.sleep(0.02)
        await guardrail.stop()
    finally:
        receiver.close()
    [body] = receiver.bodies
    assert body["alert"]["id"] == alert["id"]
    assert "cost alert" in body["text"] and body["content"] == body["text"]  # Slack + Discord
    row = await store.read_one("SELECT delivery_status, delivery_attempts FROM alerts WHERE id = ?", (alert["id"],))
    assert (row[0], row[1]) == ("delivered", 1)


async def test_receiver_down_loses_no_alert(store: Store) -> None:
    await history(store)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    guardrail = Guardrail(store, EventBus(), GuardrailConfig(), webhook_url=url)
    assert guardrail.sender is not None
    guardrail.sender.base_delay_s = 0.05
    guardrail.start()
    add_calls(store, NOW, 4.0)
    [alert] = await guardrail.check(NOW)
    for _ in range(200):  # wait for failed attempts to be recorded
        row = await store.read_one("SELECT delivery_attempts, delivery_status FROM alerts WHERE id = ?", (alert["id"],))
        if row[0] >= 2:
            break
        await asyncio.sleep(0.02)
    assert row[0] >= 2 and row[1] == "pending"
    await guardrail.stop()  # the daemon stops with the alert still undelivered

    receiver = Receiver(port)  # the receiver comes back; a new daemon run delivers what was kept
    try:
        again = Guardrail(store, EventBus(), GuardrailConfig(), webhook_url=url)
        again.start()
        for _ in range(200):
            if receiver.bodies:
                break
            await asyncio.sleep(0.02)
        await again.stop()
    finally:
        receiver.close()
    assert [b["alert"]["id"] for b in receiver.bodies] == [alert["id"]]
    row = await store.read_one("SELECT delivery_status FROM alerts WHERE id = ?", (alert["id"],))
    assert row[0] == "delivered"
