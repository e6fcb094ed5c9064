"""Analytics on real volumes: fill a database with N synthetic LLM calls (one trace each) over 90 days,
then time every analytics query. Target: ≤ 200 ms per query.

    python scripts/bench_analytics.py [--calls 1000000] [--days 90] [--db PATH] [--keep]

The database is built through the real schema (migrations, rollup triggers), so filling it also shows
the cost of the triggers. Prints one line per query: p50 and max over several runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcpgw.analytics.queries import Filters, error_rates, parse_range, top_requests, usage_report
from mcpgw.store.db import connect_sync, migrate
from mcpgw.store.traces import iso_utc, list_traces

MODELS = [
    ("openrouter", "meta-llama/llama-3.3-70b-instruct:free", "L0", 0.0),
    ("ollama", "qwen2.5-coder:7b", "L0", 0.0),
    ("openai", "gpt-4o-mini", "L1", 0.6),
    ("openai", "gpt-4.1-mini", "L1", 1.6),
    ("anthropic", "claude-3-haiku", "L2", 1.25),
    ("openai", "gpt-4o", "L2", 10.0),
    ("anthropic", "claude-3.5-sonnet", "L3", 15.0),
    ("anthropic", "claude-sonnet-4-5", "L3", 15.0),
]
PROJECTS = [f"proj-{i}" for i in range(10)]
USERS = [f"user-{i}" for i in range(6)]


def fill(path: Path, calls: int, days: int, seed: int = 7) -> float:
    """Insert ``calls`` traces + LLM calls spread over the last ``days`` days; returns seconds taken."""
    rng = random.Random(seed)
    conn = connect_sync(path)
    migrate(conn)
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=days)
    span_s = days * 86400
    stamps = sorted(rng.random() * span_s for _ in range(calls))
    began = time.perf_counter()
    batch = 50_000
    for offset in range(0, calls, batch):
        traces: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        for i in range(offset, min(offset + batch, calls)):
            created = iso_utc(start + dt.timedelta(seconds=stamps[i]))
            provider, model, layer, price = MODELS[rng.randrange(len(MODELS))]
            tokens_in, tokens_out = rng.randint(50, 4000), rng.randint(10, 1500)
            cost = (tokens_in + 3 * tokens_out) * price / 1e6
            status = "error" if rng.random() < 0.02 else "ok"
            project, user = rng.choice(PROJECTS), rng.choice(USERS)
            duration = rng.randint(80, 6000)
            trace_id = f"{i:032x}"
            traces.append(
                (trace_id, project, user, "chat", f'[{{"layer":"{layer}"}}]', cost, duration, status, created)
            )
            rows.append(
                (f"c{i:031x}", trace_id, project, user, provider, model, layer, "chat", tokens_in, tokens_out,
                 cost, duration, status, created)
            )  # fmt: skip
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO request_traces (id, project_id, user_id, request_type, routing_decisions, total_cost, "
            "total_duration_ms, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            traces,
        )
        conn.executemany(
            "INSERT INTO llm_calls (id, trace_id, project_id, user_id, provider, model, layer, task_type, "
            "input_tokens, output_tokens, cost, duration_ms, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - began


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", type=Path, help="reuse (or create) this database file")
    args = parser.parse_args()
    path = args.db or Path(tempfile.mkdtemp(prefix="mcpgw-bench-")) / "bench.db"
    if not path.exists():
        seconds = fill(path, args.calls, args.days)
        print(f"filled {args.calls:,} traces + LLM calls over {args.days} days in {seconds:.1f} s "
              f"({args.calls / seconds:,.0f} rows/s with rollup triggers) -> {path}")  # fmt: skip
    conn = connect_sync(path, readonly=True)
    full = parse_range(f"{args.days + 1}d", None)
    week = parse_range("7d", None)
    day = parse_range("24h", None)
    queries: list[tuple[str, Callable[[], Any]]] = [
        (f"analytics {args.days}d (all breakdowns)", lambda: usage_report(conn, full)),
        (f"analytics {args.days}d --project", lambda: usage_report(conn, full, Filters(project="proj-3"))),
        (f"analytics {args.days}d --user", lambda: usage_report(conn, full, Filters(user="user-2"))),
        (f"analytics {args.days}d --model", lambda: usage_report(conn, full, Filters(model="openai/gpt-4o"))),
        ("analytics 7d", lambda: usage_report(conn, week)),
        ("analytics 24h (raw edges only)", lambda: usage_report(conn, day)),
        (f"error rate {args.days}d", lambda: error_rates(conn, full)),
        ("error rate 24h", lambda: error_rates(conn, day)),
        (f"top 10 expensive {args.days}d", lambda: top_requests(conn, full)),
        ("top 10 expensive 7d", lambda: top_requests(conn, week)),
        ("top 10 expensive 24h --project", lambda: top_requests(conn, day, Filters(project="proj-1"))),
        ("traces list --last 20", lambda: list_traces(conn, limit=20)),
        ("traces list --failed --last 20", lambda: list_traces(conn, status="error", limit=20)),
    ]
    worst = 0.0
    for name, fn in queries:
        p50, peak = timed(fn, args.runs)
        worst = max(worst, p50)
        print(f"{name:<40} p50 {p50:8.1f} ms   max {peak:8.1f} ms")
    print(f"worst p50: {worst:.1f} ms (target <= 200 ms)")
    conn.close()


if __name__ == "__main__":
    main()
