"""First paint of the TUI dashboard with 100k traces in the database (budget: ≤ 1 s).

Seeds N traces (one LLM call each, spread over 90 days) through the store's write path into a fresh
MCPGW_HOME, starts the daemon app in-process, then measures from app start until the dashboard shows its
figures (data loaded and rendered). Prints the figures; asserts nothing.

    python scripts/bench_tui.py [--traces 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from mcpgw.client import AsyncDaemonClient
from mcpgw.config import load_settings
from mcpgw.daemon.app import create_app as create_daemon
from mcpgw.paths import resolve_paths
from mcpgw.store.traces import enqueue_trace, iso_utc
from mcpgw.tui.api import TuiApi
from mcpgw.tui.app import create_app
from mcpgw.tui.screens.dashboard import DashboardScreen

MODELS = [("openai", "gpt-4o-mini", "L1"), ("openai", "gpt-4o", "L2"), ("anthropic", "claude-sonnet-4", "L3")]


async def seed(app: object, n: int) -> float:
    store = app.state.store  # type: ignore[attr-defined]
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    for i in range(n):
        provider, model, layer = MODELS[i % 3]
        when = now - dt.timedelta(seconds=rng.uniform(0, 90 * 86400))
        enqueue_trace(
            store,
            {"request_type": "chat", "created_at": iso_utc(when), "total_duration_ms": 500,
             "routing_decisions": [{"layer": layer, "reason": "bench", "modelSelected": f"{provider}/{model}",
                                    "timestamp": when.timestamp()}]},
            [{"provider": provider, "model": model, "layer": layer, "input_tokens": 100, "output_tokens": 40,
              "cost": 0.001, "duration_ms": 500}],
        )  # fmt: skip
        if i % 5000 == 4999:
            await store.flush()
    await store.flush()
    return time.perf_counter() - start


async def first_paint(api: TuiApi, home: Path) -> float:
    app = create_app(api, cwd=home, live=False)
    start = time.perf_counter()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        while screen.data is None:
            await pilot.pause(0.005)
        await pilot.pause()  # one refresh with the figures on screen
        return time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="mgb", dir="/tmp"))
    try:
        paths = resolve_paths({"MCPGW_HOME": str(home)})
        paths.ensure()
        daemon = create_daemon(paths, load_settings(paths.config_file, environ={}))
        async with daemon.router.lifespan_context(daemon):
            took = await seed(daemon, args.traces)
            print(f"seeded {args.traces:,} traces in {took:.1f} s")
            for run in range(args.runs):
                api = TuiApi(AsyncDaemonClient(paths, transport=httpx.ASGITransport(app=daemon)))
                seconds = await first_paint(api, home)
                await api.aclose()
                print(f"run {run + 1}: dashboard first paint with data {seconds * 1000:.0f} ms (budget 1000 ms)")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
