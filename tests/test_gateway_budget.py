"""The budget book: reservations, settlement, day/month rollover, thresholds reported once."""

from __future__ import annotations

import datetime as dt

import pytest

from mcpgw.errors import BudgetExceeded
from mcpgw.gateway.budget import BudgetBook, Limits

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


def test_reserve_settle_book() -> None:
    book = BudgetBook()
    limits = {"global": Limits(daily_usd=1.0)}
    r1 = book.reserve(0.6, limits, now=NOW)
    with pytest.raises(BudgetExceeded) as info:
        book.reserve(0.5, limits, now=NOW)  # 0.6 reserved + 0.5 > 1.0
    assert info.value.details["remaining_usd"] == pytest.approx(0.4)
    assert "2026-11-26 00:00" in info.value.message
    book.settle(r1, 0.1, now=NOW)
    book.book(("global",), 0.1, now=NOW)
    assert book.reserved("global") == 0
    book.reserve(0.5, limits, now=NOW)  # now fits: 0.1 spent


def test_zero_cost_is_never_blocked() -> None:
    book = BudgetBook()
    limits = {"global": Limits(daily_usd=0.0, monthly_usd=0.0)}
    assert book.reserve(0.0, limits, now=NOW).amount == 0
    with pytest.raises(BudgetExceeded):
        book.reserve(0.0001, limits, now=NOW)


def test_project_scope_and_monthly_limit() -> None:
    book = BudgetBook()
    book.load("project:p1", spent_day=0.0, spent_month=9.9, now=NOW)
    limits = {"global": Limits(daily_usd=100), "project:p1": Limits(monthly_usd=10)}
    with pytest.raises(BudgetExceeded, match="monthly budget for project:p1"):
        book.reserve(0.2, limits, now=NOW)
    assert book.reserved("global") == 0  # nothing half-reserved


def test_day_rollover_and_thresholds_once_per_day() -> None:
    book = BudgetBook()
    book.book(("global",), 0.8, now=NOW)
    marks = {"50%": 0.5, "100%": 1.0}
    assert book.crossed("global", marks, now=NOW) == ["50%"]
    assert book.crossed("global", marks, now=NOW) == []
    tomorrow = NOW + dt.timedelta(days=1)
    assert book.spent("global", now=tomorrow) == (0.0, 0.8)  # new day, same month
    book.book(("global",), 0.6, now=tomorrow)
    assert book.crossed("global", marks, now=tomorrow) == ["50%"]
