"""Team mode against a real Redis: atomic reserve/settle, expired reservations, two processes that cannot
overspend together, fail-open when Redis is down, and two daemon apps sharing the cache and the budget.

Each test uses its own key prefix (its keys are deleted afterwards). Redis down fails the test: run
scripts/services.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from mcpgw.config import Settings, TeamSettings
from mcpgw.errors import BudgetExceeded
from mcpgw.gateway.budget import Limits
from mcpgw.paths import Paths, resolve_paths
from mcpgw.sync.redis import Breaker, SharedBudget, SharedCache, SharedReservation, connect
from tests.conftest import app_client
from tests.fakes.upstreams import FakeOpenAI
from tests.test_gateway_e2e import chat, chat_requests, openai_fake, settings_for

_ = openai_fake
REDIS_URL = "redis://127.0.0.1:6379/0"
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)



@pytest.fixture(scope="module")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except (redis.RedisError, OSError) as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); start it with scripts/services")
    return REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"mcpgw-test-{uuid.uuid4().hex[:10]}:"
    yield name
    sync = redis.Redis.from_url(redis_url)
    keys = list(sync.scan_iter(match=f"{name}*"))
    if keys:
        sync.delete(*keys)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = connect(redis_url)
    yield c
    await c.aclose()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_reserve_refuses_over_the_limit_and_settle_books_the_actual_cost(
    client: aioredis.Redis, prefix: str
) -> None:
    book = SharedBudget(client, prefix=prefix)
    limits = {"global": Limits(daily_usd=1.0), "project:p1": Limits(monthly_usd=5.0)}
    first = await book.reserve(0.6, limits, now=NOW)
    assert isinstance(first, SharedReservation)
    with pytest.raises(BudgetExceeded) as info:
        await book.reserve(0.5, limits, now=NOW)
    assert "team's daily budget" in info.value.message and info.value.details["shared"] is True
    assert info.value.details["remaining_usd"] == pytest.approx(0.4)
    usage = await book.usage("global", now=NOW)
    assert usage["reserved_today_usd"] == pytest.approx(0.6)  # the refused one reserved nothing
    book.settle(first, 0.1)
    await book.drain()
    usage = await book.usage("global", now=NOW)
    assert usage == {"spent_today_usd": 0.1, "reserved_today_usd": 0.0, "spent_month_usd": 0.1,
                     "reserved_month_usd": 0.0}  # fmt: skip
    assert (await book.usage("project:p1", now=NOW))["spent_month_usd"] == 0.1
    assert await book.reserve(0.5, limits, now=NOW) is not None  # fits now: 0.1 spent
    assert await book.reserve(0.0, limits, now=NOW) is None  # $0 never touches Redis
    ttl = await client.ttl(f"{prefix}budget:global:2026-11-25:spent")
    assert 0 < ttl <= 86_400 * 2  # day keys expire a day after their day


async def test_a_dead_daemons_reservation_expires(client: aioredis.Redis, prefix: str) -> None:
    book = SharedBudget(client, prefix=prefix, reservation_ttl_s=0.2)
    limits = {"global": Limits(daily_usd=1.0)}
    assert await book.reserve(0.9, limits, now=NOW) is not None  # never settled: its daemon died
    with pytest.raises(BudgetExceeded):
        await book.reserve(0.9, limits, now=NOW)
    await asyncio.sleep(0.3)
    assert await book.reserve(0.9, limits, now=NOW) is not None


_WORKER = """
import asyncio, datetime as dt, json, sys
from mcpgw.errors import BudgetExceeded
from mcpgw.gateway.budget import Limits
from mcpgw.sync.redis import SharedBudget, connect

async def main(url, prefix):
    client = connect(url, timeout_s=10)
    book = SharedBudget(client, prefix=prefix)
    limits = {"global": Limits(daily_usd=0.25)}
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)

    async def one():
        try:
            handle = await book.reserve(0.01, limits, now=now)
        except BudgetExceeded:
            return 0
        assert handle is not None
        await asyncio.sleep(0.01)
        await book.settle_now(handle, 0.01)
        return 1

    ok = sum(await asyncio.gather(*(one() for _ in range(40))))
    await client.aclose()
    print(json.dumps({"ok": ok}))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_two_processes_cannot_overspend_together(client: aioredis.Redis, prefix: str, redis_url: str) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, redis_url, prefix], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    ok = [json.loads(out)["ok"] for out in outs]
    assert sum(ok) == 25  # $0.25 / $0.01, out of 80 attempts
    usage = await SharedBudget(client, prefix=prefix).usage("global", now=NOW)
    assert usage["spent_today_usd"] == 0.25 and usage["reserved_today_usd"] == 0


async def test_redis_down_fails_open_and_backs_off(prefix: str) -> None:
    dead = connect(f"redis://127.0.0.1:{closed_port()}/0")
    breaker = Breaker(cooldown_s=60)
    book = SharedBudget(dead, prefix=prefix, breaker=breaker)
    cache = SharedCache(dead, prefix=prefix, breaker=breaker)
    assert await book.reserve(0.5, {"global": Limits(daily_usd=0.1)}) is None  # over the limit, but unknown
    assert breaker.failures == 1 and not breaker.allow() and breaker.last_error
    assert await cache.get("k") is None
    await cache.set("k", {"a": 1}, 60)
    assert breaker.failures == 1  # not asked again during the cooldown
    await dead.aclose()


