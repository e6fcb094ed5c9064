"""Team mode's daemon startup hook: builds the Postgres and Redis clients from ``[team]``, starts the outbox
push job, and attaches the shared cache and budget to the gateway. With no ``[team]`` it only makes sure
the outbox triggers are off, so a local install keeps no outbox.

``[team]`` may carry ``pg_schema`` (default ``mcpgw``) and ``key_prefix`` (default ``mcpgw:``) to keep
several teams or test runs apart on one server.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mcpgw.sync import outbox

if TYPE_CHECKING:
    from mcpgw.daemon.state import DaemonState
    from mcpgw.doctor import Check
    from mcpgw.sync.redis import Breaker, SharedBudget, SharedCache

log = logging.getLogger(__name__)


class TeamSync:
    """What team mode runs in this daemon (``state.services["team"]``), with its status."""

    def __init__(self) -> None:
        self.pusher: outbox.OutboxPusher | None = None
        self.cache: SharedCache | None = None
        self.budget: SharedBudget | None = None
        self.breaker: Breaker | None = None
        self.redis_prefix: str | None = None
        self._closers: list[Callable[[], Awaitable[Any]]] = []

    async def status(self) -> dict[str, Any]:
        """For /health and ``mcpgw doctor``: outbox (pending, last push, last error) and Redis state."""
        out: dict[str, Any] = {"postgres": None, "redis": None}
        if self.pusher is not None:
            out["postgres"] = await self.pusher.status()
        if self.breaker is not None:
            out["redis"] = {
                "prefix": self.redis_prefix,
                "available": self.breaker.allow(),
                "failures": self.breaker.failures,
                "last_error": self.breaker.last_error,
            }
        return out

    async def aclose(self) -> None:
        for close in reversed(self._closers):
            await close()
        self._closers.clear()


async def start(state: DaemonState) -> Callable[[], Awaitable[None]] | None:
    """Daemon startup hook; a no-op (beyond switching the outbox triggers off) when team mode is off."""
    team = state.settings.team
    postgres_url = team.postgres_url if team is not None else None
    redis_url = team.redis_url if team is not None else None
    if postgres_url is None:
        await state.store.run(lambda conn: outbox.enable(conn, False))
    if team is None or (postgres_url is None and redis_url is None):
        return None
    sync = TeamSync()
    if postgres_url is not None:
        from mcpgw.sync.postgres import PostgresSink

        sink = PostgresSink(postgres_url.get_secret_value(), schema=team.pg_schema)
        pusher = outbox.OutboxPusher(state.store, sink, interval_s=team.push_interval_s)
        await pusher.enable()
        pusher.start()
        sync.pusher = pusher
        sync._closers.append(pusher.stop)
        log.info("team sync: pushing to Postgres every %.1f s (source %s)", team.push_interval_s, pusher.source_id)
    if redis_url is not None:
        _attach_redis(state, sync, redis_url.get_secret_value(), team.key_prefix)
    state.services["team"] = sync
    return sync.aclose


def _attach_redis(state: DaemonState, sync: TeamSync, url: str, prefix: str | None) -> None:
    from mcpgw.sync.redis import DEFAULT_PREFIX, Breaker, SharedBudget, SharedCache, connect

    client = connect(url)
    sync.redis_prefix = prefix or DEFAULT_PREFIX
    sync.breaker = Breaker()
    sync.cache = SharedCache(client, prefix=sync.redis_prefix, breaker=sync.breaker)
    sync.budget = SharedBudget(client, prefix=sync.redis_prefix, breaker=sync.breaker)
    gateway = state.services.get("gateway")
    if gateway is not None:
        gateway.cache.remote = sync.cache
        gateway.shared_budget = sync.budget

    async def close() -> None:
        if gateway is not None:
            await gateway.cache.drain_remote()
            gateway.cache.remote = None
            gateway.shared_budget = None
        assert sync.budget is not None
        await sync.budget.drain()
        await client.aclose()

    sync._closers.append(close)
    log.info("team mode: shared cache and budgets in Redis (prefix %r)", sync.redis_prefix)


async def doctor_checks(state: DaemonState) -> list[Check]:
    """``mcpgw doctor``'s view of the running sync (the connectivity probes live in mcpgw.doctor)."""
    from mcpgw.doctor import Check

    sync: TeamSync | None = state.services.get("team")
    if sync is None:
        return []
    status = await sync.status()
    checks: list[Check] = []
    pg = status["postgres"]
    if pg is not None:
        if pg["consecutive_failures"]:
            checks.append(Check(
                "team sync", "warn",
                f"{pg['pending']} rows wait in the outbox; last push failed: {pg['last_error']}",
                fix="check team.postgres_url and that Postgres is up; the daemon retries by itself",
                details=pg,
            ))  # fmt: skip
        else:
            last = pg["last_push_at"] or "not yet"
            checks.append(Check("team sync", "pass", f"{pg['pending']} rows pending; last push {last}", details=pg))
    redis = status["redis"]
    if redis is not None and not redis["available"]:
        checks.append(Check(
            "team redis", "warn", f"shared cache and budgets paused: {redis['last_error']}",
            fix="check team.redis_url and that Redis is up; the local cache and budget apply meanwhile",
            details=redis,
        ))  # fmt: skip
    return checks
