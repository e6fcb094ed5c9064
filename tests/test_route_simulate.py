"""The route simulator: a past request priced under other layer strategies, without calling a model."""

from __future__ import annotations

from typing import Any

import pytest

from mcpgw.errors import UsageError
from mcpgw.paths import Paths
from mcpgw.routing.simulator import parse_strategy
from tests.conftest import app_client, run_cli
from tests.fakes.upstreams import FakeAnthropic, FakeOpenAI
from tests.test_gateway_e2e import anthropic_fake, chat, chat_requests, openai_fake, settings_for

_ = (openai_fake, anthropic_fake)


def test_parse_strategies() -> None:
    assert parse_strategy("L0").name == "L0-only"
    assert parse_strategy("l1-l2").layers == ("L1", "L2")
    assert parse_strategy("L0-L3").name == "all-layers"
    with pytest.raises(UsageError):
        parse_strategy("L2-L1")
    with pytest.raises(UsageError):
        parse_strategy("fast")


async def test_simulate_prices_each_strategy_without_calling(
    paths: Paths, openai_fake: FakeOpenAI, anthropic_fake: FakeAnthropic
) -> None:
    openai_fake.reply("x " * 200, prompt_tokens=1000, completion_tokens=200)
    async with app_client(paths, settings_for(paths)) as c:
        env = (await chat(c)).json()
        await c.app.state.store.flush()  # type: ignore[attr-defined]
        calls_before = len(chat_requests(openai_fake)) + len(chat_requests(anthropic_fake))
        r = await c.post(
            "/v1/routing/simulate",
            json={"traceId": env["context"]["trace_id"], "strategies": ["L0", "L1", "L2-L3"]},
        )
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        assert len(chat_requests(openai_fake)) + len(chat_requests(anthropic_fake)) == calls_before
        assert data["original"]["input_tokens"] == 1000 and data["original"]["output_tokens"] == 200
        by_name = {x["strategy"]: x for x in data["results"]}
        assert by_name["L0-only"]["available"] is False  # no free provider configured
        l1, l2 = by_name["L1-only"], by_name["L2-L3"]
        assert l1["model"] == "openai/gpt-4o-mini"
        assert l1["estimated_cost"] == pytest.approx(data["original"]["cost"])  # same model, same tokens
        assert l2["model"].startswith("anthropic/") and l2["estimated_cost"] > l1["estimated_cost"]
        assert l1["estimated_latency_ms"] is not None  # measured from this database
        missing = await c.post("/v1/routing/simulate", json={"traceId": "ffffffffffff"})
        assert missing.status_code == 404


def test_cli_table(cli: Any, env: dict[str, str]) -> None:
    r = cli("route", "simulate", "nope-nope")
    assert r.returncode == 1 and "mcpgw traces list" in r.stderr
    run_cli(env, "daemon", "stop")
