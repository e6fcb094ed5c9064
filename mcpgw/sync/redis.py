"""The team's Redis: a shared response cache and shared budget counters, both race-free across daemons.

Budgets are kept in nano-dollars (integers, exact) per scope and UTC day/month:
``<prefix>budget:<scope>:<YYYY-MM-DD|YYYY-MM>:spent`` (a counter) and ``…:res`` (a hash of live
reservations, ``id → "amount:deadline_ms"``). One Lua script checks ``limit - spent - reserved ≥ amount``
in every scope and period and then reserves in all of them, atomically; settling removes the
reservation and adds the actual cost to ``spent``. A reservation whose daemon died expires at its
deadline (Redis server time, so clocks of the daemons do not matter), and keys expire after their period.

Every call fails open: when Redis is unreachable the gateway goes on with its local book and cache,
logs one warning per outage, and does not try Redis again for ``cooldown_s``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mcpgw.errors import BudgetExceeded
from mcpgw.gateway.budget import Limits, next_day, next_month
from mcpgw.ids import new_id

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "mcpgw:"
NANO = 1_000_000_000
_REDIS_ERRORS = (RedisError, OSError, TimeoutError)

# KEYS: spent_1, res_1, spent_2, res_2, …   ARGV: amount, reservation_ttl_ms, id, then cap_i, key_ttl_i per pair
# (cap -1 = no limit: reserve without checking). Returns {0} or {i, remaining} for the first pair that refuses.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local amount = tonumber(ARGV[1])
local deadline = now + tonumber(ARGV[2])
local n = #KEYS / 2
for i = 1, n do
  local cap = tonumber(ARGV[2 + 2 * i])
  local reserved = 0
  local entries = redis.call('HGETALL', KEYS[2 * i])
  for j = 1, #entries, 2 do
    local amt, exp = string.match(entries[j + 1], '^(%d+):(%d+)$')
    if amt == nil or tonumber(exp) <= now then
      redis.call('HDEL', KEYS[2 * i], entries[j])
    else
      reserved = reserved + tonumber(amt)
    end
  end
  if cap >= 0 then
    local spent = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
    if cap - spent - reserved < amount then
      return {i, cap - spent - reserved}
    end
  end
end
for i = 1, n do
  redis.call('HSET', KEYS[2 * i], ARGV[3], ARGV[1] .. ':' .. deadline)
  redis.call('EXPIRE', KEYS[2 * i], ARGV[3 + 2 * i])
end
return {0}
"""

# KEYS: spent_1, res_1, …   ARGV: id, actual, then key_ttl_i per pair.
_SETTLE = """
for i = 1, #KEYS / 2 do
  redis.call('HDEL', KEYS[2 * i], ARGV[1])
  redis.call('INCRBY', KEYS[2 * i - 1], ARGV[2])
  redis.call('EXPIRE', KEYS[2 * i - 1], ARGV[2 + i])
end
return 1
"""


def connect(url: str, *, connect_timeout_s: float = 1.0, timeout_s: float = 2.0) -> aioredis.Redis:
    """A Redis client with short timeouts (a slow Redis must not hold requests up)."""
    client: aioredis.Redis = aioredis.from_url(url, socket_connect_timeout=connect_timeout_s, socket_timeout=timeout_s)
    return client


class Breaker:
    """Fail-open bookkeeping shared by the cache and the budget: after a failure, skip Redis for a while."""

    def __init__(self, cooldown_s: float = 5.0) -> None:
        self.cooldown_s = cooldown_s
        self.down_until = 0.0
        self.failures = 0
        self.last_error: str | None = None

    def allow(self) -> bool:
        return time.monotonic() >= self.down_until

    def failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = f"{what}: {exc or type(exc).__name__}"
        if self.down_until == 0.0:
            log.warning("team Redis unavailable (%s); going on with the local cache and budget", self.last_error)
        self.down_until = time.monotonic() + self.cooldown_s

    def ok(self) -> None:
        if self.down_until:
            log.info("team Redis reachable again")
        self.down_until = 0.0


