"""Route replay / simulator (the roadmap's item 6): what a past request would have cost, and how long it
would have taken, under other routing strategies — without calling any model.

Token counts come from the trace's answering call (what the upstream reported); the price is the current
price table's for the model each strategy would pick first (the first usable candidate of its lowest layer,
with the trace's task preferences); the latency is that model's median over recent successful calls in this
database, or unknown when it has none. "Cached" says whether the original answer came from the cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcpgw.config import LAYERS, Layer
from mcpgw.errors import UsageError
from mcpgw.pricing import cost
from mcpgw.routing import layers as L

if TYPE_CHECKING:
    from mcpgw.gateway.core import Gateway

DEFAULT_STRATEGIES = ("L0", "L1-L2", "L0-L3")
_SPEC = re.compile(r"^(L[0-3])(?:-(L[0-3]))?$")


@dataclass(frozen=True)
class Strategy:
    name: str
    layers: tuple[Layer, ...]


def parse_strategy(spec: str) -> Strategy:
    """``L0`` → L0 only; ``L1-L2`` → L1 then L2; names as in the roadmap's table."""
    match = _SPEC.match(spec.strip().upper())
    if match is None:
        raise UsageError(f"unknown strategy {spec!r}", fix="use a layer (L0) or a range (L1-L2, L0-L3)")
    first, last = match.group(1), match.group(2) or match.group(1)
    lo, hi = LAYERS.index(first), LAYERS.index(last)  # type: ignore[arg-type]
    if hi < lo:
        raise UsageError(f"strategy {spec!r} runs backwards", fix=f"write it {last}-{first}")
    chosen = LAYERS[lo : hi + 1]
    name = f"{first}-only" if lo == hi else ("all-layers" if (lo, hi) == (0, 3) else f"{first}-{last}")
    return Strategy(name, chosen)


def _answer_call(calls: list[dict[str, Any]]) -> dict[str, Any] | None:
    ok = [c for c in calls if c.get("status") == "ok"]
    return ok[0] if ok else (calls[0] if calls else None)


def simulate(
    gw: Gateway, trace: dict[str, Any], strategies: list[Strategy], latencies: dict[str, float]
) -> dict[str, Any]:
    calls: list[dict[str, Any]] = trace.get("llm_call_rows") or []
    answer = _answer_call(calls)
    payload = trace.get("request_payload") or {}
    task = str(payload.get("task_type") or "chat")
    input_tokens = int(answer["input_tokens"]) if answer else 0
    output_tokens = int(answer["output_tokens"]) if answer else 0
    results = []
    for strategy in strategies:
        pick: L.Candidate | None = None
        for layer in strategy.layers:
            refs = L.layer_refs(gw.settings.routing, layer, task, None, first=True)
            found = L.candidates(refs, layer, gw.registry, gw.health, gw.local_models)
            if found:
                pick = found[0]
                break
        if pick is None:
            results.append({"strategy": strategy.name, "layers": list(strategy.layers), "available": False,
                            "model": None, "estimated_cost": None, "estimated_latency_ms": None,
                            "from_cache": False})  # fmt: skip
            continue
        kind, base_url = gw.price_args(pick)
        priced = cost(kind, pick.model, input_tokens, output_tokens, gw.overrides, base_url=base_url)
        latency = latencies.get(f"{pick.provider.name}/{pick.model}")
        results.append(
            {
                "strategy": strategy.name,
                "layers": list(strategy.layers),
                "available": True,
                "model": pick.ref,
                "estimated_cost": round(priced.usd, 8),
                "cost_estimated": priced.estimated,
                "estimated_latency_ms": None if latency is None else round(latency),
                "from_cache": bool(answer and answer.get("cached")),
            }
        )
    return {
        "original_trace_id": trace["id"],
        "original": {
            "model": f"{answer['provider']}/{answer['model']}" if answer else None,
            "layer": answer.get("layer") if answer else None,
            "cost": trace.get("total_cost"),
            "duration_ms": trace.get("total_duration_ms"),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
        },
        "simulation_config": {"strategies": [s.name for s in strategies], "task_type": task},
        "results": results,
    }


def median_latencies(conn: Any, days: int = 30) -> dict[str, float]:
    """Median duration of successful, uncached calls per provider/model over the last ``days``."""
    rows = conn.execute(
        "SELECT provider || '/' || model, duration_ms FROM llm_calls WHERE status = 'ok' AND cached = 0 "
        "AND created_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?) ORDER BY 1, 2",
        (f"-{days} days",),
    ).fetchall()
    by_model: dict[str, list[float]] = {}
    for key, duration in rows:
        by_model.setdefault(key, []).append(float(duration))
    return {k: v[len(v) // 2] for k, v in by_model.items()}
