"""Team mode against a real Postgres: the outbox triggers, pushes after writes, exactly once across a crash
between the Postgres commit and the outbox delete, backoff while Postgres is down, and the daemon's job.

Each test gets its own Postgres schema (dropped afterwards). Postgres down fails the test: run scripts/services.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mcpgw.config import TeamSettings
from mcpgw.paths import Paths
from mcpgw.store import Store, connect_sync
from mcpgw.store.db import migrate
from mcpgw.sync import outbox
from mcpgw.sync.outbox import OutboxPusher
from mcpgw.sync.postgres import PostgresSink
from mcpgw.sync.service import doctor_checks
from tests.conftest import app_client
from tests.fakes.upstreams import FakeOpenAI
from tests.test_gateway_e2e import chat, openai_fake, settings_for

_ = openai_fake
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"



@pytest.fixture(scope="module")
def pg_url() -> str:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"Postgres is not reachable at {PG_URL} ({exc}); start it with scripts/services")
    return PG_URL


@pytest.fixture
def schema(pg_url: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    db = await Store.open(tmp_path / "mcpgw.db")
    yield db
    await db.close()


def pg_rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


async def write_rows(store: Store, n: int, tag: str = "") -> None:
    """n traces, each with one LLM call, and one history entry, through the write-behind queue."""
    for i in range(n):
        store.enqueue(
            "INSERT INTO request_traces (id, request_type, routing_decisions, error_info, total_cost) "
            "VALUES (?, 'chat', ?, ?, ?)",
            (f"tr{tag}{i}", '[{"layer": "L1"}]', "not json" if i == 0 else None, 0.001),
        )
        store.enqueue(
            "INSERT INTO llm_calls (id, trace_id, provider, model, cost) VALUES (?, ?, 'openai', 'gpt-4o-mini', ?)",
            (f"call{tag}{i}", f"tr{tag}{i}", 0.001),
        )
    store.enqueue("INSERT INTO history (id, command, args) VALUES (?, 'chat', '[\"hi\"]')", (f"h{tag}",))
    await store.flush()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_triggers_fill_the_outbox_only_when_enabled(store: Store) -> None:
    await write_rows(store, 2, "a")
    assert await store.run(outbox.pending) == 0  # local install: no outbox
    source = await store.run(lambda c: outbox.enable(c, True))
    assert len(source) == 32
    await write_rows(store, 2, "b")
    rows = await store.read("SELECT table_name, row_id FROM sync_outbox ORDER BY seq")
    assert [tuple(r) for r in rows] == [
        ("request_traces", "trb0"), ("llm_calls", "callb0"), ("request_traces", "trb1"), ("llm_calls", "callb1"),
        ("history", "hb"),
    ]  # fmt: skip
    assert await store.run(lambda c: outbox.enable(c, True)) == source  # stable across restarts


async def test_push_after_writes(store: Store, pg_url: str, schema: str) -> None:
    pusher = OutboxPusher(store, PostgresSink(pg_url, schema=schema), interval_s=1, batch_size=3)
    await pusher.enable()
    await write_rows(store, 3)
    assert await pusher.push_all() == 7  # 3 traces + 3 calls + 1 history, in batches of 3
    status = await pusher.status()
    assert status["pending"] == 0 and status["pushed_total"] == 7 and status["last_push_at"]
    assert pg_rows(pg_url, f'SELECT count(*) FROM "{schema}".llm_calls WHERE source = %s', pusher.source_id) == [(3,)]
    traces = pg_rows(
        pg_url, f"SELECT id, routing_decisions->0->>'layer', error_info FROM \"{schema}\".request_traces ORDER BY id"
    )
    assert traces == [("tr0", "L1", "not json"), ("tr1", "L1", None), ("tr2", "L1", None)]
    assert pg_rows(pg_url, f'SELECT id, args->>0 FROM "{schema}".history') == [("h", "hi")]
    meta = pg_rows(pg_url, f"SELECT key, value->>'version' FROM \"{schema}\".mcpgw_sync_meta ORDER BY key")
    assert meta[0][0] == "schema_version" and meta[1][0] == f"source:{pusher.source_id}"
    await pusher.stop()


async def test_exactly_once_when_the_daemon_dies_between_commit_and_delete(
    store: Store, pg_url: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = OutboxPusher(store, PostgresSink(pg_url, schema=schema), interval_s=1)
    await first.enable()
    await write_rows(store, 4)

    def crash(conn: Any, last_seq: int) -> int:
        raise RuntimeError("killed before the outbox delete")

    monkeypatch.setattr(outbox, "delete_through", crash)
    with pytest.raises(RuntimeError):
        await first.push_once()
    await first.stop()
    assert await store.run(outbox.pending) == 9  # Postgres has the rows, the outbox still names them
    monkeypatch.undo()

    restarted = OutboxPusher(store, PostgresSink(pg_url, schema=schema), interval_s=1)
    await restarted.enable()
    assert await restarted.push_all() == 9
    for table, n in (("request_traces", 4), ("llm_calls", 4), ("history", 1)):
        assert pg_rows(pg_url, f'SELECT count(*), count(DISTINCT id) FROM "{schema}".{table}') == [(n, n)]
    assert await store.run(outbox.pending) == 0
    # the same rows again insert nothing
    batch_rows = {"history": [{"id": "h", "command": "chat", "args": "[]"}]}
    assert await restarted.sink.push(batch_rows, restarted.source_id, {}) == 0
    await restarted.stop()


async def test_postgres_down_backs_off_keeps_rows_then_catches_up(store: Store, pg_url: str, schema: str) -> None:
    down = PostgresSink(f"postgresql://postgres@127.0.0.1:{closed_port()}/test", schema=schema)
    pusher = OutboxPusher(store, down, interval_s=0.5, max_backoff_s=3)
    await pusher.enable()
    await write_rows(store, 2)
    await pusher.run_once()
    await pusher.run_once()
    status = await pusher.status()
    assert status["consecutive_failures"] == 2 and status["pending"] == 5
    assert "cannot push to the team Postgres" in status["last_error"]
    assert status["retry_in_s"] == 2.0  # 0.5 s doubled per failure
    for _ in range(5):
        await pusher.run_once()
    assert pusher.next_delay_s == 3  # capped
    assert pusher.last_push_at is None

    pusher.sink = PostgresSink(pg_url, schema=schema)  # Postgres is back
    await pusher.run_once()
    status = await pusher.status()
    assert status["consecutive_failures"] == 0 and status["pending"] == 0 and status["retry_in_s"] is None
    assert pg_rows(pg_url, f'SELECT count(*) FROM "{schema}".request_traces') == [(2,)]
    await pusher.stop()


async def test_the_daemon_pushes_its_traces_in_the_background(
    paths: Paths, openai_fake: FakeOpenAI, pg_url: str, schema: str
) -> None:
    settings = settings_for(paths, "[routing.layers]\nL1 = ['openai/gpt-4o-mini']\n")
    team = TeamSettings.model_validate({"postgres_url": pg_url, "push_interval_s": 0.05, "pg_schema": schema})
    settings = settings.model_copy(update={"team": team})
    async with app_client(paths, settings) as client:
        assert (await chat(client, layer="L1")).status_code == 200
        state = client.app.state.daemon  # type: ignore[attr-defined]
        await state.store.flush()
        team = state.services["team"]
        for _ in range(200):  # wait for the job (polling, no timing assertion)
            if (await team.status())["postgres"]["pending"] == 0 and team.pusher.pushed_total:
                break
            await asyncio.sleep(0.05)
        status = await team.status()
        assert status["postgres"]["pending"] == 0 and status["postgres"]["last_error"] is None
        source = status["postgres"]["source_id"]
    rows = pg_rows(pg_url, f'SELECT provider, model, layer FROM "{schema}".llm_calls WHERE source = %s', source)
    assert rows == [("openai", "gpt-4o-mini", "L1")]
    assert pg_rows(pg_url, f'SELECT count(*) FROM "{schema}".request_traces WHERE source = %s', source) == [(1,)]


async def test_team_off_switches_the_outbox_off(paths: Paths, openai_fake: FakeOpenAI) -> None:
    paths.ensure()
    db = connect_sync(paths.db_path)
    migrate(db)
    outbox.enable(db, True)  # team mode was on in an earlier run
    db.close()
    async with app_client(paths, settings_for(paths)) as client:
        state = client.app.state.daemon  # type: ignore[attr-defined]
        assert "team" not in state.services
        assert await doctor_checks(state) == []
        row = await state.store.read_one("SELECT enabled FROM sync_settings")
        assert row[0] == 0


async def test_doctor_reports_rows_waiting_while_postgres_is_down(
    paths: Paths, openai_fake: FakeOpenAI, schema: str
) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{closed_port()}/test"
    team = TeamSettings.model_validate({"postgres_url": dead, "push_interval_s": 0.05, "pg_schema": schema})
    settings = settings_for(paths, "[routing.layers]\nL1 = ['openai/gpt-4o-mini']\n").model_copy(update={"team": team})
    async with app_client(paths, settings) as client:
        assert (await chat(client, layer="L1")).status_code == 200  # requests never wait for the push
        state = client.app.state.daemon  # type: ignore[attr-defined]
        await state.store.flush()
        pusher = state.services["team"].pusher
        pusher.poke()
        for _ in range(200):
            if pusher.failures >= 2:
                break
            await asyncio.sleep(0.05)
        [check] = await doctor_checks(state)
        assert check.status == "warn" and check.name == "team sync"
        assert check.message.startswith("2 rows wait in the outbox")  # the trace and its LLM call
        assert "Postgres" in (check.fix or "")