class SharedCache:
    """Response cache entries in Redis under ``<prefix>cache:<key>``, expiring with their TTL."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX, breaker: Breaker | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.breaker = breaker or Breaker()

    def _key(self, key: str) -> str:
        return f"{self.prefix}cache:{key}"

    async def get(self, key: str) -> dict[str, Any] | None:
        if not self.breaker.allow():
            return None
        try:
            raw = await self.client.get(self._key(key))
        except _REDIS_ERRORS as exc:
            self.breaker.failed("cache get", exc)
            return None
        self.breaker.ok()
        if raw is None:
            return None
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("ignoring a malformed shared cache entry %s", key)
            return None
        return value if isinstance(value, dict) else None

    async def set(self, key: str, value: dict[str, Any], ttl_s: float) -> None:
        if ttl_s <= 0 or not self.breaker.allow():
            return
        try:
            await self.client.set(self._key(key), orjson.dumps(value), px=max(int(ttl_s * 1000), 1))
        except _REDIS_ERRORS as exc:
            self.breaker.failed("cache set", exc)
            return
        self.breaker.ok()

    async def delete(self, key: str) -> None:
        if not self.breaker.allow():
            return
        try:
            await self.client.delete(self._key(key))
        except _REDIS_ERRORS as exc:
            self.breaker.failed("cache delete", exc)


@dataclass
class SharedReservation:
    id: str
    amount_nano: int
    keys: tuple[str, ...]  # spent_1, res_1, spent_2, res_2, …
    ttls: tuple[int, ...]  # one per pair


@dataclass
class _Slot:
    scope: str
    period: str
    cap: float | None
    base: str
    ttl_s: int
    reset: dt.datetime


def _nano(usd: float, *, up: bool = False) -> int:
    """USD as nano-dollars; ``up`` rounds up (a reservation), ignoring float noise below a micro-nano."""
    return math.ceil(usd * NANO - 1e-6) if up else round(usd * NANO)


class SharedBudget:
    """The budget counters every daemon of the team shares (see the module docstring)."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        breaker: Breaker | None = None,
        reservation_ttl_s: float = 900.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.breaker = breaker or Breaker()
        self.reservation_ttl_s = reservation_ttl_s
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)
        self._tasks: set[asyncio.Task[None]] = set()

    def _slots(self, limits: Mapping[str, Limits], now: dt.datetime) -> list[_Slot]:
        slots: list[_Slot] = []
        day_end, month_end = next_day(now), next_month(now)
        for scope, limit in limits.items():
            day, month = f"{self.prefix}budget:{scope}:{now:%Y-%m-%d}", f"{self.prefix}budget:{scope}:{now:%Y-%m}"
            day_ttl = int((day_end - now).total_seconds()) + 86_400  # kept a day past its period
            month_ttl = int((month_end - now).total_seconds()) + 7 * 86_400
            slots.append(_Slot(scope, "daily", limit.daily_usd, day, day_ttl, day_end))
            slots.append(_Slot(scope, "monthly", limit.monthly_usd, month, month_ttl, month_end))
        return slots

    async def reserve(
        self, amount: float, limits: Mapping[str, Limits], *, now: dt.datetime | None = None
    ) -> SharedReservation | None:
        """Reserve ``amount`` in every scope and period, or raise BudgetExceeded for the team.

        None when there is nothing to reserve or Redis is unavailable (fail open: the local book still applies)."""
        if amount <= 0 or not limits or not self.breaker.allow():
            return None
        now = now or dt.datetime.now(dt.UTC)
        slots = self._slots(limits, now)
        keys = tuple(k for s in slots for k in (f"{s.base}:spent", f"{s.base}:res"))
        ttls = tuple(s.ttl_s for s in slots)
        rid = new_id()
        amount_nano = _nano(amount, up=True)
        args: list[Any] = [amount_nano, int(self.reservation_ttl_s * 1000), rid]
        for slot in slots:
            args += [-1 if slot.cap is None else _nano(slot.cap), slot.ttl_s]
        try:
            result = await self._reserve(keys=list(keys), args=args)
        except _REDIS_ERRORS as exc:
            self.breaker.failed("budget reserve", exc)
            return None
        self.breaker.ok()
        if int(result[0]) != 0:
            raise _exceeded(slots[int(result[0]) - 1], amount, int(result[1]) / NANO)
        return SharedReservation(rid, amount_nano, keys, ttls)

    async def settle_now(self, handle: SharedReservation, actual: float) -> None:
        """Drop the reservation and add ``actual`` to what the team spent."""
        try:
            await self._settle(keys=list(handle.keys), args=[handle.id, _nano(max(actual, 0.0)), *handle.ttls])
        except _REDIS_ERRORS as exc:
            self.breaker.failed("budget settle", exc)
            log.warning(
                "team budget: could not settle a reservation (%s); it expires in %.0f s, its $%.6f is not booked",
                exc, self.reservation_ttl_s, actual,
            )  # fmt: skip

    def settle(self, handle: object, actual: float) -> None:
        """Settle in the background: the gateway's bookkeeping is synchronous and must not wait on Redis."""
        if not isinstance(handle, SharedReservation):
            return
        task = asyncio.get_running_loop().create_task(self.settle_now(handle, actual))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the settlements in flight."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def usage(self, scope: str, *, now: dt.datetime | None = None) -> dict[str, float]:
        """What the team spent and holds reserved in ``scope`` today and this month (USD)."""
        now = now or dt.datetime.now(dt.UTC)
        out: dict[str, float] = {}
        for period, stamp in (("today", f"{now:%Y-%m-%d}"), ("month", f"{now:%Y-%m}")):
            base = f"{self.prefix}budget:{scope}:{stamp}"
            spent = await self.client.get(f"{base}:spent")
            held = await self.client.hvals(f"{base}:res")
            out[f"spent_{period}_usd"] = int(spent or 0) / NANO
            out[f"reserved_{period}_usd"] = sum(_held_amount(v) for v in held) / NANO
        return out


def _held_amount(value: bytes | str) -> int:
    text = value.decode() if isinstance(value, bytes) else value
    return int(text.split(":")[0])


def _exceeded(slot: _Slot, amount: float, remaining: float) -> BudgetExceeded:
    where = "" if slot.scope == "global" else f" for {slot.scope}"
    cap = slot.cap or 0.0
    return BudgetExceeded(
        f"the team's {slot.period} budget{where} would be exceeded: this request may cost up to ${amount:.6f}, "
        f"${max(remaining, 0.0):.6f} of ${cap:.2f} remains across the team (resets {slot.reset:%Y-%m-%d %H:%M} UTC)",
        fix="raise the budget in config.toml ([budgets]), pick a cheaper layer (--layer L0), or wait for the reset",
        remaining_usd=round(max(remaining, 0.0), 6),
        reset_at=slot.reset.isoformat(),
        period=slot.period,
        shared=True,
    )
