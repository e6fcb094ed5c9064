"""``POST /v1/repo/map`` and ``/v1/repo/related`` in-process, ``mcpgw repo`` against a real daemon, and
import hygiene (the CLI and the daemon's route module load no tree-sitter or numpy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from mcpgw.paths import Paths
from tests.conftest import app_client
from tests.test_repomap_graph import make_project


async def test_map_route_formats(paths: Paths, tmp_path: Path) -> None:
    root = make_project(tmp_path / "shop")
    async with app_client(paths) as client:
        graph = (await client.post("/v1/repo/map", json={"path": str(root)})).json()
        assert graph["format"] == "json" and graph["stats"]["parsed"] > 0
        assert {"nodes", "edges", "metadata"} == set(graph["graph"])
        assert any(n.get("rank", 0) > 0 for n in graph["graph"]["nodes"] if n["type"] == "file")
        text = (await client.post("/v1/repo/map", json={"path": str(root), "format": "text", "tokens": 120})).json()
        assert text["stats"]["parsed"] == 0  # the daemon's database cached the tags
        assert text["output"].startswith("shop/core/models.py:")
        assert text["textMap"]["budget"] == 120 and 108 <= text["textMap"]["tokens"] <= 132
        mermaid = (
            await client.post(
                "/v1/repo/map", json={"path": str(root), "format": "mermaid", "visualize": True, "includeTests": False}
            )
        ).json()
        assert mermaid["output"].startswith("graph LR") and mermaid["svg"].startswith("<svg")
        assert "tests/test_routes.py" not in mermaid["output"]


async def test_map_route_streams_progress_then_the_result(paths: Paths, tmp_path: Path) -> None:
    root = make_project(tmp_path / "shop")
    async with app_client(paths) as client:
        response = await client.post("/v1/repo/map", json={"path": str(root), "format": "dot", "stream": True})
        assert response.headers["content-type"].startswith("application/x-ndjson")
        events = [json.loads(line) for line in response.text.splitlines()]
        assert events[-1]["type"] == "result" and events[-1]["output"].startswith("digraph repomap {")
        progress = [e for e in events if e["type"] == "progress"]
        assert progress and progress[-1]["done"] == progress[-1]["total"]
        missing = await client.post("/v1/repo/map", json={"path": str(tmp_path / "nope"), "stream": True})
        (error,) = [json.loads(line) for line in missing.text.splitlines()]
        assert error["type"] == "error" and "no such directory" in error["detail"] and error["fix"]


async def test_bad_requests_are_problems(paths: Paths, tmp_path: Path) -> None:
    root = make_project(tmp_path / "shop")
    async with app_client(paths) as client:
        relative = await client.post("/v1/repo/map", json={"path": "shop"})
        assert relative.status_code == 400 and "absolute" in relative.json()["detail"]
        assert (await client.post("/v1/repo/map", json={"path": str(root), "format": "png"})).status_code == 400
        assert (await client.post("/v1/repo/map", json={"path": str(root), "tokens": 0})).status_code == 400
        (root / "ai-mcp.config.json").write_text(json.dumps({"repoMap": {"categories": {"shop/*": "vital"}}}))
        bad_config = await client.post("/v1/repo/map", json={"path": str(root)})
        assert bad_config.status_code == 400 and "vital" in bad_config.json()["detail"]


async def test_project_config_overrides_categories(paths: Paths, tmp_path: Path) -> None:
    root = make_project(tmp_path / "shop")
    (root / "ai-mcp.config.json").write_text(json.dumps({"repoMap": {"categories": {"shop/api/*": "core"}}}))
    async with app_client(paths) as client:
        graph = (await client.post("/v1/repo/map", json={"path": str(root)})).json()["graph"]
    category = {n["id"]: n["category"] for n in graph["nodes"]}
    assert category["shop/api/routes.py"] == "core"


async def test_related_route(paths: Paths, tmp_path: Path) -> None:
    root = make_project(tmp_path / "shop")
    async with app_client(paths) as client:
        body: dict[str, Any] = {"path": str(root), "file": str(root / "shop/core/db.py")}
        result = (await client.post("/v1/repo/related", json=body)).json()
        assert result["file"] == "shop/core/db.py"
        assert {"shop/api/routes.py", "shop/api/broken.py", "scripts/seed.py"} <= {r["path"] for r in result["related"]}
        unknown = await client.post("/v1/repo/related", json={"path": str(root), "file": "nope.py"})
        assert unknown.status_code == 400 and unknown.json()["fix"]


def test_cli_against_a_real_daemon(cli: Any, daemon: Paths, tmp_path: Path) -> None:
    root = make_project(tmp_path / "shop")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    text = cli("repo", "map", "--format", "text", "--tokens", "150", cwd=root / "shop" / "api")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("shop/core/models.py:")  # PATH defaults to the git root
    assert "text map" in text.stderr and "tokens" in text.stderr
    out = tmp_path / "out" / "graph.json"
    written = cli(
        "repo",
        "map",
        str(root),
        "--output",
        str(out),
        "--visualize",
        "--no-tests",
        "--focus",
        "svc/cmd/main.go",
        cwd=root,
    )
    assert written.returncode == 0, written.stderr
    graph = json.loads(out.read_text())
    assert graph["metadata"]["totalFiles"] > 10
    assert not any(n["category"] == "test" for n in graph["nodes"])
    assert (tmp_path / "out" / "graph.svg").read_text().startswith("<svg")
    as_json = cli("repo", "map", str(root), "--json", "--max-depth", "0")
    assert {n["id"] for n in json.loads(as_json.stdout)["nodes"] if n["type"] == "file"} >= {"go.mod", "Dockerfile"}
    related = cli("repo", "related", str(root / "shop/core/models.py"), "--json")
    assert related.returncode == 0, related.stderr
    assert "shop/core/db.py" in {r["path"] for r in json.loads(related.stdout)["related"]}
    missing = cli("repo", "map", str(tmp_path / "missing"))
    assert missing.returncode == 2 and "Fix:" in missing.stderr and "Traceback" not in missing.stderr
    bad_format = cli("repo", "map", str(root), "--format", "png")
    assert bad_format.returncode == 2 and "Traceback" not in bad_format.stderr


def test_cli_and_route_modules_do_not_load_tree_sitter_or_numpy() -> None:
    code = (
        "import sys, mcpgw.cli.repo, mcpgw.daemon.routes.repomap, mcpgw.repomap\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tree_sitter', 'numpy', 'lizard')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