async def test_shared_cache_round_trip_and_ttl(client: aioredis.Redis, prefix: str) -> None:
    cache = SharedCache(client, prefix=prefix)
    await cache.set("k1", {"key": "k1", "n": 1}, 30)
    assert await cache.get("k1") == {"key": "k1", "n": 1}
    assert 0 < await client.pttl(f"{prefix}cache:k1") <= 30_000
    await client.set(f"{prefix}cache:bad", b"\x00not json")
    assert await cache.get("bad") is None
    await cache.delete("k1")
    assert await cache.get("k1") is None


@pytest.fixture
def other() -> Iterator[Paths]:
    """A second daemon's MCPGW_HOME."""
    home = Path(tempfile.mkdtemp(prefix="mg", dir="/tmp"))
    yield resolve_paths({"MCPGW_HOME": str(home)})
    shutil.rmtree(home, ignore_errors=True)


def _team_settings(paths: Paths, prefix: str, redis_url: str, toml: str = "") -> Settings:
    base = settings_for(paths, "[routing.layers]\nL1 = ['openai/gpt-4o-mini']\n" + toml)
    team = TeamSettings.model_validate({"redis_url": redis_url, "key_prefix": prefix})
    return base.model_copy(update={"team": team})  # type: ignore[no-any-return]


async def test_two_daemons_share_the_response_cache(
    paths: Paths, other: Paths, openai_fake: FakeOpenAI, prefix: str, redis_url: str
) -> None:
    async with (
        app_client(paths, _team_settings(paths, prefix, redis_url)) as a,
        app_client(other, _team_settings(other, prefix, redis_url)) as b,
    ):
        first = (await chat(a, layer="L1")).json()
        assert first["performance"]["from_cache"] is False
        await a.app.state.daemon.services["gateway"].cache.drain_remote()  # type: ignore[attr-defined]
        second = (await chat(b, layer="L1")).json()
        assert second["performance"]["from_cache"] is True and second["performance"]["cost_usd"] == 0
        assert second["result"] == first["result"]
        assert len(chat_requests(openai_fake)) == 1
        stats = (await b.get("/v1/cache/stats")).json()
        assert stats["remote"] is True and stats["remote_hits"] == 1
        again = (await chat(b, layer="L1")).json()  # now a local hit
        assert again["performance"]["from_cache"] is True
        assert (await b.get("/v1/cache/stats")).json()["remote_hits"] == 1


async def test_two_daemons_cannot_overspend_the_shared_budget(
    paths: Paths, other: Paths, openai_fake: FakeOpenAI, prefix: str, redis_url: str
) -> None:
    # each request reserves ~$0.0006 (gpt-4o-mini, 1000 output tokens): each daemon alone would allow 2
    budget = "[budgets]\ndaily_usd = 0.0015\n"
    async with (
        app_client(paths, _team_settings(paths, prefix, redis_url, budget)) as a,
        app_client(other, _team_settings(other, prefix, redis_url, budget)) as b,
    ):
        openai_fake.hang_next(0.3, times=8)

        async def ask(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await chat(c, messages=[{"role": "user", "content": f"q{i}"}], openai={"max_tokens": 1000})

        results = await asyncio.gather(*(ask(a, i) for i in range(3)), *(ask(b, i + 10) for i in range(3)))
        ok = [r for r in results if r.status_code == 200]
        refused = [r for r in results if r.status_code == 429]
        assert len(ok) == 2 and len(refused) == 4
        assert any("team's daily budget" in r.json()["detail"] for r in refused)
        assert len(chat_requests(openai_fake)) == 2
        for c in (a, b):
            await c.app.state.daemon.services["team"].budget.drain()  # type: ignore[attr-defined]
        usage = await a.app.state.daemon.services["team"].budget.usage("global")  # type: ignore[attr-defined]
        assert 0 < usage["spent_today_usd"] <= 0.0015 and usage["reserved_today_usd"] == 0
        health = await a.app.state.daemon.services["team"].status()  # type: ignore[attr-defined]
        assert health["redis"]["available"] is True and health["postgres"] is None


async def test_a_daemon_serves_with_redis_down(paths: Paths, openai_fake: FakeOpenAI, prefix: str) -> None:
    dead = f"redis://127.0.0.1:{closed_port()}/0"
    async with app_client(paths, _team_settings(paths, prefix, dead, "[budgets]\ndaily_usd = 1.0\n")) as c:
        first = await chat(c, layer="L1")
        assert first.status_code == 200, first.text  # shared budget unknown: the local book decides
        assert (await chat(c, layer="L1")).json()["performance"]["from_cache"] is True  # local cache still works
        status = await c.app.state.daemon.services["team"].status()  # type: ignore[attr-defined]
        assert status["redis"]["available"] is False and status["redis"]["failures"] == 1
