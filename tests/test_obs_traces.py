"""Trace recording and reads, analytics exactness (rollups + raw edge days == the raw rows), and the
routes in-process (the daemon app on ASGITransport with a real SQLite file)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest

from mcpgw.analytics.queries import Filters, TimeRange, error_rates, parse_range, top_requests, usage_report
from mcpgw.errors import UsageError
from mcpgw.paths import Paths
from mcpgw.store.db import Store, connect_sync, migrate
from mcpgw.store.migrations import MIGRATIONS
from mcpgw.store.traces import enqueue_trace, iso_utc, trace_rows
from tests.conftest import app_client

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
MODELS = [("openai", "gpt-4o-mini", "L1"), ("anthropic", "claude-3-haiku", "L2"), ("ollama", "llama3", "L0")]


def synthetic(n: int, seed: int = 3) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        at = START + dt.timedelta(seconds=rng.random() * 10 * 86400)
        provider, model, layer = rng.choice(MODELS)
        failed = rng.random() < 0.1
        trace = {
            "request_type": rng.choice(["chat", "code-agent"]),
            "project_id": rng.choice(["a", "b", None]),
            "user_id": rng.choice(["u1", "u2"]),
            "created_at": iso_utc(at),
            "status": "error" if failed else "ok",
            "total_duration_ms": rng.randint(10, 900),
        }
        call = {
            "provider": provider, "model": model, "layer": layer, "input_tokens": rng.randint(1, 500),
            "output_tokens": rng.randint(1, 300), "cost": round(rng.random() / 100, 6),
            "duration_ms": rng.randint(10, 900), "status": "error" if failed else "ok", "cached": i % 7 == 0,
        }  # fmt: skip
        out.append((trace, [call]))
    return out


def brute(data: list[tuple[dict[str, Any], list[dict[str, Any]]]], rng: TimeRange, flt: Filters) -> dict[str, Any]:
    """The expected totals, straight from the synthetic rows."""
    calls = [
        c for t, cs in data for c in cs
        if rng.start_iso <= t["created_at"] < rng.end_iso
        and (flt.project is None or (t["project_id"] or "") == flt.project)
        and (flt.model is None or f"{c['provider']}/{c['model']}" == flt.model)
    ]  # fmt: skip
    by_model: dict[str, int] = {}
    for c in calls:
        by_model[f"{c['provider']}/{c['model']}"] = by_model.get(f"{c['provider']}/{c['model']}", 0) + 1
    return {
        "requests": len(calls),
        "cost": sum(c["cost"] for c in calls),
        "tokens": sum(c["input_tokens"] + c["output_tokens"] for c in calls),
        "errors": sum(c["status"] == "error" for c in calls),
        "by_model": by_model,
    }


@pytest.fixture
def db(tmp_path: Path) -> Any:
    conn = connect_sync(tmp_path / "t.db")
    migrate(conn)
    yield conn
    conn.close()


def fill(conn: Any, data: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
    conn.execute("BEGIN")
    for trace, calls in data:
        for sql, params in trace_rows(trace, calls):
            conn.execute(sql, params)
    conn.execute("COMMIT")


@pytest.mark.parametrize(
    ("since", "until", "flt"),
    [
        ("2026-01-01", "2026-01-10", Filters()),  # whole days only (rollup)
        ("2026-01-02T13:17:00Z", "2026-01-07T08:05:00Z", Filters()),  # partial days at both edges
        ("2026-01-03T01:00:00Z", "2026-01-03T22:00:00Z", Filters()),  # inside one day (raw only)
        ("2026-01-02T06:00:00Z", "2026-01-09T18:00:00Z", Filters(project="a")),
        ("2026-01-02T06:00:00Z", "2026-01-09T18:00:00Z", Filters(project="")),  # no project
        ("2026-01-01", "2026-01-10", Filters(model="anthropic/claude-3-haiku")),
    ],
)
def test_usage_report_equals_raw_rows(db: Any, since: str, until: str, flt: Filters) -> None:
    data = synthetic(600)
    fill(db, data)
    rng = parse_range(since, until)
    report = usage_report(db, rng, flt)
    want = brute(data, rng, flt)
    assert report["total_requests"] == want["requests"] > 0
    assert report["total_cost"] == pytest.approx(want["cost"])
    assert report["total_tokens"]["total"] == want["tokens"]
    assert report["total_errors"] == want["errors"]
    assert {k: v["requests"] for k, v in report["breakdown"]["by_model"].items()} == want["by_model"]
    assert sum(d["requests"] for d in report["breakdown"]["by_day"]) == want["requests"]
    assert sum(v["requests"] for v in report["breakdown"]["by_layer"].values()) == want["requests"]
    assert sum(v["cost"] for v in report["breakdown"]["by_project"].values()) == pytest.approx(want["cost"])


def test_rollups_follow_deletes_and_backfill_old_rows(tmp_path: Path) -> None:
    conn = connect_sync(tmp_path / "old.db")
    conn.execute("CREATE TABLE _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT)")
    for m in MIGRATIONS:  # a database from before migration 0006, with history in it
        if m.version < 6:
            m.up(conn)
            conn.execute("INSERT INTO _migrations (version, name) VALUES (?, ?)", (m.version, m.name))
    data = synthetic(200)
    for trace, calls in data:
        for sql, params in trace_rows(trace, calls):
            conn.execute(sql, params)
    assert "0006_observability" in migrate(conn)
    rng = parse_range("2026-01-01", "2026-01-11")
    assert usage_report(conn, rng)["total_requests"] == 200
    assert error_rates(conn, rng)["requests"] == 200
    conn.execute("DELETE FROM llm_calls WHERE provider = 'ollama'")
    want = brute([(t, [c for c in cs if c["provider"] != "ollama"]) for t, cs in data], rng, Filters())
    report = usage_report(conn, rng)
    assert report["total_requests"] == want["requests"]
    assert report["total_cost"] == pytest.approx(want["cost"])
    conn.close()


def test_error_rates_and_top_requests(db: Any) -> None:
    data = synthetic(300)
    fill(db, data)
    rng = parse_range("2026-01-01T12:00:00Z", "2026-01-08T12:00:00Z")
    inside = [t for t, _ in data if rng.start_iso <= t["created_at"] < rng.end_iso]
    rates = error_rates(db, rng)
    assert rates["requests"] == len(inside)
    assert rates["errors"] == sum(t["status"] == "error" for t in inside)
    top = top_requests(db, rng, limit=5)["requests"]
    want = sorted((c["cost"] for t, cs in data for c in cs if rng.start_iso <= t["created_at"] < rng.end_iso),
                  reverse=True)[:5]  # fmt: skip
    assert [t["total_cost"] for t in top] == pytest.approx(want)


def test_parse_range_errors_and_whole_days() -> None:
    rng = parse_range("2026-01-05", "2026-01-05")
    assert (rng.start_iso, rng.end_iso) == ("2026-01-05T00:00:00.000Z", "2026-01-06T00:00:00.000Z")
    now = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
    assert parse_range("24h", None, now=now).start == now - dt.timedelta(hours=24)
    with pytest.raises(UsageError) as err:
        parse_range("last tuesday", None)
    assert err.value.fix and "7d" in err.value.fix
    with pytest.raises(UsageError):
        parse_range("2026-01-06", "2026-01-05")


async def test_enqueue_trace_rejects_bad_input(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "x.db")
    try:
        with pytest.raises(UsageError, match="unknown keys"):
            enqueue_trace(store, {"request_type": "chat", "bogus": 1}, [])
        with pytest.raises(UsageError, match="provider and model"):
            enqueue_trace(store, {"request_type": "chat"}, [{"model": "m"}])
        with pytest.raises(UsageError, match="status"):
            enqueue_trace(store, {"request_type": "chat", "status": "weird"}, [])
        assert store.pending == 0  # nothing half-written
    finally:
        await store.close()


async def test_routes_list_show_mask_and_analytics(paths: Paths) -> None:
    async with app_client(paths) as client:
        store = client.app.state.store  # type: ignore[attr-defined]
        ok_id, err_id = "01" * 16, "02" * 16
        enqueue_trace(
            store,
            {"id": ok_id, "request_type": "mcp-tool", "project_id": "p1",
             "routing_decisions": [{"layer": "L1", "reason": "default", "modelSelected": "openai/gpt-4o-mini"}],
             "tool_calls": [{"toolName": "fs_read", "args": {"path": "a.py", "api_key": "plain-secret-value",
                             "note": "token sk-abcdefghijklmnopqrstuvwxyz1234"}, "durationMs": 3}]},
            [{"provider": "openai", "model": "gpt-4o-mini", "layer": "L1", "cost": 0.25, "input_tokens": 7,
              "output_tokens": 3}],
        )  # fmt: skip
        enqueue_trace(
            store,
            {"id": err_id, "request_type": "chat", "status": "error", "error_info": {"type": "no-route",
             "message": "no usable model"}},
            [],
        )  # fmt: skip
        listed = (await client.get("/v1/traces")).json()["traces"]
        assert [t["id"] for t in listed] == [err_id, ok_id]
        assert listed[1]["models"] == ["gpt-4o-mini"] and listed[1]["layer"] == "L1"
        failed = (await client.get("/v1/traces", params={"status": "error"})).json()["traces"]
        assert [t["id"] for t in failed] == [err_id] and failed[0]["error"] == "no usable model"
        assert [t["id"] for t in (await client.get("/v1/traces", params={"project": "p1"})).json()["traces"]] == [ok_id]

        shown = (await client.get(f"/v1/traces/{ok_id[:8]}")).json()
        args = shown["tool_calls"][0]["args"]
        assert args["api_key"] == "***" and "sk-" not in args["note"] and args["path"] == "a.py"
        assert shown["llm_call_rows"][0]["trace_id"] == ok_id and shown["project_id"] == "p1"
        stored = await store.read_one("SELECT tool_calls FROM request_traces WHERE id = ?", (ok_id,))
        assert "plain-secret-value" not in stored[0]  # masked before it reached the disk

        missing = await client.get("/v1/traces/" + "9" * 32)
        assert missing.status_code == 404 and missing.json()["fix"]

        report = (await client.get("/v1/analytics/by-model", params={"since": "1d"})).json()
        assert report["total_requests"] == 1 and report["total_cost"] == pytest.approx(0.25)
        assert report["breakdown"]["by_model"]["openai/gpt-4o-mini"]["tokens"] == 10
        by_project = (await client.get("/v1/analytics/by-project", params={"projectId": "nope"})).json()
        assert by_project["total_requests"] == 0
        errors = (await client.get("/v1/analytics/errors", params={"since": "1d"})).json()
        assert (errors["requests"], errors["errors"]) == (2, 1)
        bad = await client.get("/v1/analytics", params={"since": "soon"})
        assert bad.status_code == 400 and "7d" in bad.json()["fix"]
