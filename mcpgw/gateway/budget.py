"""Budgets with reservations: the estimated maximum cost is reserved before a call and settled after,
so concurrent requests cannot overspend together. A $0 model is never blocked.

The book lives in the daemon (the only process that calls providers); reserve/settle are synchronous,
so two requests on the event loop can never both see the same headroom. Spend already recorded is
loaded from ``llm_calls`` when the daemon starts.

In team mode a :class:`SharedBook` (Redis, :class:`mcpgw.sync.redis.SharedBudget`) is consulted too, so
daemons of a team cannot overspend together; a reservation then carries its shared handle.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from mcpgw.errors import BudgetExceeded

log = logging.getLogger(__name__)


def _day(now: dt.datetime) -> str:
    return now.strftime("%Y-%m-%d")


def _month(now: dt.datetime) -> str:
    return now.strftime("%Y-%m")


def next_day(now: dt.datetime) -> dt.datetime:
    return (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def next_month(now: dt.datetime) -> dt.datetime:
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + dt.timedelta(days=32)).replace(day=1)


@dataclass
class Limits:
    daily_usd: float | None = None
    monthly_usd: float | None = None


@dataclass
class Reservation:
    amount: float
    scopes: tuple[str, ...]
    settled: bool = False
    shared: object | None = None  # the SharedBook's handle, when the team book holds it too


class SharedBook(Protocol):
    """Budget counters shared by several daemons. ``reserve`` raises BudgetExceeded when the team would
    overspend and answers None when it cannot be asked (fail open); ``settle`` must not block."""

    async def reserve(
        self, amount: float, limits: dict[str, Limits], *, now: dt.datetime | None = None
    ) -> object | None: ...

    def settle(self, handle: object, actual: float) -> None: ...


@dataclass
class _Scope:
    day: str = ""
    month: str = ""
    spent_day: float = 0.0
    spent_month: float = 0.0
    reserved: float = 0.0
    alerted: set[str] = field(default_factory=set)


class BudgetBook:
    """Spend and reservations per scope (``"global"`` and ``"project:<id>"``), in UTC days and months."""

    def __init__(self) -> None:
        self._scopes: dict[str, _Scope] = {}

    def _scope(self, name: str, now: dt.datetime) -> _Scope:
        scope = self._scopes.setdefault(name, _Scope())
        if scope.day != _day(now):
            scope.day, scope.spent_day, scope.alerted = _day(now), 0.0, set()
        if scope.month != _month(now):
            scope.month, scope.spent_month = _month(now), 0.0
        return scope

    def load(self, name: str, spent_day: float, spent_month: float, now: dt.datetime | None = None) -> None:
        scope = self._scope(name, now or dt.datetime.now(dt.UTC))
        scope.spent_day = spent_day
        scope.spent_month = spent_month

    def spent(self, name: str, now: dt.datetime | None = None) -> tuple[float, float]:
        scope = self._scope(name, now or dt.datetime.now(dt.UTC))
        return scope.spent_day, scope.spent_month

    def reserved(self, name: str) -> float:
        scope = self._scopes.get(name)
        return scope.reserved if scope else 0.0

    def reserve(self, amount: float, limits: dict[str, Limits], *, now: dt.datetime | None = None) -> Reservation:
        """Reserve ``amount`` in every scope of ``limits`` or raise BudgetExceeded naming the tightest one."""
        now = now or dt.datetime.now(dt.UTC)
        if amount <= 0:
            return Reservation(0.0, ())
        for name, limit in limits.items():
            scope = self._scope(name, now)
            for period, cap, spent, reset in (
                ("daily", limit.daily_usd, scope.spent_day, next_day(now)),
                ("monthly", limit.monthly_usd, scope.spent_month, next_month(now)),
            ):
                if cap is None:
                    continue
                remaining = cap - spent - scope.reserved
                if amount > remaining + 1e-12:
                    where = "" if name == "global" else f" for {name}"
                    raise BudgetExceeded(
                        f"the {period} budget{where} would be exceeded: this request may cost up to "
                        f"${amount:.6f}, ${max(remaining, 0):.6f} of ${cap:.2f} remains "
                        f"(resets {reset:%Y-%m-%d %H:%M} UTC)",
                        fix="raise the budget in config.toml ([budgets]), pick a cheaper layer (--layer L0), "
                        "or wait for the reset",
                        remaining_usd=round(max(remaining, 0.0), 6),
                        reset_at=reset.isoformat(),
                        period=period,
                    )
        for name in limits:
            self._scope(name, now).reserved += amount
        return Reservation(amount, tuple(limits))

    def settle(self, reservation: Reservation, actual: float, *, now: dt.datetime | None = None) -> None:
        """Release the reservation and book the actual cost (also for scopes reserved at $0)."""
        if reservation.settled:
            return
        reservation.settled = True
        now = now or dt.datetime.now(dt.UTC)
        for name in reservation.scopes:
            scope = self._scope(name, now)
            scope.reserved = max(0.0, scope.reserved - reservation.amount)

    def book(self, names: tuple[str, ...], actual: float, *, now: dt.datetime | None = None) -> None:
        now = now or dt.datetime.now(dt.UTC)
        for name in names:
            scope = self._scope(name, now)
            scope.spent_day += actual
            scope.spent_month += actual

    def crossed(self, name: str, thresholds: dict[str, float], *, now: dt.datetime | None = None) -> list[str]:
        """Threshold labels newly crossed today (each reported once per day)."""
        scope = self._scope(name, now or dt.datetime.now(dt.UTC))
        fresh = [
            label for label, value in thresholds.items() if scope.spent_day >= value and label not in scope.alerted
        ]
        scope.alerted.update(fresh)
        return fresh

    def snapshot(self, limits: dict[str, Limits]) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        out: dict[str, Any] = {}
        for name, limit in limits.items():
            scope = self._scope(name, now)
            out[name] = {
                "spent_today_usd": round(scope.spent_day, 6),
                "spent_month_usd": round(scope.spent_month, 6),
                "reserved_usd": round(scope.reserved, 6),
                "daily_usd": limit.daily_usd,
                "monthly_usd": limit.monthly_usd,
                "daily_remaining_usd": None
                if limit.daily_usd is None
                else round(max(limit.daily_usd - scope.spent_day - scope.reserved, 0.0), 6),
                "monthly_remaining_usd": None
                if limit.monthly_usd is None
                else round(max(limit.monthly_usd - scope.spent_month - scope.reserved, 0.0), 6),
                "resets_daily_at": next_day(now).isoformat(),
                "resets_monthly_at": next_month(now).isoformat(),
            }
        return out
