"""PageRank, the token-budgeted text map, related files and the pictures."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from mcpgw.repomap import build_repo_map, estimate_tokens
from mcpgw.repomap.rank import pagerank
from mcpgw.repomap.render import render_dot, render_mermaid, render_svg
from tests.test_repomap_graph import make_project


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "scripts" / "bench_repomap.py"
    spec = importlib.util.spec_from_file_location("bench_repomap", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    _bench().generate(root, 300)
    return root


def test_pagerank_favours_the_shared_dependency_and_follows_focus() -> None:
    edges = {"a": {"hub": 1.0}, "b": {"hub": 1.0}, "c": {"hub": 1.0, "leaf": 1.0}, "hub": {}, "leaf": {}}
    ranks = pagerank(edges, edges)
    assert sum(ranks.values()) == pytest.approx(1.0)
    assert max(ranks, key=ranks.__getitem__) == "hub"
    assert ranks["leaf"] > ranks["a"]
    focused = pagerank(edges, edges, {"c": 1.0})
    assert focused["leaf"] > ranks["leaf"] and focused["a"] < ranks["a"]
    assert pagerank([], {}) == {}


@pytest.mark.parametrize("budget", [256, 1024, 4096])
def test_text_map_stays_within_ten_percent_of_the_budget(synthetic: Path, budget: int) -> None:
    text_map = build_repo_map(synthetic).text(budget)
    assert estimate_tokens(text_map.text) == text_map.tokens
    assert 0.9 * budget <= text_map.tokens <= 1.1 * budget
    assert text_map.definitions > 0


def test_text_map_starts_with_the_central_module(tmp_path: Path) -> None:
    built = build_repo_map(make_project(tmp_path / "shop"))
    text = built.text(200).text
    ranks = built.ranks()
    first_file = text.splitlines()[0].rstrip(":")
    code_ranks = {p: r for p, r in ranks.items() if built.graph.files[p].defs}
    assert first_file == max(code_ranks, key=code_ranks.__getitem__) == "shop/core/models.py"
    assert "  class Order(Base)" in text and "    def total(self) -> int" in text


def test_focus_moves_the_map_toward_the_focused_files(tmp_path: Path) -> None:
    built = build_repo_map(make_project(tmp_path / "shop"))
    plain = built.text(60).text
    focused = built.text(60, focus=["svc/cmd/main.go"]).text
    assert "svc/" not in plain.splitlines()[0]
    assert focused.splitlines()[0].startswith("svc/")
    # the focus may be absolute, and must be a file of the map
    assert built.text(60, focus=[str(tmp_path / "shop" / "svc/cmd/main.go")]).text == focused
    with pytest.raises(Exception, match="not a file of the map"):
        built.text(60, focus=["nope.py"])


def test_small_project_map_shows_everything_under_a_large_budget(tmp_path: Path) -> None:
    built = build_repo_map(make_project(tmp_path / "shop"))
    text_map = built.text(100_000)
    assert text_map.tokens < 100_000
    assert text_map.definitions == sum(len(t.defs) for t in built.graph.files.values())


def test_related_files_are_reverse_dependencies_ranked(tmp_path: Path) -> None:
    built = build_repo_map(make_project(tmp_path / "shop"))
    related = built.related("shop/core/models.py")

    by_path = {r["path"]: r for r in related}
    assert by_path["shop/core/db.py"]["distance"] == 1
    assert by_path["shop/api/routes.py"]["distance"] == 1
    assert by_path["tests/test_routes.py"]["distance"] == 2  # through routes.py
    assert "web/src/App.tsx" not in by_path
    assert float(by_path["shop/api/routes.py"]["score"]) > float(by_path["tests/test_routes.py"]["score"])  # type: ignore[arg-type]
    go = {r["path"] for r in built.related("svc/store/store.go")}
    assert go == {"svc/cmd/main.go", "svc/store/util.go"}


def test_pictures_name_the_modules_and_edges(tmp_path: Path) -> None:
    built = build_repo_map(make_project(tmp_path / "shop"))
    pic = built.picture()
    assert pic.level == "file"  # a small project is drawn file by file
    ids = {n[0] for n in pic.nodes}
    assert ("shop/api/routes.py", "shop/core/db.py", 1.0) in pic.edges and "shop/core/models.py" in ids
    mermaid = render_mermaid(pic)
    assert mermaid.startswith("graph LR\n") and re.search(r"n\d+ --> n\d+", mermaid)
    dot = render_dot(pic)
    assert '"shop/api/routes.py" -> "shop/core/db.py"' in dot and dot.rstrip().endswith("}")
    svg = render_svg(pic, title="shop")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and "shop/core/models.py" in svg
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # self-contained


def test_large_projects_are_drawn_by_module(synthetic: Path) -> None:
    pic = build_repo_map(synthetic).picture()
    assert pic.level == "module"
    assert {"app/pkg0", "web/feat0", "svc0"} <= {label for _, label, _, _ in pic.nodes}
    assert pic.edges
