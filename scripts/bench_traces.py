"""Sustained trace write throughput through the real write path: ``enqueue_trace`` → the store's
write-behind queue → group commits (with the analytics rollup triggers). Target: ≥ 5,000 traces/s.

    python scripts/bench_traces.py [--traces 50000] [--calls-per-trace 1]

Prints the enqueue cost per trace (what a request pays) and the sustained rate to disk (enqueue until
everything is committed), plus the number of group commits.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from mcpgw.store.db import Store
from mcpgw.store.traces import enqueue_trace


async def run(traces: int, calls_per_trace: int, batch: int) -> None:
    path = Path(tempfile.mkdtemp(prefix="mcpgw-bench-")) / "traces.db"
    store = await Store.open(path)
    decisions = [{"layer": "L1", "reason": "default layer", "modelSelected": "openai/gpt-4o-mini", "timestamp": 0}]
    enqueue_s = 0.0
    began = time.perf_counter()
    for i in range(traces):
        t0 = time.perf_counter()
        enqueue_trace(
            store,
            {"request_type": "chat", "project_id": f"p{i % 10}", "user_id": f"u{i % 5}",
             "routing_decisions": decisions, "request_payload": {"prompt": "x" * 200}, "total_duration_ms": 120},
            [{"provider": "openai", "model": "gpt-4o-mini", "layer": "L1", "input_tokens": 200, "output_tokens": 80,
              "cost": 0.0001, "duration_ms": 110} for _ in range(calls_per_trace)],
        )  # fmt: skip
        enqueue_s += time.perf_counter() - t0
        if i % batch == batch - 1:
            await asyncio.sleep(0)  # requests arrive over time: let the writer run between bursts
    await store.flush()
    total = time.perf_counter() - began
    groups = store.committed_groups
    await store.close()
    print(f"{traces:,} traces ({calls_per_trace} LLM call each) committed in {total:.2f} s "
          f"in {groups} group commits")  # fmt: skip
    print(f"enqueue cost per trace (request path): {enqueue_s / traces * 1e6:.1f} µs")
    print(f"sustained throughput to disk: {traces / total:,.0f} traces/s (target >= 5,000)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=50_000)
    parser.add_argument("--calls-per-trace", type=int, default=1)
    parser.add_argument("--burst", type=int, default=100, help="traces enqueued between event-loop turns")
    args = parser.parse_args()
    asyncio.run(run(args.traces, args.calls_per_trace, args.burst))


if __name__ == "__main__":
    main()
