"""The OpenAI-compatible endpoints in-process: the official ``openai`` async SDK and raw HTTP against the
daemon app (ASGITransport), the gateway pipeline behind it, and a protocol-faithful fake OpenAI upstream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from mcpgw.config import load_settings
from mcpgw.paths import Paths
from mcpgw.store import connect_sync
from tests.conftest import app_client
from tests.fakes.upstreams import FakeOpenAI

UPSTREAM_KEY = "sk-upstream-test"


def write_config(paths: Paths, base_url: str, extra: str = "") -> None:
    """A config with one OpenAI-compatible provider ('fake') on every layer, priced so costs are non-zero."""
    paths.ensure()
    paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(
        f"""
[providers.fake]
kind = "openai_compat"
base_url = "{base_url}"
api_key = "{UPSTREAM_KEY}"
models = ["gpt-4o-mini", "gpt-4o"]
max_retries = 0

[routing]
default_layer = "L0"
max_layer = "L3"
auto_escalate = true
cross_check_quality = []

[routing.layers]
L0 = ["fake/gpt-4o-mini"]
L1 = ["fake/gpt-4o"]
L2 = ["fake/gpt-4o"]
L3 = ["fake/gpt-4o"]

[routing.task_models]

[pricing.overrides."gpt-4o-mini"]
input_per_mtok = 1.0
output_per_mtok = 2.0

