"""The knowledge library without the daemon: globs, document types, sections, and builds/retrieval over a
real SQLite store (incremental by content hash, keyword ranking, the token budget)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mcpgw.errors import NotFound, UsageError
from mcpgw.knowledge import KnowledgeBase, detect_type, match_files, read_doc, split_sections
from mcpgw.knowledge._docs import MAX_SECTION_CHARS
from mcpgw.store import Store

AUTH = """# Authentication

How clients prove who they are.

## Token refresh

Access tokens expire after 15 minutes. The client calls POST /auth/refresh with its refresh token,
which is rotated on every use; a reused refresh token revokes the whole session family.

## Password hashing

Passwords are hashed with argon2id (m=64MiB, t=3).
"""
DEPLOY = """# Deployment guide

## Kubernetes

The service ships as a Helm chart; canary releases go through Argo Rollouts with a 10% first step.
"""
ADR = """# 7. Use PostgreSQL for the ledger

Status: Accepted

## Context
We need serializable transactions for balances.

## Decision
The ledger lives in PostgreSQL 16.

## Consequences
SQLite is no longer an option for production.
"""


def make_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "proj",
        {
            "README.md": "# Payments service\n\nMoves money between accounts.\n",
            "docs/auth.md": AUTH,
            "docs/ops/deploy.md": DEPLOY,
            "docs/adr/0007-postgres-ledger.md": ADR,
            "docs/ARCHITECTURE.md": "# Architecture\n\nThree services talk over NATS.\n",
            "docs/api/endpoints.md": "# Endpoints\n\n`GET /accounts/{id}` returns an account.\n",
            "docs/logo.md": b"\x89PNG\x00\x00binary",
            "node_modules/pkg/README.md": "# vendored\n",
        },
    )


def test_globs_match_inside_the_root_and_skip_vendored_dirs(repo: Path) -> None:
    found = [p.relative_to(repo).as_posix() for p in match_files(repo, ["docs/**/*.md", "*.md", "**/README.md"])]
    assert found == [
        "README.md", "docs/ARCHITECTURE.md", "docs/adr/0007-postgres-ledger.md", "docs/api/endpoints.md",
        "docs/auth.md", "docs/logo.md", "docs/ops/deploy.md",
    ]  # fmt: skip
    with pytest.raises(UsageError, match="no --include"):
        match_files(repo, ["", "  "])
    with pytest.raises(UsageError, match="outside the project"):
        match_files(repo, ["../*.md"])


def test_document_types_from_paths_and_headings(repo: Path) -> None:
    assert detect_type("README.md", "") == "readme"
    assert detect_type("docs/adr/0007-postgres-ledger.md", ADR) == "adr"
    assert detect_type("notes/0003-queues.md", "Status: accepted\n## Decision\nuse NATS") == "adr"
    assert detect_type("docs/ARCHITECTURE.md", "") == "architecture"
    assert detect_type("docs/api/endpoints.md", "") == "api"
    assert detect_type("docs/notes.md", "# Notes\n## Context\nx\n## Decision\ny\n## Consequences\nz") == "adr"
    assert detect_type("docs/notes.md", "# Service\n## REST API\nx") == "api"
    assert detect_type("docs/ops/deploy.md", DEPLOY) == "guide"


def test_sections_follow_headings_and_stay_small(repo: Path) -> None:
    doc = read_doc(repo, repo / "docs/auth.md")
    assert doc is not None and doc.title == "Authentication" and doc.doc_type == "guide"
    assert [s.title for s in doc.sections] == [
        "docs/auth.md › Authentication",
        "docs/auth.md › Authentication › Token refresh",
        "docs/auth.md › Authentication › Password hashing",
    ]
    assert "rotated on every use" in doc.sections[1].content
    assert read_doc(repo, repo / "docs/logo.md") is None  # binary
    rst = split_sections("Intro\n=====\n\ntext one\n\nUsage\n-----\n\ntext two\n", "guide.rst")
    assert rst == [("Intro", "text one"), ("Intro › Usage", "text two")]
    fenced = split_sections("# A\n```\n# not a heading\n```\n", "a.md")
    assert fenced == [("A", "```\n# not a heading\n```")]
    big = repo / "docs/big.md"
    big.write_text("# Big\n\n" + "\n\n".join(f"paragraph {i} " + "word " * 100 for i in range(30)))
    pieces = read_doc(repo, big)
    assert pieces is not None and len(pieces.sections) > 3
    assert all(len(s.content) <= MAX_SECTION_CHARS for s in pieces.sections)


async def test_build_is_incremental_and_retrieval_ranks_by_keywords(repo: Path, tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "k.db")
    try:
        kb = KnowledgeBase(store)
        first = await kb.build("p1", repo, ["docs/**/*.md", "README.md"], "docs", None, embed=False)
        assert (first["files"], first["added"], first["updated"], first["unchanged"]) == (6, 6, 0, 0)
        assert first["embedder"] is None and "6 documents" in first["summary"]

        again = await kb.build("p1", repo, [], "docs", None, embed=False)  # the stored globs
        assert (again["added"], again["updated"], again["unchanged"], again["sections"]) == (0, 0, 6, 0)

        (repo / "docs/ops/deploy.md").write_text(DEPLOY + "\n## Rollback\n\nhelm rollback payments 1\n")
        (repo / "docs/ARCHITECTURE.md").unlink()
        third = await kb.build("p1", repo, [], "docs", None, embed=False)
        assert (third["added"], third["updated"], third["unchanged"], third["removed"]) == (0, 1, 4, 1)

        hits = (await kb.search("p1", "how do I refresh an expired token?")).hits
        assert hits[0].title == "docs/auth.md › Authentication › Token refresh"
        assert all("deploy" not in h.path for h in hits)
        assert (await kb.search("p1", "rollback")).hits[0].title.endswith("Rollback")
        assert (await kb.search("p1", "Architecture NATS")).hits == []  # the file was removed
        assert (await kb.search("p2", "token")).hits == []  # another project

        small = await kb.context_for("p1", "refresh token argon2id password", token_budget=60)
        assert len(small) == 1  # only one section fits the budget
        assert [p["name"] for p in await kb.list_packs("p1")] == ["docs"]
        await kb.delete("p1", "docs")
        assert not await kb.has_packs("p1")
        with pytest.raises(NotFound):
            await kb.delete("p1", "docs")
        with pytest.raises(UsageError, match="no file under"):
            await kb.build("p1", repo, ["nothing/*.md"], "docs", None, embed=False)
        assert await kb.list_packs(None) == []  # nothing half-written
    finally:
        await store.close()
