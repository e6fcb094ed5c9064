"""Number and time formats shared by the screens (the same money format as ``mcpgw analytics``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mcpgw.fmt import usd


def money(value: float | None) -> str:
    return "-" if value is None else usd(value)


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def millis(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 10_000 else f"{value:,.0f} ms"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def local_time(iso: str | None, *, now: dt.datetime | None = None) -> str:
    """A stored UTC time as local time: ``HH:MM:SS`` today, ``YYYY-MM-DD HH:MM`` before."""
    if not iso:
        return ""
    try:
        moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return iso
    current = now or dt.datetime.now().astimezone()
    return moment.strftime("%H:%M:%S") if moment.date() == current.date() else moment.strftime("%Y-%m-%d %H:%M")


def models_of(trace: dict[str, Any]) -> str:
    """The model(s) of a trace summary (``models`` list) or of a live event (``model``)."""
    models = trace.get("models")
    if isinstance(models, list):
        return ", ".join(str(m) for m in models) or "-"
    return str(trace.get("model") or "-")