[pricing.overrides."gpt-4o"]
input_per_mtok = 5.0
output_per_mtok = 10.0
{extra}
"""
    )


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=UPSTREAM_KEY) as upstream:
        yield upstream  # type: ignore[misc]


@pytest.fixture
async def client(paths: Paths, fake: FakeOpenAI) -> AsyncIterator[httpx.AsyncClient]:
    write_config(paths, fake.base_url)
    async with app_client(paths, load_settings(paths.config_file, environ={})) as http:
        yield http


@pytest.fixture
def sdk(client: httpx.AsyncClient) -> openai.AsyncOpenAI:
    """The official async SDK, talking to the in-process daemon app (socket-like: no key needed)."""
    return openai.AsyncOpenAI(
        base_url="http://mcpgw/v1", api_key="unused-on-the-socket", http_client=client, max_retries=0
    )


def traces(paths: Paths, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    conn = connect_sync(paths.db_path, readonly=True)
    try:
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.close()


async def test_chat_completion_through_the_pipeline(
    client: httpx.AsyncClient, sdk: openai.AsyncOpenAI, fake: FakeOpenAI, paths: Paths
) -> None:
    fake.reply("Paris is the capital of France.", prompt_tokens=1000, completion_tokens=500)
    raw = await sdk.chat.completions.with_raw_response.create(
        model="mcpgw/auto",
        messages=[{"role": "user", "content": "Capital of France?"}],
        temperature=0.2,
        response_format={"type": "text"},
    )
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Paris is the capital of France."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens == 1000
    assert raw.headers["x-mcpgw-layer"] == "L0"
    assert float(raw.headers["x-mcpgw-cost"]) == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    trace_id = raw.headers["x-mcpgw-trace-id"]

    sent = fake.requests[-1].body
    assert sent["model"] == "gpt-4o-mini"
    assert sent["temperature"] == 0.2 and sent["response_format"] == {"type": "text"}
    assert "mcpgw" not in sent and fake.requests[-1].headers["authorization"] == f"Bearer {UPSTREAM_KEY}"

    await client.app.state.store.flush()  # type: ignore[attr-defined]
    rows = traces(paths, "SELECT request_type, status, total_cost FROM request_traces WHERE id = ?", (trace_id,))
    assert [(r[0], r[1]) for r in rows] == [("openai", "ok")]
    assert rows[0][2] == pytest.approx(0.002)
    calls = traces(paths, "SELECT provider, model, layer FROM llm_calls WHERE trace_id = ?", (trace_id,))
    assert [tuple(c) for c in calls] == [("fake", "gpt-4o-mini", "L0")]


async def test_layer_and_model_pins(sdk: openai.AsyncOpenAI, fake: FakeOpenAI) -> None:
    raw = await sdk.chat.completions.with_raw_response.create(
        model="mcpgw/L1", messages=[{"role": "user", "content": "pin a layer"}]
    )
    assert raw.headers["x-mcpgw-layer"] == "L1"
    assert fake.requests[-1].body["model"] == "gpt-4o"
    await sdk.chat.completions.create(model="fake/gpt-4o-mini", messages=[{"role": "user", "content": "pin"}])
    assert fake.requests[-1].body["model"] == "gpt-4o-mini"


async def test_streaming_with_and_without_usage(sdk: openai.AsyncOpenAI, fake: FakeOpenAI) -> None:
    fake.reply("one two three four")
    stream = await sdk.chat.completions.create(
        model="mcpgw/auto",
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert all(c.object == "chat.completion.chunk" for c in chunks)

    fake.reply("no usage please")
    stream = await sdk.chat.completions.create(
        model="mcpgw/auto", messages=[{"role": "user", "content": "again"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "no usage please"


async def test_raw_stream_frames_and_headers(client: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    fake.reply("alpha beta")
    body = {"model": "mcpgw/L0", "messages": [{"role": "user", "content": "raw"}], "stream": True}
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-mcpgw-layer"] == "L0"
        text = (await response.aread()).decode()
    frames = [f for f in text.split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    assert frames[-2].startswith(": mcpgw trace_id=") and "layer=L0" in frames[-2]
    payloads = [json.loads(f[6:]) for f in frames if f.startswith("data: {")]
    assert all(p["object"] == "chat.completion.chunk" for p in payloads)
    assert not any(p.get("usage") for p in payloads)


async def test_tool_calls_parse_in_the_sdk(sdk: openai.AsyncOpenAI, fake: FakeOpenAI) -> None:
    tools: list[Any] = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    fake.reply("", tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    completion = await sdk.chat.completions.create(
        model="mcpgw/auto",
        messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=tools,
        tool_choice="auto",
    )
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    assert fake.requests[-1].body["tools"] == tools and fake.requests[-1].body["tool_choice"] == "auto"

    fake.reply("", tool_calls=[{"name": "get_weather", "arguments": {"city": "Lyon"}}])
    stream = await sdk.chat.completions.create(
        model="mcpgw/auto", messages=[{"role": "user", "content": "weather in Lyon?"}], tools=tools, stream=True
    )
    name, args, finish = "", "", None
    async for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                name += delta.function.name or "" if delta.function else ""
                args += delta.function.arguments or "" if delta.function else ""
            finish = choice.finish_reason or finish
    assert name == "get_weather" and json.loads(args) == {"city": "Lyon"} and finish == "tool_calls"


async def test_models_list_and_retrieve(sdk: openai.AsyncOpenAI) -> None:
    ids = [m.id async for m in sdk.models.list()]
    assert ids[:5] == ["mcpgw/auto", "mcpgw/L0", "mcpgw/L1", "mcpgw/L2", "mcpgw/L3"]
    assert "fake/gpt-4o-mini" in ids and "fake/gpt-4o" in ids
    assert len(ids) == len(set(ids))
    model = await sdk.models.retrieve("fake/gpt-4o")
    assert model.owned_by == "fake"
    with pytest.raises(openai.NotFoundError):
        await sdk.models.retrieve("nope/never")


async def test_openai_errors(client: httpx.AsyncClient, sdk: openai.AsyncOpenAI, fake: FakeOpenAI) -> None:
    async def post(body: Any, **kwargs: Any) -> httpx.Response:
        return await client.post("/v1/chat/completions", **kwargs, **({"json": body} if body is not None else {}))

    bad_json = await post(None, content=b"{not json")
    assert bad_json.status_code == 400 and bad_json.json()["error"]["type"] == "invalid_request_error"
    cases: list[tuple[Any, str | None]] = [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "mcpgw/auto", "messages": []}, "messages"),
        ({"model": "mcpgw/auto", "messages": ["hi"]}, "messages[0]"),
        ({"model": "mcpgw/auto", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
        (
            {"model": "mcpgw/auto", "messages": [{"role": "user", "content": "x"}], "mcpgw": {"colour": 1}},
            "mcpgw.colour",
        ),
        (
            {"model": "mcpgw/auto", "messages": [{"role": "user", "content": "x"}], "mcpgw": {"quality": "ultra"}},
            "mcpgw.quality",
        ),
    ]
    for body, param in cases:
        response = await post(body)
        assert response.status_code == 400, body
        assert response.json()["error"]["param"] == param, response.json()
        assert set(response.json()["error"]) >= {"message", "type", "param", "code"}

    with pytest.raises(openai.BadRequestError) as unknown:
        await sdk.chat.completions.create(model="nobody/model-x", messages=[{"role": "user", "content": "x"}])
    assert "unknown model" in unknown.value.message

    with pytest.raises(openai.RateLimitError) as budget:
        await sdk.chat.completions.create(
            model="mcpgw/L0",
            messages=[{"role": "user", "content": "too dear"}],
            max_tokens=100_000,
            extra_body={"mcpgw": {"budget_usd": 0.000001}},
        )
    assert budget.value.status_code == 429 and budget.value.code == "budget_exceeded"

    fake.fail_next(500, times=10)
    with pytest.raises(openai.InternalServerError) as upstream:
        await sdk.chat.completions.create(
            model="mcpgw/L0",
            messages=[{"role": "user", "content": "fail"}],
            extra_body={"mcpgw": {"auto_escalate": False}},
        )
    assert upstream.value.status_code == 502


async def test_error_mid_stream_is_an_sse_error_event(client: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    fake.reply("this answer is cut in the middle of the stream")
    fake.truncate_stream_next()
    body = {"model": "mcpgw/L0", "messages": [{"role": "user", "content": "cut"}], "stream": True}
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        text = (await response.aread()).decode()
    last = [f for f in text.split("\n\n") if f][-1]
    assert last.startswith("data: ") and json.loads(last[6:])["error"]["code"] == "upstream_error"


async def test_embeddings_through_a_provider(
    client: httpx.AsyncClient, sdk: openai.AsyncOpenAI, fake: FakeOpenAI, paths: Paths
) -> None:
    # The SDK asks for base64 by default and decodes it: the vectors must survive the round trip.
    raw = await sdk.embeddings.with_raw_response.create(model="fake/text-embedding-3-small", input=["alpha", "beta"])
    result = raw.parse()
    assert [d.index for d in result.data] == [0, 1]
    assert result.data[0].embedding == pytest.approx(FakeOpenAI.embedding("alpha"), abs=1e-6)
    assert result.data[1].embedding == pytest.approx(FakeOpenAI.embedding("beta"), abs=1e-6)
    assert result.usage.prompt_tokens > 0
    assert fake.requests[-1].body["model"] == "text-embedding-3-small"
    assert fake.requests[-1].body["encoding_format"] == "float"

    floats = await client.post(
        "/v1/embeddings", json={"model": "fake/text-embedding-3-small", "input": "gamma", "encoding_format": "float"}
    )
    assert floats.json()["data"][0]["embedding"] == FakeOpenAI.embedding("gamma")
    await client.app.state.store.flush()  # type: ignore[attr-defined]
    rows = traces(paths, "SELECT request_type FROM request_traces WHERE id = ?", (floats.headers["x-mcpgw-trace-id"],))
    assert [r[0] for r in rows] == ["embeddings"]

    bad = await client.post("/v1/embeddings", json={"model": "fake/x", "input": [1.5]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input"
    unknown = await client.post("/v1/embeddings", json={"model": "nobody/emb", "input": "x"})
    assert unknown.status_code == 400 and "unknown embedding model" in unknown.json()["error"]["message"]


async def test_local_embeddings(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``mcpgw/local`` uses the bundled code model; ``all-MiniLM-L6-v2`` asks for the stock model, and says
    how to get it when it is not installed."""
    from mcpgw.search.embedder import clear_cache

    monkeypatch.delenv("MCPGW_EMBED_MODEL_DIR", raising=False)
    monkeypatch.setenv("MCPGW_MODEL_CACHE", str(tmp_path / "no-models"))
    clear_cache()
    response = await client.post("/v1/embeddings", json={"model": "mcpgw/local", "input": ["def f(): pass"]})
    assert response.status_code == 200
    vector = response.json()["data"][0]["embedding"]
    assert len(vector) == 384 and abs(sum(v * v for v in vector) - 1) < 1e-3
    assert response.headers["x-mcpgw-cost"] == "0.000000"
    assert response.headers["x-mcpgw-model"].startswith("local:mcpgw-code-minilm-l6@")

    stock = await client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": ["def f(): pass"]})
    assert stock.status_code == 503
    assert "prepare_embedding_model.py" in stock.json()["error"]["message"]
    clear_cache()


