"""Observability as a user sees it: a real daemon, a fake OpenAI upstream, the CLI as a subprocess.

A few `mcpgw chat` calls → `traces list/show` → `analytics --by model` totals; then a synthetic cost spike
in the database → `mcpgw alerts check` → the alert reaches a real webhook receiver → `alerts ack`.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator

import pytest

from mcpgw.paths import Paths
from mcpgw.store import connect_sync
from mcpgw.store.db import migrate
from mcpgw.store.traces import iso_utc, trace_rows
from tests.conftest import run_cli
from tests.fakes.upstreams import FakeOpenAI
from tests.test_obs_guardrail import Receiver


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-obs-test") as f:
        yield f


def test_chats_are_traced_and_counted(env: dict[str, str], paths: Paths, fake: FakeOpenAI) -> None:
    genv = {**env, "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-obs-test"}
    try:
        costs = []
        for i in range(3):
            fake.reply(f"answer {i}")
            r = run_cli(genv, "chat", f"question {i}", "--json")
            assert r.returncode == 0, r.stderr
            costs.append(json.loads(r.stdout)["performance"]["cost_usd"])
        r = run_cli(genv, "traces", "list", "--json")
        assert r.returncode == 0, r.stderr
        traces = json.loads(r.stdout)
        chats = [t for t in traces if t["request_type"] == "chat"]
        assert len(chats) == 3
        for t in chats:
            assert {"id", "created_at", "request_type", "total_cost", "total_duration_ms", "status"} <= set(t)
            assert t["status"] == "ok" and t["total_cost"] > 0
        assert sum(t["total_cost"] for t in chats) == pytest.approx(sum(costs))

        r = run_cli(genv, "traces", "show", chats[0]["id"], "--json")
        assert r.returncode == 0, r.stderr
        shown = json.loads(r.stdout)
        assert shown["routing_decisions"] and shown["routing_decisions"][-1]["layer"] == "L1"
        [call] = shown["llm_calls"]
        assert call["model"] == "gpt-4o-mini" and call["provider"] == "openai"
        assert shown["tool_calls"] == []
        r = run_cli(genv, "traces", "show", chats[0]["id"][:10])
        assert r.returncode == 0, r.stderr
        assert "routing decisions (" in r.stdout and "openai/gpt-4o-mini" in r.stdout and "LLM calls (1)" in r.stdout

        r = run_cli(genv, "analytics", "--by", "model", "--json")
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        assert report["total_requests"] == 3
        assert report["total_cost"] == pytest.approx(sum(costs))
        assert report["breakdown"]["by_model"]["openai/gpt-4o-mini"]["requests"] == 3
        assert report["total_tokens"]["total"] == report["total_tokens"]["input"] + report["total_tokens"]["output"] > 0
        r = run_cli(genv, "analytics", "--by", "model")
        assert r.returncode == 0, r.stderr
        assert "openai/gpt-4o-mini" in r.stdout and "cost per day" in r.stdout and "█" in r.stdout

        r = run_cli(genv, "traces", "show", "ffffffffffffffff")
        assert r.returncode == 1 and "no trace" in r.stderr and "Traceback" not in r.stderr
        r = run_cli(genv, "analytics", "--since", "yesterdayish")
        assert r.returncode == 2 and "Fix:" in r.stderr
    finally:
        run_cli(genv, "daemon", "stop")


def _synthetic_spike(paths: Paths, now: dt.datetime) -> None:
    """14 days of ~$1 per 15 min at this time of day, then $5 in the last few minutes."""
    paths.ensure()
    conn = connect_sync(paths.db_path)
    migrate(conn)
    conn.execute("BEGIN")
    for k in range(1, 15):
        at = now - dt.timedelta(days=k, minutes=5)
        cost = (0.9, 1.0, 1.1)[k % 3]
        for sql, params in trace_rows(
            {"request_type": "chat", "project_id": "web", "created_at": iso_utc(at)},
            [{"provider": "openai", "model": "gpt-4o", "cost": cost}],
        ):
            conn.execute(sql, params)
    for sql, params in trace_rows(
        {"request_type": "chat", "project_id": "web", "created_at": iso_utc(now - dt.timedelta(minutes=3))},
        [{"provider": "openai", "model": "gpt-4o", "cost": 5.0}],
    ):
        conn.execute(sql, params)
    conn.execute("COMMIT")
    conn.close()


def test_spike_alert_reaches_webhook(env: dict[str, str], paths: Paths) -> None:
    _synthetic_spike(paths, dt.datetime.now(dt.UTC))
    receiver = Receiver()
    aenv = {**env, "COST_GUARDRAIL_WEBHOOK_URL": receiver.url, "COST_ANOMALY_WINDOW_MINUTES": "15"}
    try:
        r = run_cli(aenv, "alerts", "check", "--json")
        assert r.returncode == 0, r.stderr
        [alert] = json.loads(r.stdout)
        assert alert["type"] == "anomaly" and alert["metric"] == "cost"
        assert alert["current_cost"] == pytest.approx(5.0) and alert["expected_cost"] == pytest.approx(1.0)
        assert alert["affected_projects"] == ["web"]
        deadline = time.monotonic() + 20
        while not receiver.bodies and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [b["alert"]["id"] for b in receiver.bodies] == [alert["id"]]
        r = run_cli(aenv, "alerts", "ack", alert["id"])
        assert r.returncode == 0, r.stderr
        listed = json.loads(run_cli(aenv, "alerts", "list", "--json").stdout)
        assert listed[0]["id"] == alert["id"] and listed[0]["acknowledged"] is True
        assert listed[0]["delivery"]["status"] == "delivered"
        assert json.loads(run_cli(aenv, "alerts", "list", "--open", "--json").stdout) == []
        r = run_cli(aenv, "alerts", "ack", "nope")
        assert r.returncode == 1 and "no alert" in r.stderr
    finally:
        run_cli(aenv, "daemon", "stop")
        receiver.close()
