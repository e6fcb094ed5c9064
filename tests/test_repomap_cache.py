"""The per-file tag cache (migration 0004): warm builds read it, changes and deletions update it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mcpgw.repomap import build as build_module
from mcpgw.repomap import build_repo_map
from mcpgw.store import connect_sync, migrate
from tests.test_repomap_graph import make_project


@pytest.fixture
def conn(tmp_path: Path) -> Any:
    connection = connect_sync(tmp_path / "db" / "mcpgw.db")
    migrate(connection)
    yield connection
    connection.close()


def _rows(conn: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (path,) in conn.execute("SELECT path FROM repomap_tags"):
        counts[path] = counts.get(path, 0) + 1
    return counts


def test_warm_build_parses_nothing_and_gives_the_same_graph(tmp_path: Path, conn: Any) -> None:
    root = make_project(tmp_path / "shop")
    cold = build_repo_map(root, conn)
    assert cold.stats.parsed == cold.stats.files + 1  # + the binary file, cached as such
    assert cold.stats.cached == 0
    warm = build_repo_map(root, conn)
    assert (warm.stats.parsed, warm.stats.cached) == (0, cold.stats.files + 1)
    assert warm.to_dict() == cold.to_dict()
    assert all(path.startswith(str(root.resolve()) + "/") for path in _rows(conn))


def test_changed_touched_and_deleted_files(tmp_path: Path, conn: Any) -> None:
    root = make_project(tmp_path / "shop")
    build_repo_map(root, conn)
    db_py = root / "shop/core/db.py"
    db_py.write_text(db_py.read_text() + "\ndef purge() -> None:\n    pass\n")
    models = root / "shop/core/models.py"
    stat = models.stat()
    os.utime(models, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # same content, new mtime
    (root / "README.md").unlink()
    again = build_repo_map(root, conn)
    assert again.stats.parsed == 1  # only the changed content; the touched file is re-hashed, not re-parsed
    assert "shop/core/db.py::purge" in {n["id"] for n in again.to_dict()["nodes"]}
    rows = _rows(conn)
    assert not any(p.endswith("README.md") for p in rows)
    assert rows[str((root / "shop/core/db.py").resolve())] == 2  # current + previous version kept
    # Back to the previous content (a branch switch): served from the cache.
    db_py.write_text(db_py.read_text().replace("\ndef purge() -> None:\n    pass\n", ""))
    back = build_repo_map(root, conn)
    assert back.stats.parsed == 0
    assert "shop/core/db.py::purge" not in {n["id"] for n in back.to_dict()["nodes"]}


def test_rows_of_an_older_extractor_are_reparsed(tmp_path: Path, conn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path / "shop")
    first = build_repo_map(root, conn)
    monkeypatch.setattr(build_module, "TAGS_VERSION", build_module.TAGS_VERSION + 1)
    again = build_repo_map(root, conn)
    assert again.stats.parsed == first.stats.parsed


def test_two_projects_share_the_table_without_mixing(tmp_path: Path, conn: Any) -> None:
    a = make_project(tmp_path / "a")
    b = make_project(tmp_path / "ab", {"only.py": "def only() -> None:\n    pass\n"})
    build_repo_map(a, conn)
    built_b = build_repo_map(b, conn)
    assert [n["id"] for n in built_b.to_dict()["nodes"] if n["type"] == "file"] == ["only.py"]
    assert build_repo_map(a, conn).stats.parsed == 0  # building b pruned nothing of a


def test_progress_is_reported_while_parsing(tmp_path: Path, conn: Any) -> None:
    root = make_project(tmp_path / "shop")
    seen: list[tuple[int, int]] = []
    build_repo_map(root, conn, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] == len(seen)
    seen.clear()
    build_repo_map(root, conn, progress=lambda done, total: seen.append((done, total)))
    assert seen == []  # warm: nothing to parse, no bar