async def test_project_scoped_key(client: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    made = (await client.post("/v1/keys", json={"role": "developer", "project": "web"})).json()
    transport = httpx.ASGITransport(app=client.app)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as tcp:
        sdk = openai.AsyncOpenAI(base_url="http://127.0.0.1:8787/v1", api_key=made["key"], http_client=tcp)
        ok = await sdk.chat.completions.create(model="mcpgw/auto", messages=[{"role": "user", "content": "scoped"}])
        assert ok.choices[0].message.content
        with pytest.raises(openai.PermissionDeniedError):
            await sdk.chat.completions.create(
                model="mcpgw/auto",
                messages=[{"role": "user", "content": "other project"}],
                extra_body={"mcpgw": {"project_id": "api"}},
            )
        viewer = (await client.post("/v1/keys", json={"role": "viewer"})).json()["key"]
        reader = openai.AsyncOpenAI(base_url="http://127.0.0.1:8787/v1", api_key=viewer, http_client=tcp)
        listed = [m.id async for m in reader.models.list()]
        assert "mcpgw/auto" in listed
        with pytest.raises(openai.PermissionDeniedError):
            await reader.chat.completions.create(model="mcpgw/auto", messages=[{"role": "user", "content": "x"}])
        with pytest.raises(openai.PermissionDeniedError):
            await reader.embeddings.create(model="fake/text-embedding-3-small", input="x")
