"""Work profiles through the daemon: create/use/status/update/stop/delete routes, the active profile's goals,
focus, files and decisions in the prompt of every chat of its project (and of no other), ``profile`` on
the request, knowledge and profile in one system message, progress noted from requests, clear errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpgw.paths import Paths
from mcpgw.profiles import match_goal
from mcpgw.store import connect_sync
from tests.conftest import app_client
from tests.fakes.upstreams import FakeOpenAI
from tests.test_gateway_e2e import chat, openai_fake, settings_for
from tests.test_knowledge_docs import AUTH, make_repo
from tests.test_knowledge_gateway import system_prompt

__all__ = ["openai_fake"]
GOALS = "Improve auth security,Add 2FA,Refactor token handling"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "proj", {"docs/auth.md": AUTH, "src/auth/handler.py": "def check(): ...\n"})


@pytest.fixture
async def client(paths: Paths, openai_fake: FakeOpenAI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(paths, settings_for(paths, '[search]\nembedder = "none"\n')) as c:
        yield c


async def create(client: httpx.AsyncClient, repo: Path, name: str = "refactor-auth", **body: Any) -> httpx.Response:
    body.setdefault("type", "refactor")
    body.setdefault("goals", [GOALS])
    return await client.post("/v1/profiles", json={"project_root": str(repo), "name": name, **body})


async def update(client: httpx.AsyncClient, repo: Path, **body: Any) -> httpx.Response:
    return await client.post("/v1/profiles/update", json={"project_root": str(repo), **body})


async def test_active_profile_joins_the_prompts_of_its_project(
    client: httpx.AsyncClient, openai_fake: FakeOpenAI, repo: Path, tmp_path: Path, paths: Paths
) -> None:
    r = await create(client, repo, files=["src/auth/handler.py"], focus="token rotation")
    assert r.status_code == 200, r.text
    assert r.json()["goals_total"] == 3 and r.json()["active"] is False
    await chat(client, project_root=str(repo))
    assert system_prompt(openai_fake) == ""  # created, not in use yet

    r = await client.post("/v1/profiles/use", json={"project_root": str(repo), "name": "refactor-auth"})
    assert r.status_code == 200 and r.json()["active"] is True
    await update(client, repo, done=["1"], decision="Use TOTP for 2FA", rationale="no SMS costs")
    r = await chat(client, project_root=str(repo), files=["src/auth/handler.py"], persist=True)
    assert r.status_code == 200, r.text
    prompt = system_prompt(openai_fake)
    assert prompt.startswith('Work profile "refactor-auth" (refactor)')
    assert "- [x] Improve auth security" in prompt and "- [ ] Add 2FA" in prompt
    assert "Current focus: token rotation" in prompt and "Files in scope: src/auth/handler.py" in prompt
    assert "Use TOTP for 2FA (why: no SMS costs)" in prompt
    assert any(d["reason"].startswith("profile refactor-auth (refactor): 1/3 goals done")
               for d in r.json()["routing"]["decisions"])  # fmt: skip

    other = make_repo(tmp_path / "other", {"x.txt": "x"})
    await chat(client, project_root=str(other))
    assert system_prompt(openai_fake) == ""  # another project: no profile

    status = (await client.get("/v1/profiles/status", params={"project_root": str(repo)})).json()
    assert status["name"] == "refactor-auth" and status["files_touched"] == ["src/auth/handler.py"]
    await client.app.state.store.flush()  # type: ignore[attr-defined]
    conn = connect_sync(paths.db_path, readonly=True)
    linked = conn.execute(
        "SELECT profile_id FROM conversations WHERE id = ?", (r.json()["context"]["conversation_id"],)
    )
    assert linked.fetchone()[0] == status["id"]
    conn.close()

    r = await client.post("/v1/profiles/stop", json={"project_root": str(repo)})
    assert r.status_code == 200 and r.json()["status"] == "paused"
    await chat(client, project_root=str(repo))
    assert system_prompt(openai_fake) == ""
    r = await client.get("/v1/profiles/status", params={"project_root": str(repo)})
    assert r.status_code == 404 and "profile use" in r.json()["fix"]


async def test_profile_named_on_the_request_and_knowledge_share_one_system_message(
    client: httpx.AsyncClient, openai_fake: FakeOpenAI, repo: Path
) -> None:
    await create(client, repo, name="debug-refresh", type="debug", goals=["Find the refresh race"])
    await client.post("/v1/knowledge/build", json={"project_root": str(repo), "include": ["docs/*.md"], "embed": False})
    question = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "why do refresh tokens fail?"}]
    r = await chat(client, messages=question, project_root=str(repo), profile="debug-refresh")
    assert r.status_code == 200, r.text
    prompt = system_prompt_first(openai_fake)
    assert 'Work profile "debug-refresh" (debug)' in prompt and "Find the refresh race" in prompt
    assert "Project knowledge" in prompt and "rotated on every use" in prompt
    r = await chat(client, project_root=str(repo), profile="nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"] and "debug-refresh" in r.json()["detail"]
    r = await chat(client, profile="debug-refresh")
    assert r.status_code == 400 and "needs a project" in r.json()["detail"]


def system_prompt_first(fake: FakeOpenAI) -> str:
    from tests.test_gateway_e2e import chat_requests

    messages = chat_requests(fake)[-1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "system", "user"]
    assert messages[1]["content"] == "Be brief."
    return str(messages[0]["content"])


async def test_updates_listing_and_bad_input(client: httpx.AsyncClient, repo: Path, tmp_path: Path) -> None:
    assert (await create(client, repo)).status_code == 200
    r = await create(client, repo)
    assert r.status_code == 400 and "already exists" in r.json()["detail"]
    r = await create(client, repo, name="x", type="party")
    assert r.status_code == 400 and "refactor" in r.json()["fix"]
    r = await client.post("/v1/profiles/use", json={"project_root": str(repo), "name": "ghost"})
    assert r.status_code == 404 and "refactor-auth" in r.json()["detail"] and "profile create" in r.json()["fix"]
    r = await update(client, repo, done=["2FA"])
    assert r.status_code == 404  # no active profile and no name
    r = await update(client, repo, name="refactor-auth", done=["2FA"], add_goals=["Audit log"], files=["a.py,b.py"])
    p = r.json()
    assert [g["goal"] for g in p["goals"] if g["done"]] == ["Add 2FA"] and p["goals_total"] == 4
    assert p["files_in_scope"] == ["a.py", "b.py"]
    r = await update(client, repo, name="refactor-auth", done=["token"])
    assert r.json()["goals_done"] == 2
    r = await update(client, repo, name="refactor-auth", done=["a"])
    assert r.status_code == 400 and "several goals" in r.json()["detail"]
    r = await update(client, repo, name="refactor-auth", decision="  ")
    assert r.status_code == 400

    other = make_repo(tmp_path / "other", {"x.txt": "x"})
    assert (await create(client, other)).status_code == 200  # same name, another project
    mine = (await client.get("/v1/profiles", params={"project_root": str(repo)})).json()["profiles"]
    assert [p["name"] for p in mine] == ["refactor-auth"] and mine[0]["project_id"] != ""
    assert len((await client.get("/v1/profiles")).json()["profiles"]) == 2
    r = await client.delete("/v1/profiles/refactor-auth", params={"project_root": str(repo)})
    assert r.status_code == 200
    assert (await client.get("/v1/profiles", params={"project_root": str(repo)})).json()["profiles"] == []


def test_goal_matching() -> None:
    goals = ["Improve auth security", "Add 2FA", "Refactor token handling"]
    assert match_goal(goals, "add 2fa") == "Add 2FA"
    assert match_goal(goals, "3") == "Refactor token handling"
    assert match_goal(goals, "security") == "Improve auth security"
    from mcpgw.errors import UsageError

    with pytest.raises(UsageError, match="not a goal"):
        match_goal(goals, "deploy")


def test_migration_keeps_existing_profiles_and_scopes_names_per_project(tmp_path: Path) -> None:
    import sqlean

    from mcpgw.store.db import migrate, schema_version
    from mcpgw.store.migrations import MIGRATIONS

    conn = connect_sync(tmp_path / "old.db")
    schema_version(conn)
    for m in MIGRATIONS:
        if m.name == "knowledge_profiles":
            break
        conn.execute("BEGIN")
        m.up(conn)
        conn.execute("INSERT INTO _migrations (version, name) VALUES (?, ?)", (m.version, m.name))
        conn.execute("COMMIT")
    conn.execute(
        "INSERT INTO session_profiles (id, name, project_id, goals, context) VALUES ('p1', 'old', 'A', '[\"g\"]', '{}')"
    )
    assert "0011_knowledge_profiles" in migrate(conn)
    row = conn.execute("SELECT name, project_id, type, goals, status FROM session_profiles").fetchone()
    assert tuple(row) == ("old", "A", "feature", '["g"]', "active")
    conn.execute("INSERT INTO session_profiles (id, name, project_id) VALUES ('p2', 'old', 'B')")
    with pytest.raises(sqlean.IntegrityError):
        conn.execute("INSERT INTO session_profiles (id, name, project_id) VALUES ('p3', 'old', 'A')")
    conn.close()
