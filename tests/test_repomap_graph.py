"""The project graph on a small real multi-language project: nodes, resolved edges, categories, metadata."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mcpgw.errors import UsageError
from mcpgw.repomap import MapOptions, build_repo_map

NODE_FIELDS = {"id": str, "type": str, "path": str, "category": str, "imports": list, "exports": list, "loc": int}
NODE_TYPES = {"file", "module", "class", "function"}
CATEGORIES = {"core", "infra", "feature", "test", "config"}
EDGE_TYPES = {"import", "calls", "extends", "implements"}

FILES: dict[str, str] = {
    "pyproject.toml": '[project]\nname = "shop"\ndependencies = ["fastapi>=0.1", "SQLAlchemy"]\n',
    "shop/__init__.py": "",
    "shop/core/__init__.py": "",
    "shop/core/models.py": (
        "class Base:\n    pass\n\nclass Order(Base):\n    def total(self) -> int:\n        return 1\n"
    ),
    "shop/core/db.py": "from shop.core.models import Order\n\ndef save_order(order: Order) -> None:\n    pass\n",
    "shop/api/__init__.py": "",
    "shop/api/routes.py": (
        "from ..core import db\nfrom shop.core.models import Order\n\n"
        "class Refund(Order):\n    pass\n\n"
        "def create(x: int) -> Order:\n    order = Order()\n    db.save_order(order)\n    return order\n"
    ),
    "shop/api/broken.py": "from shop.core import db\n\ndef half(:\n    pass\n\ndef fine():\n    db.save_order(None)\n",
    "tests/test_routes.py": "from shop.api.routes import create\n\ndef test_create():\n    assert create(1)\n",
    "scripts/seed.py": "from shop.core.db import save_order\n",
    "package.json": json.dumps({"dependencies": {"react": "^18", "express": "^4"}}),
    "web/src/lib/api.ts": "export function fetchOrders(): Promise<string[]> { return Promise.resolve([]) }\n",
    "web/src/lib/index.ts": "export * from './api';\n",
    "web/src/App.tsx": (
        "import { fetchOrders } from './lib/api.js';\nimport React from 'react';\n"
        "export function App() { fetchOrders(); return null }\n"
    ),
    "web/src/main.ts": "import { App } from './App';\nimport * as lib from './lib';\nApp();\n",
    "web/src/App.test.ts": "import { App } from './App';\n",
    "go.mod": "module example.com/shop\n\ngo 1.22\n\nrequire github.com/gin-gonic/gin v1.9.0\n",
    "svc/store/store.go": (
        "package store\n\ntype Store struct{}\n\nfunc (s *Store) Put(k string) error { return nil }\n"
        "func NewStore() *Store { return &Store{} }\n"
    ),
    "svc/store/util.go": "package store\n\nfunc helperThing() { NewStore() }\n",
    "svc/cmd/main.go": (
        'package main\n\nimport "example.com/shop/svc/store"\n\nfunc main() { store.NewStore().Put("a") }\n'
    ),
    "Dockerfile": "FROM python:3.11\n",
    "README.md": "# shop\n\nHello.\n",
    "notes.weird": "no known language\n",
    "logo.png": "\x89PNG\r\n\x1a\n\x00\x00binary",
}


def make_project(root: Path, files: dict[str, str] = FILES) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _build(root: Path, **options: Any) -> dict[str, Any]:
    return build_repo_map(root, None, options=MapOptions(**options)).to_dict()


def _edges(graph: dict[str, Any], kind: str) -> set[tuple[str, str]]:
    return {(e["from"], e["to"]) for e in graph["edges"] if e["type"] == kind}


@pytest.fixture
def graph(tmp_path: Path) -> dict[str, Any]:
    return _build(make_project(tmp_path / "shop"))


def test_json_has_the_documented_fields(graph: dict[str, Any]) -> None:
    assert set(graph) == {"nodes", "edges", "metadata"}
    ids = {n["id"] for n in graph["nodes"]}
    assert len(ids) == len(graph["nodes"])
    for node in graph["nodes"]:
        for key, kind in NODE_FIELDS.items():
            assert isinstance(node[key], kind), (node["id"], key)
        assert node["type"] in NODE_TYPES and node["category"] in CATEGORIES
        assert all(isinstance(x, str) for x in node["imports"] + node["exports"])
        assert "complexity" not in node or isinstance(node["complexity"], int)
    for edge in graph["edges"]:
        assert set(edge) == {"from", "to", "type", "weight"}
        assert edge["type"] in EDGE_TYPES and edge["from"] in ids and edge["to"] in ids
        assert isinstance(edge["weight"], float) and edge["weight"] > 0
    meta = graph["metadata"]
    assert set(meta) == {"totalFiles", "totalLines", "languages", "frameworks"}
    assert meta["totalFiles"] == sum(1 for n in graph["nodes"] if n["type"] == "file")
    json.dumps(graph)  # serialisable as is


def test_import_edges_are_resolved_inside_the_project(graph: dict[str, Any]) -> None:
    imports = _edges(graph, "import")
    assert {
        ("shop/core/db.py", "shop/core/models.py"),  # absolute python import
        ("shop/api/routes.py", "shop/core/db.py"),  # from ..core import db -> the submodule
        ("shop/api/routes.py", "shop/core/models.py"),
        ("tests/test_routes.py", "shop/api/routes.py"),
        ("web/src/App.tsx", "web/src/lib/api.ts"),  # ./lib/api.js means the .ts source
        ("web/src/main.ts", "web/src/App.tsx"),
        ("web/src/main.ts", "web/src/lib/index.ts"),  # directory import -> index.ts
        ("web/src/lib/index.ts", "web/src/lib/api.ts"),  # re-export
        ("svc/cmd/main.go", "svc/store/store.go"),  # go package import -> its files
        ("svc/cmd/main.go", "svc/store/util.go"),
    } <= imports
    assert not any(target.endswith("react") for _, target in imports)  # external packages stay out
    routes = next(n for n in graph["nodes"] if n["id"] == "shop/api/routes.py")
    assert routes["imports"] == ["..core", "shop.core.models"]  # as written


def test_calls_and_inheritance_edges(graph: dict[str, Any]) -> None:
    calls = _edges(graph, "calls")
    assert ("shop/api/routes.py::create", "shop/core/db.py::save_order") in calls
    assert ("shop/api/routes.py::create", "shop/core/models.py::Order") in calls
    assert ("web/src/App.tsx::App", "web/src/lib/api.ts::fetchOrders") in calls
    assert ("svc/store/util.go::helperThing", "svc/store/store.go::NewStore") in calls  # same Go package
    assert ("svc/cmd/main.go::main", "svc/store/store.go::Store.Put") in calls
    extends = _edges(graph, "extends")
    assert ("shop/core/models.py::Order", "shop/core/models.py::Base") in extends
    assert ("shop/api/routes.py::Refund", "shop/core/models.py::Order") in extends


def test_nodes_functions_classes_modules_and_complexity(graph: dict[str, Any]) -> None:
    by_id = {n["id"]: n for n in graph["nodes"]}
    order = by_id["shop/core/models.py::Order"]
    assert (order["type"], order["exports"], order["line"]) == ("class", ["total"], 4)
    assert by_id["shop/core/models.py::Order.total"]["type"] == "function"
    assert by_id["shop/core/models.py::Order.total"]["complexity"] == 1
    assert by_id["shop/core/"]["type"] == "module"
    assert by_id["shop/core/"]["exports"] == ["shop/core/__init__.py", "shop/core/db.py", "shop/core/models.py"]
    assert "shop/" in by_id["shop/api/"]["imports"] or "shop/core/" in by_id["shop/api/"]["imports"]
    assert by_id["shop/core/models.py"]["exports"] == ["Base", "Order"]


def test_categories_by_rule_and_override(tmp_path: Path) -> None:
    root = make_project(tmp_path / "shop")
    graph = _build(root)
    category = {n["id"]: n["category"] for n in graph["nodes"] if n["type"] == "file"}
    assert category["tests/test_routes.py"] == "test"
    assert category["web/src/App.test.ts"] == "test"
    assert category["scripts/seed.py"] == "infra"
    assert category["Dockerfile"] == "infra"
    assert category["pyproject.toml"] == "config"
    assert category["shop/core/models.py"] == "core"
    assert category["shop/api/routes.py"] == "feature"
    overridden = _build(root, categories={"shop/api/**": "core", "web/*": "infra"})
    category = {n["id"]: n["category"] for n in overridden["nodes"] if n["type"] == "file"}
    assert category["shop/api/routes.py"] == "core"
    assert category["web/src/App.tsx"] == "infra"
    with pytest.raises(UsageError) as bad:
        _build(root, categories={"x/*": "important"})
    assert bad.value.fix


def test_metadata_languages_frameworks_and_bad_input(graph: dict[str, Any]) -> None:
    meta = graph["metadata"]
    assert meta["frameworks"] == ["express", "fastapi", "gin", "react", "sqlalchemy"]
    assert meta["languages"]["python"] == 9 and meta["languages"]["go"] == 3 and meta["languages"]["tsx"] == 1
    ids = {n["id"] for n in graph["nodes"]}
    assert "notes.weird" in ids and "README.md" in ids  # unknown languages are file nodes
    assert "logo.png" not in ids  # binary files are not
    assert "shop/api/broken.py::fine" in ids  # a syntax error elsewhere in the file does not lose it


def test_no_tests_and_max_depth(tmp_path: Path) -> None:
    root = make_project(tmp_path / "shop")
    files = {n["id"] for n in _build(root, include_tests=False)["nodes"] if n["type"] == "file"}
    assert "tests/test_routes.py" not in files and "web/src/App.test.ts" not in files
    shallow = {n["id"] for n in _build(root, max_depth=1)["nodes"] if n["type"] == "file"}
    assert "shop/__init__.py" in shallow and "shop/core/db.py" not in shallow and "Dockerfile" in shallow


def test_git_repository_honours_gitignore(tmp_path: Path) -> None:
    root = make_project(tmp_path / "shop")
    (root / ".gitignore").write_text("generated/\n")
    make_project(root, {"generated/big.py": "def gen():\n    pass\n", "node_modules/x/index.js": "x()\n"})
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    files = {n["id"] for n in _build(root)["nodes"] if n["type"] == "file"}
    assert "shop/core/db.py" in files
    assert not any(f.startswith(("generated/", "node_modules/")) for f in files)
    # A sub-directory of the repository maps on its own, with paths relative to it.
    sub = {n["id"] for n in _build(root / "shop")["nodes"] if n["type"] == "file"}
    assert "core/db.py" in sub and "pyproject.toml" not in sub


def test_bad_paths_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        build_repo_map(tmp_path / "missing")
    (tmp_path / "f.py").write_text("x = 1\n")
    with pytest.raises(UsageError):
        build_repo_map(tmp_path / "f.py")
    empty = build_repo_map(tmp_path)
    assert empty.to_dict()["metadata"]["totalFiles"] == 1
