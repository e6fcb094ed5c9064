"""Analytics queries: the roadmap's AnalyticsResponse, the error-rate view and the most expensive requests.

Whole days are read from the ``usage_daily`` / ``trace_daily`` rollups (kept exact by triggers, see
migration 0006) and only the partial days at the edges of a range from the raw tables through their
``created_at`` index, so a query over 90 days of a million calls reads a few thousand rows. Functions take
a connection and run on the store's thread: ``await store.run(lambda c: usage_report(c, rng))``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcpgw.errors import UsageError
from mcpgw.store.traces import SUMMARY_SQL, iso_utc, summary_row

if TYPE_CHECKING:
    import sqlean

DEFAULT_DAYS = 30
_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class TimeRange:
    """A half-open UTC interval ``[start, end)``."""

    start: dt.datetime
    end: dt.datetime

    @property
    def start_iso(self) -> str:
        return iso_utc(self.start)

    @property
    def end_iso(self) -> str:
        return iso_utc(self.end)

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start_iso, "end": self.end_iso}


def _parse_moment(text: str, now: dt.datetime, *, is_end: bool) -> dt.datetime:
    value = text.strip()
    relative = _RELATIVE.match(value.lower())
    if relative:
        return now - dt.timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    if value.lower() == "now":
        return now
    if value.lower() == "today":
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight + dt.timedelta(days=1) if is_end else midnight
    try:
        if len(value) == 10:  # a date: the whole day, so "--until 2026-01-31" includes the 31st
            day = dt.date.fromisoformat(value)
            moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            return moment + dt.timedelta(days=1) if is_end else moment
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            f"cannot read the time {text!r}",
            fix="use a date (2026-01-31), an ISO time (2026-01-31T12:00:00Z) or a span back from now (7d, 24h, 30m)",
        ) from exc
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def parse_range(
    since: str | None, until: str | None, *, now: dt.datetime | None = None, default_days: int = DEFAULT_DAYS
) -> TimeRange:
    """The range named by ``since``/``until`` (dates are whole days; default: the last ``default_days``)."""
    current = now or dt.datetime.now(dt.UTC)
    end = _parse_moment(until, current, is_end=True) if until else current
    start = _parse_moment(since, current, is_end=False) if since else end - dt.timedelta(days=default_days)
    if start >= end:
        raise UsageError(
            f"the range is empty: since {iso_utc(start)} is not before until {iso_utc(end)}",
            fix="give a --since earlier than --until",
        )
    return TimeRange(start, end)


@dataclass(frozen=True)
class Filters:
    project: str | None = None
    user: str | None = None
    model: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("project", self.project), ("user", self.user), ("model", self.model)) if v}


def _day_split(rng: TimeRange) -> tuple[str, str, list[tuple[str, str]]]:
    """(first full day, end of last full day, raw edge intervals) for ``rng``."""
    first = rng.start.replace(hour=0, minute=0, second=0, microsecond=0)
    if first < rng.start:
        first += dt.timedelta(days=1)
    last = rng.end.replace(hour=0, minute=0, second=0, microsecond=0)
    if first >= last:  # no whole day inside: everything comes from the raw table
        return "", "", [(rng.start_iso, rng.end_iso)]
    edges = []
    if rng.start < first:
        edges.append((rng.start_iso, iso_utc(first)))
    if last < rng.end:
        edges.append((iso_utc(last), rng.end_iso))
    return first.date().isoformat(), last.date().isoformat(), edges


def _usage_source(rng: TimeRange, filters: Filters, *, tenants: bool) -> tuple[str, list[Any]]:
    """SQL for the rows (rollup + raw edges) of ``llm_calls`` in range, one per day/model/layer and, with
    ``tenants``, per project and user (the per-model rollup is ten to a hundred times smaller)."""
    first_day, end_day, edges = _day_split(rng)
    rollup_where = ["day >= ? AND day < ?"]
    rollup_params: list[Any] = [first_day, end_day]
    raw_time = " OR ".join("(created_at >= ? AND created_at < ?)" for _ in edges) or "0"
    raw_where = [f"({raw_time})"]
    raw_params: list[Any] = [t for edge in edges for t in edge]
    if filters.project is not None:
        rollup_where.append("project_id = ?")
        rollup_params.append(filters.project)
        raw_where.append("COALESCE(project_id, '') = ?")
        raw_params.append(filters.project)
    if filters.user is not None:
        rollup_where.append("user_id = ?")
        rollup_params.append(filters.user)
        raw_where.append("COALESCE(user_id, '') = ?")
        raw_params.append(filters.user)
    if filters.model is not None:
        model_clause = "(model = ? OR provider || '/' || model = ?)"
        rollup_where.append(model_clause)
        rollup_params += [filters.model, filters.model]
        raw_where.append(model_clause)
        raw_params += [filters.model, filters.model]
    table = "usage_daily" if tenants else "usage_daily_model"
    tenancy = "project_id, user_id" if tenants else "'' AS project_id, '' AS user_id"
    sql = (
        f"SELECT day, {tenancy}, provider, model, layer, calls, errors, cached, input_tokens, "
        f"output_tokens, cost, duration_ms FROM {table} WHERE {' AND '.join(rollup_where)} "
        "UNION ALL SELECT substr(created_at, 1, 10), COALESCE(project_id, ''), COALESCE(user_id, ''), provider, "
        "model, COALESCE(layer, ''), 1, status = 'error', cached != 0, input_tokens, output_tokens, cost, "
        f"duration_ms FROM llm_calls WHERE {' AND '.join(raw_where)}"
    )
    return sql, rollup_params + raw_params


_DIMENSIONS = {
    "layer": "layer",
    "model": "provider || '/' || model",
    "provider": "provider",
    "project": "project_id",
    "user": "user_id",
    "day": "day",
}
_METRICS = "SUM(calls), SUM(errors), SUM(cached), SUM(input_tokens), SUM(output_tokens), SUM(cost), SUM(duration_ms)"


def _metrics(row: Any) -> dict[str, Any]:
    calls, errors, cached, tokens_in, tokens_out, cost, duration = (row[i] or 0 for i in range(2, 9))
    return {
        "requests": int(calls),
        "errors": int(errors),
        "cached": int(cached),
        "input_tokens": int(tokens_in),
        "output_tokens": int(tokens_out),
        "tokens": int(tokens_in) + int(tokens_out),
        "cost": round(float(cost), 9),
        "avg_duration_ms": round(duration / calls, 1) if calls else 0.0,
    }


def usage_report(conn: sqlean.Connection, rng: TimeRange, filters: Filters | None = None) -> dict[str, Any]:
    """The AnalyticsResponse: totals of LLM calls in range, broken down by layer, model, provider,
    project, user and day (every day of the range, zeros included). A "request" here is one LLM call."""
    flt = filters or Filters()
    tenant_filter = flt.project is not None or flt.user is not None
    # Without a tenant filter the per-model rollup answers everything but the tenant breakdowns.
    plan = [(True, ("total", *_DIMENSIONS))] if tenant_filter else [
        (False, ("total", "layer", "model", "provider", "day")), (True, ("project", "user"))
    ]  # fmt: skip
    groups: dict[str, dict[str, dict[str, Any]]] = {dim: {} for dim in _DIMENSIONS}
    totals = _metrics((None, None, 0, 0, 0, 0, 0, 0, 0))
    for tenants, dims in plan:
        source, params = _usage_source(rng, flt, tenants=tenants)
        parts = [
            f"SELECT 'total', '', {_METRICS} FROM u" if dim == "total"
            else f"SELECT '{dim}', {_DIMENSIONS[dim]}, {_METRICS} FROM u GROUP BY 2"
            for dim in dims
        ]  # fmt: skip
        sql = f"WITH u AS MATERIALIZED ({source}) " + " UNION ALL ".join(parts)
        for row in conn.execute(sql, params).fetchall():
            if row[0] == "total":
                totals = _metrics(row)
            else:
                groups[row[0]][row[1] if row[1] != "" else "(none)"] = _metrics(row)
    by_day = []
    day = rng.start.date()
    while day <= (rng.end - dt.timedelta(microseconds=1)).date():
        key = day.isoformat()
        by_day.append({"date": key, **groups["day"].get(key, _metrics((None, None, 0, 0, 0, 0, 0, 0, 0)))})
        day += dt.timedelta(days=1)
    return {
        "time_range": rng.as_dict(),
        "filters": flt.as_dict(),
        "total_requests": totals["requests"],
        "total_errors": totals["errors"],
        "error_rate": round(totals["errors"] / totals["requests"], 6) if totals["requests"] else 0.0,
        "cached_requests": totals["cached"],
        "total_tokens": {
            "input": totals["input_tokens"],
            "output": totals["output_tokens"],
            "total": totals["tokens"],
        },
        "total_cost": totals["cost"],
        "avg_duration_ms": totals["avg_duration_ms"],
        "breakdown": {
            "by_layer": groups["layer"],
            "by_model": groups["model"],
            "by_provider": groups["provider"],
            "by_project": groups["project"],
            "by_user": groups["user"],
            "by_day": by_day,
        },
    }


def error_rates(conn: sqlean.Connection, rng: TimeRange, filters: Filters | None = None) -> dict[str, Any]:
    """Requests (traces) and failed requests per day and per request type in range, with error rates."""
    flt = filters or Filters()
    first_day, end_day, edges = _day_split(rng)
    rollup_where, raw_where = (
        ["day >= ? AND day < ?"],
        ["(" + (" OR ".join("(created_at >= ? AND created_at < ?)" for _ in edges) or "0") + ")"],
    )
    rollup_params: list[Any] = [first_day, end_day]
    raw_params: list[Any] = [t for edge in edges for t in edge]
    for column, value in (("project_id", flt.project), ("user_id", flt.user)):
        if value is not None:
            rollup_where.append(f"{column} = ?")
            raw_where.append(f"COALESCE({column}, '') = ?")
            rollup_params.append(value)
            raw_params.append(value)
    source = (
        f"SELECT day, request_type, status, requests FROM trace_daily WHERE {' AND '.join(rollup_where)} "
        "UNION ALL SELECT substr(created_at, 1, 10), request_type, status, 1 FROM request_traces "
        f"WHERE {' AND '.join(raw_where)}"
    )
    sql = (
        f"WITH t AS MATERIALIZED ({source}) "
        "SELECT 'day', day, SUM(requests), SUM(CASE WHEN status = 'error' THEN requests ELSE 0 END) FROM t GROUP BY 2 "
        "UNION ALL SELECT 'type', request_type, SUM(requests), "
        "SUM(CASE WHEN status = 'error' THEN requests ELSE 0 END) FROM t GROUP BY 2"
    )

    def entry(requests: int, errors: int) -> dict[str, Any]:
        return {"requests": requests, "errors": errors, "error_rate": round(errors / requests, 6) if requests else 0.0}

    days: dict[str, dict[str, Any]] = {}
    types: dict[str, dict[str, Any]] = {}
    total_requests = total_errors = 0
    for kind, key, requests, errors in conn.execute(sql, rollup_params + raw_params).fetchall():
        if kind == "day":
            days[key] = entry(int(requests), int(errors))
            total_requests += int(requests)
            total_errors += int(errors)
        else:
            types[key] = entry(int(requests), int(errors))
    by_day = [{"date": d, **days[d]} for d in sorted(days)]
    return {
        "time_range": rng.as_dict(),
        "filters": flt.as_dict(),
        **entry(total_requests, total_errors),
        "by_day": by_day,
        "by_request_type": types,
    }


def top_requests(
    conn: sqlean.Connection, rng: TimeRange, filters: Filters | None = None, *, limit: int = 10
) -> dict[str, Any]:
    """The most expensive requests (traces) in range, most expensive first."""
    flt = filters or Filters()
    where = ["created_at >= ?", "created_at < ?"]
    params: list[Any] = [rng.start_iso, rng.end_iso]
    for column, value in (("project_id", flt.project), ("user_id", flt.user)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    rows = conn.execute(
        f"{SUMMARY_SQL} WHERE {' AND '.join(where)} ORDER BY total_cost DESC LIMIT ?",
        [*params, max(1, min(limit, 1000))],
    ).fetchall()
    return {"time_range": rng.as_dict(), "filters": flt.as_dict(), "requests": [summary_row(r) for r in rows]}
