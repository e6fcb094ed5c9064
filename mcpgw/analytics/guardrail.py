"""The cost guardrail: a daemon job that compares the last window's cost and error rate with a learned
baseline, and watches budget thresholds. Alerts are stored, published on the event bus
(``{"type": "alert"}``) and sent to the webhook (see :mod:`mcpgw.analytics.webhook`).

Baseline: the same window at the same time of day on each of the last ``baseline_days`` days that have
history (so a daily rhythm — busy mornings, quiet nights — is normal), summarised robustly by the median
and the median absolute deviation. With less than ``min_baseline_days`` of history it falls back to the
median of the preceding windows. A window is anomalous when its cost is at least ``threshold_multiplier``
× the expected cost, clears the normal spread (median + 4 MAD) and an absolute floor (``min_cost_usd``);
an error burst when its error rate is ``threshold_multiplier`` × the baseline rate, at least
``min_error_rate`` and ``min_errors`` failed requests. One alert per metric per window (cool-down).
Budget thresholds (daily/monthly, per project, ``COST_ALERT_THRESHOLD``) give ``threshold_exceeded``
alerts once per period and percentage.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import sqlean

from mcpgw.errors import NotFound, StoreError
from mcpgw.ids import short_id
from mcpgw.store.traces import iso_utc

if TYPE_CHECKING:
    from mcpgw.config import BudgetSettings, Settings
    from mcpgw.daemon.events import EventBus
    from mcpgw.daemon.state import DaemonState
    from mcpgw.store.db import Store

log = logging.getLogger(__name__)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class GuardrailConfig:
    window_minutes: float = 15.0
    threshold_multiplier: float = 3.0
    baseline_days: int = 14
    min_baseline_days: int = 3
    rolling_windows: int = 8
    min_cost_usd: float = 0.10
    min_errors: int = 5
    min_error_rate: float = 0.20
    daily_usd: float | None = None
    monthly_usd: float | None = None
    alert_threshold_usd: float | None = None
    alert_percent: tuple[float, ...] = (50.0, 80.0, 100.0)
    project_budgets: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> GuardrailConfig:
        g, b = settings.guardrail, settings.budgets
        return cls(
            window_minutes=g.window_minutes,
            threshold_multiplier=g.threshold_multiplier,
            **_budget_fields(b),
        )


def _budget_fields(b: BudgetSettings) -> dict[str, Any]:
    return {
        "daily_usd": b.daily_usd,
        "monthly_usd": b.monthly_usd,
        "alert_threshold_usd": b.alert_threshold_usd,
        "alert_percent": tuple(b.alert_percent),
        "project_budgets": dict(b.projects),
    }


# ---- detection (sync, on the store's thread) ----


def _window_cost(conn: sqlean.Connection, start: dt.datetime, end: dt.datetime) -> dict[str, float]:
    """Cost per project (``''`` for none) of the LLM calls in ``[start, end)``."""
    rows = conn.execute(
        "SELECT COALESCE(project_id, ''), SUM(cost) FROM llm_calls WHERE created_at >= ? AND created_at < ? GROUP BY 1",
        (iso_utc(start), iso_utc(end)),
    ).fetchall()
    return {str(p): float(c or 0) for p, c in rows}


def _window_errors(conn: sqlean.Connection, start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    """(requests, failed requests) among the traces in ``[start, end)``."""
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(status = 'error'), 0) FROM request_traces "
        "WHERE created_at >= ? AND created_at < ?",
        (iso_utc(start), iso_utc(end)),
    ).fetchone()
    return int(row[0]), int(row[1])


def _history_start(conn: sqlean.Connection) -> dt.datetime | None:
    row = conn.execute(
        "SELECT MIN(t) FROM (SELECT MIN(created_at) AS t FROM llm_calls UNION ALL "
        "SELECT MIN(created_at) FROM request_traces)"
    ).fetchone()
    if row is None or row[0] is None:
        return None
    return dt.datetime.fromisoformat(str(row[0]).replace("Z", "+00:00"))


def baseline_windows(
    conn: sqlean.Connection, now: dt.datetime, cfg: GuardrailConfig
) -> tuple[str, list[tuple[dt.datetime, dt.datetime]]]:
    """The windows the baseline is learned from: ('time-of-day', …) or ('rolling', …), or ('none', [])."""
    width = dt.timedelta(minutes=cfg.window_minutes)
    first = _history_start(conn)
    if first is None:
        return "none", []
    same_time = [
        (now - k * DAY - width, now - k * DAY)
        for k in range(1, cfg.baseline_days + 1)
        if now - k * DAY - width >= first
    ]
    if len(same_time) >= cfg.min_baseline_days:
        return "time-of-day", same_time
    rolling = [
        (now - (i + 1) * width, now - i * width)
        for i in range(1, cfg.rolling_windows + 1)
        if now - (i + 1) * width >= first
    ]
    if len(rolling) >= cfg.rolling_windows // 2:
        return "rolling", rolling
    return "none", []


def _robust(samples: list[float]) -> tuple[float, float]:
    """(median, 1.4826 × median absolute deviation): a centre and spread that one outlier cannot move."""
    centre = statistics.median(samples)
    mad = statistics.median(abs(s - centre) for s in samples)
    return centre, 1.4826 * mad


def detect_anomalies(conn: sqlean.Connection, now: dt.datetime, cfg: GuardrailConfig) -> list[dict[str, Any]]:
    """Anomaly alerts (not yet stored) for the window ending at ``now``."""
    width = dt.timedelta(minutes=cfg.window_minutes)
    method, windows = baseline_windows(conn, now, cfg)
    if not windows:
        return []
    alerts: list[dict[str, Any]] = []
    current = _window_cost(conn, now - width, now)
    samples = [_window_cost(conn, start, end) for start, end in windows]
    current_cost = sum(current.values())
    expected, spread = _robust([sum(s.values()) for s in samples])
    threshold = max(cfg.threshold_multiplier * expected, expected + 4 * spread, cfg.min_cost_usd)
    if current_cost >= threshold:
        affected = _affected_projects(current, samples)
        ratio = current_cost / expected if expected > 0 else 0.0
        how = f"{ratio:.1f}× the expected ${expected:.4f}" if expected > 0 else "no spend expected"
        alerts.append(
            _new_alert(
                now,
                cfg,
                "anomaly",
                "cost",
                current_cost=current_cost,
                expected_cost=expected,
                multiplier=ratio,
                affected_projects=affected,
                message=f"${current_cost:.4f} spent in the last {cfg.window_minutes:g} min, {how}"
                + (f"; projects: {', '.join(affected)}" if affected else ""),
                details={
                    "baseline": method,
                    "baseline_windows": len(windows),
                    "spread": spread,
                    "threshold": threshold,
                    "by_project": current,
                },
            )
        )
    requests, errors = _window_errors(conn, now - width, now)
    base = [_window_errors(conn, start, end) for start, end in windows]
    base_requests = sum(r for r, _ in base)
    base_rate = sum(e for _, e in base) / base_requests if base_requests else 0.0
    rate = errors / requests if requests else 0.0
    if errors >= cfg.min_errors and rate >= max(cfg.threshold_multiplier * base_rate, cfg.min_error_rate):
        projects = sorted(p for p, c in current.items() if c > 0)
        alerts.append(
            _new_alert(
                now,
                cfg,
                "anomaly",
                "error_rate",
                current_cost=current_cost,
                expected_cost=expected,
                multiplier=rate / base_rate if base_rate > 0 else 0.0,
                current_error_rate=rate,
                expected_error_rate=base_rate,
                affected_projects=[p or "(none)" for p in projects],
                message=f"{errors} of {requests} requests failed in the last {cfg.window_minutes:g} min "
                f"({rate:.0%}; usually {base_rate:.1%})",
                details={"baseline": method, "baseline_windows": len(windows), "requests": requests, "errors": errors},
            )
        )
    return alerts


def _affected_projects(current: dict[str, float], samples: list[dict[str, float]]) -> list[str]:
    """Projects that account for the increase (each at least 10 % of it), largest increase first."""
    increases: list[tuple[float, str]] = []
    for project, cost in current.items():
        increase = cost - statistics.median(s.get(project, 0.0) for s in samples)
        if increase > 0:
            increases.append((increase, project or "(none)"))
    total = sum(i for i, _ in increases)
    return [p for inc, p in sorted(increases, reverse=True) if inc >= 0.1 * total]


def detect_thresholds(conn: sqlean.Connection, now: dt.datetime, cfg: GuardrailConfig) -> list[dict[str, Any]]:
    """``threshold_exceeded`` alerts for the budgets crossed so far today / this month (deduplicated on store)."""
    today = now.date()
    month_start = today.replace(day=1)
    budgets: list[tuple[str, str | None, str, float]] = []  # (period, project, label, limit)
    for period, limit in (("daily", cfg.daily_usd), ("monthly", cfg.monthly_usd)):
        if limit:
            budgets.append((period, None, f"{period} budget", limit))
    if cfg.alert_threshold_usd:
        budgets.append(("daily", None, "daily alert threshold (COST_ALERT_THRESHOLD)", cfg.alert_threshold_usd))
    for name, limits in cfg.project_budgets.items():
        for period in ("daily", "monthly"):
            project_limit = limits.get(f"{period}_usd")
            if project_limit:
                budgets.append((period, name, f"{period} budget of project {name}", project_limit))
    alerts: list[dict[str, Any]] = []
    for period, project, label, limit in budgets:
        first = today if period == "daily" else month_start
        sql = "SELECT COALESCE(SUM(cost), 0) FROM usage_daily_model WHERE day >= ?"
        params: list[Any] = [first.isoformat()]
        if project is not None:
            sql = "SELECT COALESCE(SUM(cost), 0) FROM usage_daily WHERE day >= ? AND project_id = ?"
            params.append(project)
        spent = float(conn.execute(sql, params).fetchone()[0])
        percents = [100.0] if "COST_ALERT_THRESHOLD" in label else sorted(cfg.alert_percent)
        crossed = [p for p in percents if spent >= limit * p / 100]
        if not crossed:
            continue
        pct = crossed[-1]  # the highest level crossed; lower ones are implied
        period_key = first.isoformat() if period == "daily" else first.strftime("%Y-%m")
        minutes = (
            1440.0
            if period == "daily"
            else (now - dt.datetime.combine(first, dt.time(), dt.UTC)) / dt.timedelta(minutes=1)
        )
        alerts.append(
            _new_alert(
                now,
                GuardrailConfig(window_minutes=minutes, threshold_multiplier=pct / 100),
                "threshold_exceeded",
                "budget",
                current_cost=spent,
                expected_cost=limit,
                multiplier=spent / limit,
                affected_projects=[project] if project else [],
                message=f"{label}: ${spent:.4f} spent of ${limit:.2f} ({spent / limit:.0%}, alert at {pct:g}%)",
                details={"period": period, "period_key": period_key, "percent": pct, "limit_usd": limit},
                dedupe_key=f"threshold:{label}:{period_key}:{pct:g}",
            )
        )
    return alerts


def _new_alert(now: dt.datetime, cfg: GuardrailConfig, type_: str, metric: str, **fields: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "id": short_id(10),
        "type": type_,
        "metric": metric,
        "window_minutes": cfg.window_minutes,
        "threshold_multiplier": cfg.threshold_multiplier,
        "current_error_rate": None,
        "expected_error_rate": None,
        "dedupe_key": None,
        "created_at": iso_utc(now),
    }
    alert.update(fields)
    return alert


_ALERT_COLUMNS = (
    "id", "type", "metric", "window_minutes", "current_cost", "expected_cost", "multiplier", "threshold_multiplier",
    "current_error_rate", "expected_error_rate", "affected_projects", "message", "details", "dedupe_key",
    "created_at", "delivery_status",
)  # fmt: skip


def store_alerts(
    conn: sqlean.Connection, alerts: list[dict[str, Any]], *, now: dt.datetime, deliver: bool
) -> list[dict[str, Any]]:
    """Insert the alerts that are new (dedupe key unseen; no alert of the same metric inside its window);
    returns them as API dicts."""
    stored: list[dict[str, Any]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for alert in alerts:
            if alert["type"] == "anomaly":
                since = iso_utc(now - dt.timedelta(minutes=float(alert["window_minutes"])))
                recent = conn.execute(
                    "SELECT 1 FROM alerts WHERE type = 'anomaly' AND metric = ? AND created_at > ?",
                    (alert["metric"], since),
                ).fetchone()
                if recent:
                    continue
            row = dict(alert, delivery_status="pending" if deliver else "none")
            values = [
                orjson.dumps(row[c]).decode() if c in ("affected_projects", "details") else row.get(c)
                for c in _ALERT_COLUMNS
            ]
            cursor = conn.execute(
                f"INSERT OR IGNORE INTO alerts ({', '.join(_ALERT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_ALERT_COLUMNS))})",
                values,
            )
            if cursor.rowcount:
                stored.append(alert_dict(conn.execute("SELECT * FROM alerts WHERE id = ?", (row["id"],)).fetchone()))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return stored


def alert_dict(row: Any) -> dict[str, Any]:
    """An ``alerts`` row as the API's CostAlert (``timestamp`` = when it was raised)."""
    return {
        "id": row["id"],
        "type": row["type"],
        "metric": row["metric"],
        "window_minutes": row["window_minutes"],
        "current_cost": row["current_cost"],
        "expected_cost": row["expected_cost"],
        "multiplier": row["multiplier"],
        "threshold_multiplier": row["threshold_multiplier"],
        "current_error_rate": row["current_error_rate"],
        "expected_error_rate": row["expected_error_rate"],
        "affected_projects": orjson.loads(row["affected_projects"]),
        "message": row["message"],
        "details": orjson.loads(row["details"]),
        "timestamp": row["created_at"],
        "acknowledged": row["acknowledged_at"] is not None,
        "acknowledged_at": row["acknowledged_at"],
        "delivery": {
            "status": row["delivery_status"],
            "attempts": row["delivery_attempts"],
            "last_error": row["last_delivery_error"],
            "delivered_at": row["delivered_at"],
        },
    }


