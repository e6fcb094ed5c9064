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
    row = conn.execute("SELECT generation, embedder FROM search_roots WHERE id = ?", (root_id,)).fetchone()  # type: ignore[attr-defined]
    return vectors.root_vectors(conn, root_id, 384, row[0], row[1])  # type: ignore[arg-type]


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
    (repo / "tests/test_retry.py").write_text(
        "def test_backoff_caps_at_a_minute():\n    assert backoff_delay(99) == 60\n"
    )
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


def sql_scan(conn: object, root_id: int) -> dict[int, bytes]:
    rows = conn.execute("SELECT chunk_id, embedding FROM search_vec_384 WHERE root_id = ?", (root_id,))  # type: ignore[attr-defined]
    return {int(c): bytes(b) for c, b in rows}


def test_first_load_reads_vec0_blocks_exactly_and_falls_back_on_another_layout(
    conn: object, repo: Path, embedder: LocalEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_root(conn, repo, embedder=embedder)  # type: ignore[arg-type]
    other = tmp_path / "other"  # a second root shares the vec0 table: its rows must not leak in
    (other / "lib.py").parent.mkdir(parents=True)
    (other / "lib.py").write_text("def unrelated_helper():\n    return 42\n")
    index_root(conn, other, embedder=embedder)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, repo)  # type: ignore[arg-type]
    before = set(sql_scan(conn, root_id))
    (repo / "src/users.py").unlink()  # holes in a block: deleted rows stay in place, marked invalid
    (repo / "src/cache.py").write_text("class LruCache:\n    def clear(self):\n        self.items = {}\n")
    index_root(conn, repo, embedder=embedder)  # type: ignore[arg-type]
    expected = sql_scan(conn, root_id)
    assert before - set(expected) and set(expected) - before  # rows gone, rows added

    blocks = vectors._blocks(conn, root_id, 384)  # type: ignore[arg-type]
    assert blocks is not None
    ids, rows = blocks
    assert {int(c): row.tobytes() for c, row in zip(ids, rows, strict=True)} == expected

    monkeypatch.setattr(vectors, "_BLOCK_COLUMNS", ["chunk_id", "size", "validity", "rowids"])  # a newer layout
    assert vectors._blocks(conn, root_id, 384) is None  # type: ignore[arg-type]
    ids, rows = vectors._scan(conn, root_id, 384)  # type: ignore[arg-type]
    assert {int(c): row.tobytes() for c, row in zip(ids, rows, strict=True)} == expected
    assert {int(c) for c in current(conn, root_id).ids} == set(expected)


class Negated:
    """Another model (another index name) with the same dimension: its vectors must replace, not mix
    with, the first model's rows held in memory."""

    dim = 384

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner, self.name = inner, "negated"

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return -np.asarray(self.inner.embed_documents(texts))

    def embed_query(self, text: str) -> np.ndarray:
        return -np.asarray(self.inner.embed_query(text))


def test_a_new_embedder_reloads_every_row(conn: object, repo: Path, embedder: LocalEmbedder) -> None:
    index_root(conn, repo, embedder=embedder)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, repo)  # type: ignore[arg-type]
    first = current(conn, root_id)
    index_root(conn, repo, embedder=Negated(embedder))  # type: ignore[arg-type]
    again = current(conn, root_id)
    stored = sql_scan(conn, root_id)
    assert again.embedder != first.embedder and set(stored) == {int(c) for c in again.ids} == set(first.row_of)
    for chunk_id, blob in stored.items():
        row = again.dense()[again.row_of[chunk_id]]
        assert np.allclose(row, np.frombuffer(blob, dtype=np.float32), atol=1e-6)
        assert np.allclose(row, -first.dense()[first.row_of[chunk_id]], atol=1e-6)


def test_refresh_applies_an_index_run_to_held_vectors_only(
    conn: object, repo: Path, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "EXACT_LIMIT", 2)  # the int16 path carries rows over as they are
    index_root(conn, repo, embedder=embedder)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, repo)  # type: ignore[arg-type]
    assert vectors.refresh(conn, root_id) is False and vectors.held(conn, root_id) is None  # type: ignore[arg-type]
    first = current(conn, root_id)
    (repo / "src/extra.py").write_text("def parse_retry_after(header):\n    return int(header)\n")
    (repo / "src/users.py").unlink()
    index_root(conn, repo, embedder=embedder)  # type: ignore[arg-type]
    assert vectors.refresh(conn, root_id) is True  # type: ignore[arg-type]
    kept = vectors.held(conn, root_id)  # type: ignore[arg-type]
    assert kept is not None and kept is not first and current(conn, root_id) is kept  # no second load
    stored = sql_scan(conn, root_id)
    assert {int(c) for c in kept.ids} == set(stored) and set(stored) - {int(c) for c in first.ids}
    assert kept.bits is not None and kept.bits.shape == (6, len(kept)) and kept.matrix.dtype == np.int16
    vectors.forget()
    fresh = current(conn, root_id)  # what a first load of the same rows gives
    order = np.argsort(kept.ids)
    assert np.array_equal(fresh.ids, kept.ids[order]) and np.array_equal(fresh.matrix, kept.matrix[order])
    assert np.array_equal(fresh.bits, kept.bits[:, order]) and np.array_equal(fresh.scale, kept.scale[order])
    assert [fresh.paths[i] for i in fresh.path_idx] == [kept.paths[i] for i in kept.path_idx[order]]
