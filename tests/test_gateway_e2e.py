"""The gateway end to end through the daemon app, against protocol-faithful fake upstreams on loopback:
routing, fallback, escalation (automatic and confirmed), cross-check with conflict, budgets under
concurrency, $0 models under an exhausted budget, cache hits, conversations and compression, garbage."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from mcpgw.config import load_settings
from mcpgw.paths import Paths
from mcpgw.store import connect_sync
from tests.conftest import app_client
from tests.fakes.upstreams import FakeAnthropic, FakeOllama, FakeOpenAI

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def openai_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
                "OPENROUTER_API_KEY", "OLLAMA_HOST"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    with FakeOpenAI(api_key="sk-test-openai") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai")
        yield fake


@pytest.fixture
def anthropic_fake(monkeypatch: pytest.MonkeyPatch, openai_fake: FakeOpenAI) -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key="sk-ant-test") as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.origin)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
        yield fake


@pytest.fixture
def ollama_fake(monkeypatch: pytest.MonkeyPatch, openai_fake: FakeOpenAI) -> Iterator[FakeOllama]:
    with FakeOllama(models=["llama3.2:latest"]) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.origin)
        yield fake


def settings_for(paths: Paths, toml: str = "", **env: str) -> Any:
    paths.ensure()
    paths.config_file.write_text(toml)
    return load_settings(paths.config_file, environ=env)


async def chat(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    body.setdefault("messages", HI)
    return await client.post("/v1/chat", json=body)


def chat_requests(fake: FakeOpenAI | FakeAnthropic | FakeOllama) -> list[Any]:
    return [r for r in fake.requests if r.path.endswith(("/chat/completions", "/messages", "/api/chat"))]


async def traces(client: httpx.AsyncClient, paths: Paths) -> list[dict[str, Any]]:
    await client.app.state.store.flush()  # type: ignore[attr-defined]
    conn = connect_sync(paths.db_path, readonly=True)
    rows = conn.execute("SELECT * FROM request_traces ORDER BY created_at").fetchall()
    out = []
    for row in rows:
        item = dict(zip(row.keys(), tuple(row), strict=True))
        for key in ("routing_decisions", "llm_calls", "tool_calls", "request_payload", "error_info"):
            if item.get(key):
                item[key] = json.loads(item[key])
        out.append(item)
    conn.close()
    return out


@pytest.fixture
async def client(paths: Paths, openai_fake: FakeOpenAI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(paths, settings_for(paths)) as c:
        yield c


async def test_chat_routes_to_the_only_provider_and_fills_the_envelope(
    client: httpx.AsyncClient, openai_fake: FakeOpenAI, paths: Paths
) -> None:
    openai_fake.reply("The answer is 42.")
    r = await chat(client)
    assert r.status_code == 200, r.text
    env = r.json()
    assert env["result"] == "The answer is 42."
    assert env["routing"]["layer"] == "L1"  # L0 has no usable provider with only OpenAI configured
    assert env["routing"]["model"] == "openai/gpt-4o-mini"
    assert env["routing"]["provider"] == "openai"
    assert env["routing"]["decisions"][0]["reason"].startswith("start L0")
    perf = env["performance"]
    assert perf["input_tokens"] > 0 and perf["output_tokens"] > 0
    assert perf["cost_usd"] > 0 and perf["from_cache"] is False
    sent = chat_requests(openai_fake)[-1]
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.headers["authorization"] == "Bearer sk-test-openai"
    (trace,) = await traces(client, paths)
    assert trace["id"] == env["context"]["trace_id"]
    assert trace["status"] == "ok" and trace["total_cost"] == pytest.approx(perf["cost_usd"])
    assert trace["llm_calls"][0]["model"] == "gpt-4o-mini"


async def test_streaming_arrives_in_pieces(client: httpx.AsyncClient, openai_fake: FakeOpenAI) -> None:
    openai_fake.reply("one two three four five")
    events: list[tuple[str, Any]] = []
    async with client.stream("POST", "/v1/chat", json={"messages": HI, "stream": True}) as r:
        assert r.status_code == 200
        event = ""
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((event, json.loads(line[6:])))
    pieces = [
        c["delta"].get("content") for e, d in events if e == "chunk" for c in d["choices"] if c["delta"].get("content")
    ]
    assert len(pieces) >= 5
    assert "".join(pieces) == "one two three four five"
    final = next(d for e, d in events if e == "result")
    assert final["result"] == "one two three four five"
    assert final["performance"]["output_tokens"] > 0


async def test_tiny_budget_refuses_a_paid_model_before_any_call(
    client: httpx.AsyncClient, openai_fake: FakeOpenAI
) -> None:
    r = await chat(client, budget_usd=0.0000001)
    assert r.status_code == 429
    problem = r.json()
    assert problem["type"] == "budget-exceeded"
    assert "refused before any call" in problem["detail"]
    assert chat_requests(openai_fake) == []


async def test_fallback_within_a_layer_is_in_the_trace(
    client: httpx.AsyncClient, openai_fake: FakeOpenAI, paths: Paths
) -> None:
    openai_fake.fail_next(500, times=3, model="gpt-4o-mini")  # first try + 2 retries
    openai_fake.answer_for("gpt-4.1-mini", "from the fallback")
    r = await chat(client)
    assert r.status_code == 200, r.text
    assert r.json()["routing"]["model"] == "openai/gpt-4.1-mini"
    assert r.json()["result"] == "from the fallback"
    (trace,) = await traces(client, paths)
    calls = trace["llm_calls"]
    assert [(c["model"], c["status"]) for c in calls] == [("gpt-4o-mini", "error"), ("gpt-4.1-mini", "ok")]
    assert any("failed" in d["reason"] for d in trace["routing_decisions"])


async def test_automatic_escalation_to_the_next_layer(
    paths: Paths, openai_fake: FakeOpenAI, anthropic_fake: FakeAnthropic
) -> None:
    for model in ("gpt-4o-mini", "gpt-4.1-mini"):
        openai_fake.fail_next(503, times=3, model=model)
    anthropic_fake.reply("escalated answer")
    async with app_client(paths, settings_for(paths)) as c:
        r = await chat(c)
        assert r.status_code == 200, r.text
        env = r.json()
        assert env["routing"]["layer"] == "L2"
        assert env["routing"]["provider"] == "anthropic"
        assert env["result"] == "escalated answer"
        assert any(d["reason"].startswith("escalated") for d in env["routing"]["decisions"])
        (trace,) = await traces(c, paths)
        assert [c["status"] for c in trace["llm_calls"]] == ["error", "error", "ok"]


async def test_escalation_needs_confirmation_when_auto_escalate_is_off(
    paths: Paths, openai_fake: FakeOpenAI, anthropic_fake: FakeAnthropic
) -> None:
    settings = settings_for(paths, "[routing]\nauto_escalate = false\n")
    async with app_client(paths, settings) as c:
        for model in ("gpt-4o-mini", "gpt-4.1-mini"):
            openai_fake.fail_next(503, times=3, model=model)
        r = await chat(c)
        assert r.status_code == 200
        env = r.json()
        assert env["status"] == "confirmation_required"
        conf = env["confirmation"]
        assert conf["next_layer"] == "L2" and conf["estimated_cost_usd"] > 0
        assert chat_requests(anthropic_fake) == []
        anthropic_fake.reply("after consent")
        for model in ("gpt-4o-mini", "gpt-4.1-mini"):  # the cheap layer still fails
            openai_fake.fail_next(503, times=3, model=model)
        r2 = await chat(c, confirm=True, cache=False)
        assert r2.json()["status"] == "ok"
        assert r2.json()["result"] == "after consent"


async def test_json_validator_rejects_and_escalates(
    paths: Paths, openai_fake: FakeOpenAI, anthropic_fake: FakeAnthropic
) -> None:
    openai_fake.answer_for("gpt-4o-mini", "not json at all")
    anthropic_fake.reply('{"ok": true}')
    async with app_client(paths, settings_for(paths)) as c:
        r = await chat(c, openai={"response_format": {"type": "json_object"}})
        env = r.json()
        assert env["result"] == '{"ok": true}'
        assert env["routing"]["layer"] == "L2"
        assert any("not valid JSON" in d["reason"] for d in env["routing"]["decisions"])


async def test_cross_check_conflict_goes_to_an_arbitrator(
    paths: Paths, openai_fake: FakeOpenAI, anthropic_fake: FakeAnthropic
) -> None:
    openai_fake.answer_for("gpt-4o-mini", "2 + 2 = 5")
    openai_fake.answer_for("gpt-4.1-mini", "VERDICT: DISAGREE\n2 + 2 is 4, not 5.")
    anthropic_fake.reply("FINAL: REVISED\n2 + 2 = 4")
    async with app_client(paths, settings_for(paths)) as c:
        r = await chat(c, quality="high")
        env = r.json()
        check = env["cross_check"]
        assert check["primary_model"] == "openai/gpt-4o-mini"
        assert check["reviewer_model"] == "openai/gpt-4.1-mini"
        assert check["verdict"] == "conflict"
        assert check["arbitrator_model"].startswith("anthropic/")
        assert check["decision"] == "revised"
        assert check["primary_answer"] == "2 + 2 = 5"
        assert env["result"] == "2 + 2 = 4"
        (trace,) = await traces(c, paths)
        assert len(trace["llm_calls"]) == 3


async def test_concurrent_requests_cannot_overspend(paths: Paths, openai_fake: FakeOpenAI) -> None:
    # each request reserves ~ (input + 1000 output tokens) at gpt-4o-mini prices ≈ $0.0006
    settings = settings_for(paths, "[budgets]\ndaily_usd = 0.0015\n[routing.layers]\nL1 = ['openai/gpt-4o-mini']\n")
    async with app_client(paths, settings) as c:
        openai_fake.hang_next(0.4, times=8)
        results = await asyncio.gather(
            *(chat(c, messages=[{"role": "user", "content": f"q{i}"}], openai={"max_tokens": 1000}) for i in range(8))
        )
        ok = [r for r in results if r.status_code == 200]
        refused = [r for r in results if r.status_code == 429]
        assert len(ok) == 2
        assert len(refused) == 6
        assert all("daily budget" in r.json()["detail"] for r in refused)
        assert all("resets" in r.json()["detail"] for r in refused)
        assert len(chat_requests(openai_fake)) == 2
        stats = (await c.get("/v1/stats")).json()["budgets"]["global"]
        assert stats["spent_today_usd"] <= 0.0015
        assert stats["reserved_usd"] == 0


async def test_free_local_model_serves_under_an_exhausted_budget(
    paths: Paths, openai_fake: FakeOpenAI, ollama_fake: FakeOllama
) -> None:
    settings = settings_for(paths, "[budgets]\ndaily_usd = 0.0\n")
    async with app_client(paths, settings) as c:
        r = await chat(c)
        assert r.status_code == 200, r.text
        assert r.json()["routing"]["model"] == "ollama/llama3.2:latest"
        assert r.json()["performance"]["cost_usd"] == 0
        paid = await chat(c, layer="L1", auto_escalate=False, cache=False)
        assert paid.status_code == 429
        assert chat_requests(openai_fake) == []


async def test_cache_hit_costs_nothing_and_skips_the_upstream(
    client: httpx.AsyncClient, openai_fake: FakeOpenAI
) -> None:
    first = (await chat(client)).json()
    second = (await chat(client)).json()
    assert second["performance"]["from_cache"] is True
    assert second["performance"]["cost_usd"] == 0
    assert second["result"] == first["result"]
    assert len(chat_requests(openai_fake)) == 1
    bypass = (await chat(client, cache=False)).json()
    assert bypass["performance"]["from_cache"] is False
    assert len(chat_requests(openai_fake)) == 2
    stats = (await client.get("/v1/cache/stats")).json()
    assert stats["hits"] == 1 and stats["entries"] == 1
    assert (await client.post("/v1/cache/clear")).json()["cleared"] == 1


async def test_conversation_continues_and_compresses(paths: Paths, openai_fake: FakeOpenAI) -> None:
    settings = settings_for(paths, "[context]\nmax_history_tokens = 60\n")
    async with app_client(paths, settings) as c:
        openai_fake.reply("first answer " * 5)
        env = (
            await chat(c, persist=True, messages=[{"role": "user", "content": "remember the word kiwi " * 3}])
        ).json()
        conv = env["context"]["conversation_id"]
        assert conv
        for i in range(3):
            openai_fake.reply(f"answer {i} " * 5)
            await chat(c, persist=True, conversation_id=conv, messages=[{"role": "user", "content": f"turn {i} " * 8}])
        sent = chat_requests(openai_fake)
        assert any("kiwi" in m["content"] for m in sent[1].body["messages"])  # history was sent
        openai_fake.reply("the summary: kiwi")  # used by the compression call
        openai_fake.reply("final")
        env = (
            await chat(c, persist=True, conversation_id=conv, messages=[{"role": "user", "content": "and now?"}])
        ).json()
        assert env["context"]["compressed"] is True
        data = (await c.get(f"/v1/context/{conv}")).json()
        assert data["summaries"] and "kiwi" in data["summaries"][-1]["summary"]
        last_sent = chat_requests(openai_fake)[-1].body["messages"]
        assert "Summary of the earlier conversation" in last_sent[0]["content"]
        handoff = (await c.post(f"/v1/context/{conv}", json={"action": "handoff"})).json()
        assert handoff["conversation_id"] != conv and handoff["summary"]
        missing = await chat(c, conversation_id="nope")
        assert missing.status_code == 404


async def test_garbage_from_upstream_is_an_error_naming_the_provider(
    client: httpx.AsyncClient, openai_fake: FakeOpenAI, paths: Paths
) -> None:
    openai_fake.malformed_next(times=10, model="gpt-4o-mini")
    r = await chat(client, model="openai/gpt-4o-mini")
    assert r.status_code == 502
    assert "openai" in r.json()["detail"]
    ok = await chat(client, model="openai/gpt-4.1-mini")  # nothing else is affected
    assert ok.status_code == 200
    rows = await traces(client, paths)
    assert rows[0]["status"] == "error"
    assert "openai" in rows[0]["error_info"]["message"]


async def test_unknown_model_and_no_provider(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "OLLAMA_HOST"):
        monkeypatch.delenv(var, raising=False)
    async with app_client(paths, settings_for(paths)) as c:
        r = await chat(c)
        assert r.status_code == 503
        body = r.json()
        assert "no provider is configured" in body["detail"]
        assert "OPENAI_API_KEY" in body["fix"] and "mcpgw doctor" in body["fix"]
        bad_layer = await chat(c, layer="L7")
        assert bad_layer.status_code == 400


async def test_anthropic_and_ollama_wire_formats(
    paths: Paths, anthropic_fake: FakeAnthropic, ollama_fake: FakeOllama
) -> None:
    anthropic_fake.reply("from claude")
    ollama_fake.reply("from llama")
    async with app_client(paths, settings_for(paths)) as c:
        r = await chat(c, model="anthropic/claude-3-haiku", messages=[
            {"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}])  # fmt: skip
        assert r.json()["result"] == "from claude"
        sent = chat_requests(anthropic_fake)[-1]
        assert sent.body["system"] == "be brief"
        assert sent.body["model"] == "claude-3-haiku-20240307"
        r = await chat(c, model="ollama/llama3.2:latest", stream=False)
        assert r.json()["result"] == "from llama"
        assert r.json()["performance"]["cost_usd"] == 0


async def test_tool_calls_pass_through_in_the_openai_shape(client: httpx.AsyncClient, openai_fake: FakeOpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]  # fmt: skip
    openai_fake.reply("", tool_calls=[{"name": "get_weather", "arguments": {"city": "Hanoi"}}])
    r = await chat(client, openai={"tools": tools, "tool_choice": "auto"})
    env = r.json()
    call = env["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Hanoi"}
    assert env["finish_reason"] == "tool_calls"
    sent = chat_requests(openai_fake)[-1].body
    assert sent["tools"] == tools and sent["tool_choice"] == "auto"


async def test_anthropic_streams_through_the_gateway(paths: Paths, anthropic_fake: FakeAnthropic) -> None:
    anthropic_fake.reply("streamed from claude here")
    async with app_client(paths, settings_for(paths)) as c:
        chunks: list[str] = []
        final: dict[str, Any] = {}
        async with c.stream("POST", "/v1/chat", json={"messages": HI, "stream": True,
                                                       "model": "anthropic/claude-3-haiku"}) as r:  # fmt: skip
            event = ""
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "chunk":
                    for choice in json.loads(line[6:])["choices"]:
                        if choice["delta"].get("content"):
                            chunks.append(choice["delta"]["content"])
                elif line.startswith("data: ") and event == "result":
                    final = json.loads(line[6:])
        assert len(chunks) > 1 and "".join(chunks) == "streamed from claude here"
        assert final["routing"]["provider"] == "anthropic"
        assert final["performance"]["input_tokens"] > 0


async def test_stream_falls_back_before_the_first_byte(
    client: httpx.AsyncClient, openai_fake: FakeOpenAI, paths: Paths
) -> None:
    openai_fake.fail_next(500, times=3, model="gpt-4o-mini")
    openai_fake.answer_for("gpt-4.1-mini", "fallback stream")
    async with client.stream("POST", "/v1/chat", json={"messages": HI, "stream": True}) as r:
        body = (await r.aread()).decode()
    result = json.loads(body.split("event: result\ndata: ")[1].split("\n")[0])
    assert result["result"] == "fallback stream"
    assert result["routing"]["model"] == "openai/gpt-4.1-mini"
    (trace,) = await traces(client, paths)
    assert [c["status"] for c in trace["llm_calls"]] == ["error", "ok"]


async def test_risk_levels_pick_the_layer_and_turn_on_cross_check(
    paths: Paths, openai_fake: FakeOpenAI, anthropic_fake: FakeAnthropic
) -> None:
    async with app_client(paths, settings_for(paths)) as c:
        r = (await chat(c, risk="high")).json()
        assert r["routing"]["layer"] == "L2"
        assert "risk 'high'" in r["routing"]["decisions"][0]["reason"]
        assert r["cross_check"] is not None  # high risk is cross-checked
        flagged = (await chat(c, criticality={"dataLoss": True}, cross_check=False, cache=False)).json()
        assert flagged["routing"]["layer"] == "L2"  # data loss raises the risk to high
        crit = (await chat(c, risk="prod-critical", cross_check=False, cache=False)).json()
        assert crit["routing"]["layer"] == "L3"  # lifts the default L2 ceiling
        assert crit["routing"]["model"] == "anthropic/claude-3.5-sonnet"
        bad = await chat(c, risk="extreme")
        assert bad.status_code == 400
