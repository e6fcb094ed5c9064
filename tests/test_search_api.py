"""The daemon's search routes, the watcher and the CLI, in-process (the search route module and start-up
hook are patched into the app here; the lead wires them for real)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from mcpgw.config import SearchSettings, Settings
from mcpgw.errors import IndexError_, UsageError
from mcpgw.paths import Paths
from mcpgw.search import vectors
from mcpgw.store import connect_sync
from tests.conftest import app_client
from tests.test_search_index import model_dir


@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch) -> None:
    import mcpgw.daemon.app as daemon_app

    if "search" not in daemon_app.ROUTE_MODULES:
        monkeypatch.setattr(daemon_app, "ROUTE_MODULES", (*daemon_app.ROUTE_MODULES, "search"))
    hook = ("mcpgw.search.service", "start")
    if hook not in daemon_app.STARTUP_HOOKS:
        monkeypatch.setattr(daemon_app, "STARTUP_HOOKS", [*daemon_app.STARTUP_HOOKS, hook])


def settings() -> Settings:
    return Settings(search=SearchSettings(model_dir=str(model_dir())))


def make_repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "billing.py").write_text(
        'def charge_card(card, amount):\n    """Charge a credit card."""\n    return gateway.charge(card, amount)\n'
    )
    (root / "pkg" / "mail.py").write_text("def send_welcome_email(user):\n    smtp.send(user.email, 'Welcome')\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


class Bridge:
    """A sync client (what the CLI uses) over the in-process async app, via a loop in another thread."""

    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.client, self.loop = client, loop

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        from mcpgw.client import error_from_response

        future: Future[httpx.Response] = asyncio.run_coroutine_threadsafe(
            self.client.request(method, path, **kwargs), self.loop
        )
        response = future.result(timeout=120)
        if response.status_code >= 400:
            raise error_from_response(response)
        return response.json()

    def post(self, path: str, json: Any = None) -> Any:
        return self._call("POST", path, json=json)

    def get(self, path: str, params: Any = None) -> Any:
        return self._call("GET", path, params=params)

    def __enter__(self) -> Bridge:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.fixture
def bridge(wired: None, paths: Paths) -> Iterator[Bridge]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    entered = asyncio.run_coroutine_threadsafe(_enter(paths), loop).result(60)
    yield Bridge(entered[1], loop)
    asyncio.run_coroutine_threadsafe(entered[0].__aexit__(None, None, None), loop).result(60)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


async def _enter(paths: Paths) -> tuple[Any, httpx.AsyncClient]:
    manager = app_client(paths, settings())
    client = await manager.__aenter__()
    return manager, client


async def keyword_hits(client: httpx.AsyncClient, root: Path, query: str, seconds: float = 10.0) -> Any:
    """The keyword hits for ``query`` once there are any (a background re-index is under way)."""
    body = {"query": query, "root": str(root), "mode": "keyword"}
    for _ in range(int(seconds / 0.05)):
        hits = (await client.post("/v1/search", json=body)).json()["results"]
        if hits:
            return hits
        await asyncio.sleep(0.05)
    return []


async def test_routes_index_search_stats_and_watch(wired: None, paths: Paths, tmp_path: Path) -> None:
    root = make_repo(tmp_path / "shop")
    async with app_client(paths, settings()) as client:
        missing = await client.post("/v1/search", json={"query": "charge", "root": str(root)})
        assert missing.status_code == 409 and "mcpgw search index" in missing.json()["fix"]
        job = (await client.post("/v1/search/index", json={"root": str(root), "wait": True})).json()
        assert job["state"] == "done" and job["summary"]["files"] == 2 and job["summary"]["embedded"] == 2
        assert (await client.get(f"/v1/search/jobs/{job['id']}")).json()["state"] == "done"
        found = (await client.post("/v1/search", json={"query": "take payment", "root": str(root / "pkg")})).json()
        assert found["mode"] == "hybrid" and found["results"][0]["path"] == "pkg/billing.py"
        body = {"query": "take payment", "root": str(root), "rerank": True}
        reranked = (await client.post("/v1/search", json=body)).json()["results"]
        assert reranked[0]["path"] == "pkg/billing.py"
        assert [h["score"] for h in reranked] != [h["score"] for h in found["results"]]  # the cross-encoder scored
        empty = await client.post("/v1/search", json={"query": " ", "root": str(root)})
        assert empty.status_code == 400 and empty.json()["type"] == "bad-request"
        assert (await client.post("/v1/search", json={"query": "x", "root": "rel"})).status_code == 400
        stats = (await client.get("/v1/search/stats", params={"root": str(root)})).json()["roots"][0]
        assert (stats["files"], stats["chunks"], stats["vectors"]) == (2, 2, 2)
        # the watcher picks up an edit without another index command
        (root / "pkg" / "mail.py").write_text("def send_invoice_pdf(order):\n    render_pdf(order)\n")
        hits = await keyword_hits(client, root, "invoice pdf")
        assert hits and hits[0]["path"] == "pkg/mail.py"
        # ...and, having re-indexed it, brings the root's in-memory vectors up to date itself
        conn = connect_sync(paths.db_path)
        try:
            for _ in range(100):
                root_id = conn.execute("SELECT id FROM search_roots").fetchone()[0]
                generation = conn.execute("SELECT generation FROM search_roots").fetchone()[0]
                kept = vectors.held(conn, root_id)
                if kept is not None and kept.generation == generation:
                    break
                await asyncio.sleep(0.05)
            assert kept is not None and kept.generation == generation and len(kept) == 2
            assert {kept.paths[i] for i in kept.path_idx} == {"pkg/billing.py", "pkg/mail.py"}
        finally:
            conn.close()


async def test_a_restarted_daemon_catches_up_with_edits_made_while_it_was_down(
    wired: None, paths: Paths, tmp_path: Path
) -> None:
    root = make_repo(tmp_path / "shop")
    async with app_client(paths, settings()) as client:
        job = (await client.post("/v1/search/index", json={"root": str(root), "wait": True})).json()
        assert job["state"] == "done"
    (root / "pkg" / "mail.py").write_text("def send_invoice_pdf(order):\n    render_pdf(order)\n")  # no daemon
    (root / "pkg" / "billing.py").unlink()
    async with app_client(paths, settings()) as client:
        hits = await keyword_hits(client, root, "invoice pdf")
        assert hits and hits[0]["path"] == "pkg/mail.py"
        gone = {"query": "charge card", "root": str(root), "mode": "keyword"}
        assert (await client.post("/v1/search", json=gone)).json()["results"] == []
        stats = (await client.get("/v1/search/stats", params={"root": str(root)})).json()["roots"][0]
        assert (stats["files"], stats["vectors"]) == (1, 1)


def test_cli_functions_and_commands(bridge: Bridge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcpgw.cli import context
    from mcpgw.cli import search as cli

    root = make_repo(tmp_path / "shop")
    summary = cli.run_index(bridge, root, progress=False)  # type: ignore[arg-type]
    assert summary["files"] == 2 and summary["skipped"] == {}
    data = cli.run_search(bridge, cli.QueryOptions("email a new user", root))  # type: ignore[arg-type]
    assert data["results"][0]["path"] == "pkg/mail.py"
    with pytest.raises(UsageError):
        cli.run_search(bridge, cli.QueryOptions("  ", root))  # type: ignore[arg-type]
    with pytest.raises(IndexError_):
        cli.run_search(bridge, cli.QueryOptions("x", tmp_path))  # type: ignore[arg-type]

    monkeypatch.setattr(context, "client", lambda **_: bridge)
    runner = CliRunner()
    result = runner.invoke(cli.app, ["charge a credit card", "--root", str(root), "--json", "--type", "py"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows[0]["path"] == "pkg/billing.py" and set(rows[0]) == {
        "path",
        "start_line",
        "end_line",
        "score",
        "text",
        "language",
        "kind",
    }
    text = runner.invoke(cli.app, ["charge card", "--root", str(root)])
    assert "📂 pkg/billing.py (lines 1-3) - similarity:" in text.stdout
    assert "\x1b[" not in text.stdout and "❱ 1 def charge" in text.stdout  # piped: plain, matching line marked
    from mcpgw.cli import output

    monkeypatch.setenv("FORCE_COLOR", "1")
    output.out.cache_clear()
    try:
        coloured = runner.invoke(cli.app, ["charge card", "--root", str(root)])
    finally:
        output.out.cache_clear()
    assert "\x1b[" in coloured.stdout and "pkg/billing.py" in coloured.stdout
    strict = runner.invoke(cli.app, ["charge card", "--root", str(root), "--threshold", "0.999"])
    assert strict.exit_code == 0 and strict.stdout == ""
    assert "no matches scoring 0.999 or more" in strict.stderr and "lower --threshold" in strict.stderr
    strict_json = runner.invoke(cli.app, ["charge card", "--root", str(root), "--threshold", "0.999", "--json"])
    assert json.loads(strict_json.stdout) == [] and "the best 0." in strict_json.stderr
    indexed = runner.invoke(cli.app, ["index", str(root), "--json"])
    assert indexed.exit_code == 0 and {"files", "chunks", "skipped", "seconds"} <= set(json.loads(indexed.stdout))
    assert json.loads(indexed.stdout)["unchanged"] == 2
    stats = runner.invoke(cli.app, ["stats", "--json"])
    assert json.loads(stats.stdout)["roots"][0]["files"] == 2
    bad = runner.invoke(cli.app, ["x", "--mode", "fuzzy", "--root", str(root)])
    assert bad.exit_code != 0 and isinstance(bad.exception, UsageError)


async def test_a_missing_reranker_is_a_notice_not_an_error(
    wired: None, paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcpgw.search import rerank

    monkeypatch.setattr(rerank, "BUNDLED_RERANKER", tmp_path / "no-reranker")
    rerank.clear_cache()
    root = make_repo(tmp_path / "shop")
    try:
        async with app_client(paths, settings()) as client:
            await client.post("/v1/search/index", json={"root": str(root), "wait": True})
            body = {"query": "take payment", "root": str(root), "rerank": True}
            found = (await client.post("/v1/search", json=body)).json()
    finally:
        rerank.clear_cache()
    assert found["results"][0]["path"] == "pkg/billing.py"
    assert "no reranker" in found["notice"] and "ranked without it" in found["notice"]


def test_plain_snippet_is_laid_out_as_rich_syntax_lays_it_out() -> None:
    from rich.console import Console
    from rich.syntax import Syntax

    from mcpgw.cli import search as cli

    code = "def f(x):\n\treturn x  # tab\n\n    pass"
    for first, marked in [(1, {1}), (98, {99, 101}), (7, set())]:
        console = Console(color_system=None, width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        console.print(Syntax(code, "python", line_numbers=True, start_line=first, highlight_lines=marked))
        theirs = "\n".join(line.rstrip() for line in console.export_text().rstrip("\n").split("\n"))
        assert cli.plain_snippet(code, first, marked) == theirs
