"""Knowledge packs through the daemon: build/list/search/delete routes, and chats through the fake OpenAI
upstream whose recorded request carries the relevant section (and not an irrelevant one), the trace's
routing decision, nothing (and no query) when a project has no pack, and hybrid retrieval with the real
local embedder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpgw.knowledge import knowledge_for
from mcpgw.paths import Paths
from tests.conftest import app_client
from tests.fakes.upstreams import FakeOpenAI
from tests.test_gateway_e2e import chat, chat_requests, openai_fake, settings_for, traces
from tests.test_knowledge_docs import ADR, AUTH, DEPLOY, make_repo
from tests.test_search_index import model_dir

__all__ = ["openai_fake"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "proj",
        {"README.md": "# Payments\n\nMoves money.\n", "docs/auth.md": AUTH, "docs/ops/deploy.md": DEPLOY,
         "docs/adr/0007-postgres-ledger.md": ADR},
    )  # fmt: skip


@pytest.fixture
async def client(paths: Paths, openai_fake: FakeOpenAI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(paths, settings_for(paths, '[search]\nembedder = "none"\n')) as c:
        yield c


def system_prompt(fake: FakeOpenAI) -> str:
    messages = chat_requests(fake)[-1].body["messages"]
    system = [m["content"] for m in messages if m["role"] == "system"]
    assert len(system) <= 1
    return system[0] if system else ""


async def build(client: httpx.AsyncClient, repo: Path, **body: Any) -> httpx.Response:
    body.setdefault("include", ["docs/**/*.md", "README.md"])
    return await client.post("/v1/knowledge/build", json={"project_root": str(repo), **body})


async def test_chat_gets_the_relevant_section_and_the_trace_says_so(
    client: httpx.AsyncClient, openai_fake: FakeOpenAI, repo: Path, paths: Paths
) -> None:
    r = await build(client, repo, embed=False)
    assert r.status_code == 200, r.text
    assert r.json()["files"] == 4 and r.json()["embedder"] is None
    question = [{"role": "user", "content": "When does an access token expire and how is it refreshed?"}]
    r = await chat(client, messages=question, project_root=str(repo / "docs"))  # any dir inside the repo
    assert r.status_code == 200, r.text
    prompt = system_prompt(openai_fake)
    assert prompt.startswith("Project knowledge")
    assert "docs/auth.md › Authentication › Token refresh" in prompt and "rotated on every use" in prompt
    assert "Helm chart" not in prompt and "PostgreSQL 16" not in prompt  # irrelevant sections stay out
    sent = chat_requests(openai_fake)[-1].body["messages"]
    assert sent[-1] == question[0]  # the user's message is untouched, after the injected system message
    decisions = [d["reason"] for d in r.json()["routing"]["decisions"]]
    assert any(d.startswith("knowledge: ") and "Token refresh" in d for d in decisions)
    (trace,) = await traces(client, paths)
    assert any("Token refresh" in d["reason"] for d in trace["routing_decisions"])

    r = await chat(client, messages=[{"role": "user", "content": "Which database holds the ledger?"}],
                   project_root=str(repo))  # fmt: skip
    prompt = system_prompt(openai_fake)
    assert "PostgreSQL 16" in prompt and "rotated on every use" not in prompt

    r = await chat(client, messages=question, project_root=str(repo), knowledge=False)
    assert r.status_code == 200 and system_prompt(openai_fake) == ""


async def test_no_pack_means_no_injection_and_no_queries(
    client: httpx.AsyncClient, openai_fake: FakeOpenAI, repo: Path, tmp_path: Path
) -> None:
    bare = make_repo(tmp_path / "bare", {"src/a.py": "x = 1\n"})
    store = client.app.state.store  # type: ignore[attr-defined]
    kb = knowledge_for(store)
    await chat(client, project_root=str(bare))  # first request of the project: one look-up, cached
    assert system_prompt(openai_fake) == ""
    loads = kb.loads
    statements: list[str] = []
    await store.run(lambda c: c.set_trace_callback(statements.append))
    try:
        for _ in range(3):
            r = await chat(client, messages=[{"role": "user", "content": "how do tokens refresh?"}],
                           project_root=str(bare))  # fmt: skip
            assert r.status_code == 200 and system_prompt(openai_fake) == ""
            assert not any(d["reason"].startswith(("knowledge", "profile")) for d in r.json()["routing"]["decisions"])
    finally:
        await store.run(lambda c: c.set_trace_callback(None))
    assert kb.loads == loads
    touched = [s for s in statements if "knowledge" in s or "profile" in s]
    assert touched == []
    # a build in another project leaves this one's cache alone; a build here invalidates it
    await build(client, repo, embed=False)
    await chat(client, project_root=str(bare))
    assert kb.loads == loads


async def test_routes_list_search_delete_and_errors(client: httpx.AsyncClient, repo: Path) -> None:
    r = await build(client, repo, include=[], embed=False)
    assert r.status_code == 400 and "--include" in r.json()["fix"]
    r = await build(client, repo, include=["nope/**/*.md"], embed=False)
    assert r.status_code == 400 and "no file under" in r.json()["detail"]
    r = await client.get("/v1/knowledge/search", params={"q": "token", "project_root": str(repo)})
    assert r.status_code == 404 and "knowledge build" in r.json()["fix"]
    r = await client.post("/v1/knowledge/build", json={"project_root": "relative/dir", "include": ["*.md"]})
    assert r.status_code == 400
    assert (await client.get("/v1/knowledge", params={"project_root": str(repo)})).json()["packs"] == []

    assert (await build(client, repo, name="all", embed=False, description="every doc")).status_code == 200
    (pack,) = (await client.get("/v1/knowledge", params={"project_root": str(repo)})).json()["packs"]
    assert (pack["name"], pack["documents"], pack["description"]) == ("all", 4, "every doc")
    r = await client.get("/v1/knowledge/search", params={"q": "argon2id", "project_root": str(repo)})
    hits = r.json()["hits"]
    assert r.json()["mode"] == "keyword" and hits[0]["title"].endswith("Password hashing")
    assert hits[0]["doc_type"] == "guide" and hits[0]["pack"] == "all"
    r = await client.delete("/v1/knowledge/all", params={"project_root": str(repo)})
    assert r.status_code == 200 and r.json()["deleted"] == "all"
    r = await client.delete("/v1/knowledge/all", params={"project_root": str(repo)})
    assert r.status_code == 404


@pytest.fixture
def embedding_settings(paths: Paths) -> Iterator[Any]:
    yield settings_for(paths, f'[search]\nembedder = "local"\nmodel_dir = "{model_dir()}"\n')


async def test_hybrid_retrieval_with_the_local_embedder(
    paths: Paths, openai_fake: FakeOpenAI, repo: Path, embedding_settings: Any
) -> None:
    (repo / "docs/glossary.md").write_text(
        "# Glossary\n\n## Sign-in\n\nUsers authenticate with a passkey or a one-time code sent by e-mail.\n"
    )
    async with app_client(paths, embedding_settings) as client:
        r = await build(client, repo)
        assert r.status_code == 200, r.text
        assert r.json()["embedder"].startswith("local:")
        (pack,) = (await client.get("/v1/knowledge", params={"project_root": str(repo)})).json()["packs"]
        assert pack["vectors"] == pack["sections"] > 0
        # no shared word with the glossary section: found by meaning
        r = await client.get("/v1/knowledge/search", params={"q": "how do people log in", "project_root": str(repo)})
        body = r.json()
        assert body["mode"] == "hybrid"
        assert any(h["title"].endswith("Sign-in") for h in body["hits"][:3])
        await chat(client, messages=[{"role": "user", "content": "how do people log in?"}], project_root=str(repo))
        assert "passkey" in system_prompt(openai_fake)
        # rebuilding keyword-only re-writes every file without vectors
        again = (await build(client, repo, embed=False)).json()
        assert again["updated"] == again["files"] and again["embedder"] is None


async def test_streamed_chat_gets_the_knowledge_too(
    client: httpx.AsyncClient, openai_fake: FakeOpenAI, repo: Path
) -> None:
    await build(client, repo, embed=False)
    openai_fake.reply("argon2id it is")
    body = {"messages": [{"role": "user", "content": "which password hashing do we use?"}], "stream": True,
            "project_root": str(repo)}  # fmt: skip
    async with client.stream("POST", "/v1/chat", json=body) as r:
        assert r.status_code == 200
        text = "".join([line async for line in r.aiter_lines()])
    assert "argon2id" in text  # the streamed answer arrived
    assert "Password hashing" in system_prompt(openai_fake)


def test_public_surfaces_are_curated() -> None:
    import mcpgw.knowledge
    import mcpgw.profiles

    for module in (mcpgw.knowledge, mcpgw.profiles):
        assert module.__all__ == sorted(module.__all__)
        public = {
            n for n in vars(module) if not n.startswith("_") and n not in ("annotations", "weakref", "TYPE_CHECKING")
        }
        assert public == set(module.__all__)
