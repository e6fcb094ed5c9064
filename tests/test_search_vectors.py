"""The in-memory vectors behind semantic search: they match exact cosine over the stored vectors, follow
re-indexing incrementally (generation counter, ids never reused), and the large-root path (float16 +
sign-bit prefilter) still finds the nearest chunk. Uses the real int8 MiniLM model."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mcpgw.search import find_indexed_root, index_root, search, vectors
from mcpgw.search.embedder import BUNDLED_MODEL, LocalEmbedder
from mcpgw.search.query import SearchOptions
from mcpgw.store import connect_sync, migrate

MODEL = BUNDLED_MODEL  # the model that ships: tests run the real thing

FILES = {
    "src/retry.py": "def backoff_delay(attempt):\n    return min(60, 2 ** attempt)\n",
    "src/users.py": "def find_user_by_email(db, email):\n    return db.get(email)\n",
    "src/cache.py": "class LruCache:\n    def evict_oldest(self):\n        self.items.popitem(last=False)\n",
    "tests/test_retry.py": "def test_backoff_delay():\n    assert backoff_delay(3) == 8\n",
}


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    if not (MODEL / "model.onnx").is_file():
        pytest.fail(f"embedding model missing in {MODEL}: it ships in the package (git checkout?)")
    return LocalEmbedder(MODEL)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[object]:
    vectors.forget()
    c = connect_sync(tmp_path / "db.sqlite")
    migrate(c)
    yield c
    c.close()
    vectors.forget()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def exact_nearest(conn: object, root_id: int, qvec: np.ndarray, k: int) -> list[int]:
    rows = conn.execute(  # type: ignore[attr-defined]
        "SELECT chunk_id, embedding FROM search_vec_384 WHERE root_id = ?", (root_id,)
    ).fetchall()
    sims = {int(r[0]): float(np.frombuffer(r[1], dtype=np.float32) @ qvec) for r in rows}
    return sorted(sims, key=lambda c: -sims[c])[:k]


def ordered(found: dict[int, float]) -> list[int]:
    return sorted(found, key=lambda c: -found[c])


def current(conn: object, root_id: int) -> vectors.RootVectors:
    generation = conn.execute("SELECT generation FROM search_roots WHERE id = ?", (root_id,)).fetchone()[0]  # type: ignore[attr-defined]
    return vectors.root_vectors(conn, root_id, 384, generation)  # type: ignore[arg-type]


def test_matches_exact_cosine_and_follows_reindexing(conn: object, repo: Path, embedder: LocalEmbedder) -> None:
    index_root(conn, repo, embedder=embedder)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, repo)  # type: ignore[arg-type]
    qvec = embedder.embed_query("wait longer between attempts")[0]
    first = current(conn, root_id)
    assert ordered(first.nearest(qvec, 3)) == exact_nearest(conn, root_id, qvec, 3)
    assert current(conn, root_id) is first  # nothing changed: no reload
    count = conn.execute("SELECT chunk_count FROM search_roots WHERE id = ?", (root_id,)).fetchone()[0]  # type: ignore[attr-defined]
    assert count == len(first) == conn.execute("SELECT COUNT(*) FROM search_chunks").fetchone()[0]  # type: ignore[attr-defined]
    old_ids = {int(i) for i in first.ids}

    # the last file's chunks are replaced: new ids (never a reused one), old ones gone from memory
    (repo / "tests/test_retry.py").write_text(
        "def test_backoff_caps_at_a_minute():\n    assert backoff_delay(99) == 60\n"
    )
    index_root(conn, repo, embedder=embedder, only=["tests/test_retry.py"])  # type: ignore[arg-type]
    second = current(conn, root_id)
    assert second is not first and len(second) == len(first)
    new_ids = {int(i) for i in second.ids} - old_ids
    assert len(new_ids) == 1 and min(new_ids) > max(old_ids)
    assert ordered(second.nearest(qvec, 3)) == exact_nearest(conn, root_id, qvec, 3)
    hits = search(
        conn, root_id, SearchOptions("caps at a minute", mode="semantic", types=["py"], path_glob="tests/*"), embedder
    )  # type: ignore[arg-type]
    assert [h.path for h in hits.hits] == ["tests/test_retry.py"]


def test_large_root_path_int16_and_bit_prefilter(
    conn: object, repo: Path, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "EXACT_LIMIT", 2)
    monkeypatch.setattr(vectors, "PREFILTER", 2)
    index_root(conn, repo, embedder=embedder)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, repo)  # type: ignore[arg-type]
    loaded = current(conn, root_id)
    assert loaded.matrix.dtype == np.int16 and loaded.bits is not None and loaded.bits.shape == (6, len(loaded))
    chunk_id, blob = conn.execute("SELECT chunk_id, embedding FROM search_vec_384 LIMIT 1").fetchone()  # type: ignore[attr-defined]
    query = np.frombuffer(blob, dtype=np.float32)
    found = loaded.nearest(query, 1)
    assert list(found) == [chunk_id] and found[chunk_id] == pytest.approx(1.0, abs=1e-4)
    exact = {
        int(c): float(np.frombuffer(b, dtype=np.float32) @ query)
        for c, b in conn.execute("SELECT chunk_id, embedding FROM search_vec_384")  # type: ignore[attr-defined]
    }
    assert loaded.cosines(query, list(exact)) == pytest.approx(exact, abs=1e-4)
    row = loaded.dense()[loaded.row_of[chunk_id]]  # what a re-load keeps of an unchanged chunk
    assert row.dtype == np.float32 and np.allclose(row, query, atol=1e-4)

    # a re-index reloads the difference: kept rows come back from int16 intact, filters still apply
    (repo / "tests/test_retry.py").write_text("def test_backoff_caps_at_a_minute():\n    assert backoff_delay(99) == 60\n")
    index_root(conn, repo, embedder=embedder, only=["tests/test_retry.py"])  # type: ignore[arg-type]
    again = current(conn, root_id)
    assert again is not loaded and again.matrix.dtype == np.int16
    qvec = embedder.embed_query("wait longer between attempts")[0]
    assert ordered(again.nearest(qvec, 3)) == exact_nearest(conn, root_id, qvec, 3)
    only_tests = again.nearest(qvec, 3, again.mask(["python"], "tests/*"))
    assert {again.paths[again.path_idx[again.row_of[c]]] for c in only_tests} == {"tests/test_retry.py"}


def test_keyword_mode_ranks_code_above_its_tests(conn: object, repo: Path) -> None:
    index_root(conn, repo, embedder=None)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, repo)  # type: ignore[arg-type]
    hits = search(conn, root_id, SearchOptions("backoff delay", mode="keyword"), None).hits  # type: ignore[arg-type]
    assert [h.path for h in hits] == ["src/retry.py", "tests/test_retry.py"]