def list_alerts(conn: sqlean.Connection, *, include_acked: bool = True, limit: int = 50) -> list[dict[str, Any]]:
    where = "" if include_acked else " WHERE acknowledged_at IS NULL"
    rows = conn.execute(
        f"SELECT * FROM alerts{where} ORDER BY created_at DESC, id DESC LIMIT ?", (max(1, min(limit, 10_000)),)
    ).fetchall()
    return [alert_dict(r) for r in rows]


def ack_alert(conn: sqlean.Connection, alert_id: str, *, now: dt.datetime) -> dict[str, Any]:
    """Acknowledge an alert (idempotent); NotFound for an unknown id."""
    conn.execute(
        "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, ?) WHERE id = ?", (iso_utc(now), alert_id)
    )
    row = conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    if row is None:
        raise NotFound(f"no alert with id {alert_id!r}", fix="list alerts with `mcpgw alerts list`")
    return alert_dict(row)


# ---- the daemon job ----


class Guardrail:
    """Runs detection every ``interval_s`` and on demand; stores, publishes and delivers the alerts."""

    def __init__(
        self,
        store: Store,
        events: EventBus,
        cfg: GuardrailConfig,
        *,
        interval_s: float = 300.0,
        webhook_url: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        from mcpgw.analytics.webhook import WebhookSender

        self.store = store
        self.events = events
        self.cfg = cfg
        self.interval_s = interval_s
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.sender = WebhookSender(store, webhook_url) if webhook_url else None
        self._task: asyncio.Task[None] | None = None
        self.checks = 0

    async def check(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Run detection once for the window ending ``now``; returns the alerts newly raised."""
        moment = now or self.clock()
        await self.store.flush()  # count the requests still in the write-behind queue

        def go(conn: sqlean.Connection) -> list[dict[str, Any]]:
            found = detect_anomalies(conn, moment, self.cfg) + detect_thresholds(conn, moment, self.cfg)
            return store_alerts(conn, found, now=moment, deliver=self.sender is not None) if found else []

        new = await self.store.run(go)
        self.checks += 1
        for alert in new:
            log.warning("cost alert %s: %s", alert["id"], alert["message"])
            self.events.publish("alert", alert)
        if new and self.sender is not None:
            self.sender.kick()
        return new

    def start(self) -> None:
        if self.sender is not None:
            self.sender.start()
        self._task = asyncio.create_task(self._loop(), name="mcpgw-guardrail")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.sender is not None:
            await self.sender.stop()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check()
            except (StoreError, sqlean.Error) as exc:
                log.error("guardrail check failed: %s", exc)


async def start(state: DaemonState) -> Callable[[], Awaitable[None]] | None:
    """Daemon startup hook: run the guardrail job (unless ``[guardrail] enabled = false``)."""
    settings = state.settings.guardrail
    if not settings.enabled:
        return None
    guardrail = Guardrail(
        state.store,
        state.events,
        GuardrailConfig.from_settings(state.settings),
        interval_s=settings.interval_minutes * 60,
        webhook_url=settings.webhook_url,
    )
    state.services["guardrail"] = guardrail
    guardrail.start()
    return guardrail.stop
