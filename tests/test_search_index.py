"""Indexing a real git repository and querying it: skips with reasons, incremental updates, modes,
filters, errors — keyword-only and with the real int8 MiniLM model."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from mcpgw.errors import IndexError_, UsageError
from mcpgw.search import find_indexed_root, index_root, search
from mcpgw.search.chunker import CHUNKER_REVISION
from mcpgw.search.embedder import BUNDLED_MODEL, LocalEmbedder
from mcpgw.search.index import file_digest
from mcpgw.search.query import SearchOptions

MODEL = BUNDLED_MODEL  # the model that ships: tests run the real thing


def model_dir() -> Path:
    if not (MODEL / "model.onnx").is_file() or not (MODEL / "tokenizer.json").is_file():
        pytest.fail(f"embedding model missing in {MODEL}: it ships in the package (git checkout?)")
    return MODEL


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder(model_dir())


FILES = {
    "src/auth/handler.ts": (
        "/** Check the bearer token on a request and reject it when it is missing. */\n"
        "export async function handleAuth(req: Request): Promise<boolean> {\n"
        "  const token = req.headers.get('authorization');\n  return token !== null;\n}\n"
    ),
    "src/db/users.py": (
        "def fetch_user_by_email(conn, email):\n"
        '    """Look a user up by e-mail address."""\n'
        "    return conn.execute('SELECT * FROM users WHERE email = ?', (email,)).fetchone()\n\n\n"
        "class RetryPolicy:\n"
        '    """Exponential backoff between attempts."""\n\n'
        "    def next_delay(self, attempt):\n        return 2 ** attempt\n"
    ),
    "server/main.go": "package main\n\n// StartServer listens on the port.\nfunc StartServer(port int) error {\n\treturn nil\n}\n",
    "schema/users.sql": "CREATE TABLE users (\n  id INTEGER PRIMARY KEY,\n  email TEXT UNIQUE\n);\n",
    "README.md": "# Shop\n\nA small shop.\n\n## Payments\n\nCards are charged through the payment gateway.\n",
    ".gitignore": "build/\n*.log\n",
    "build/out.py": "def ignored(): pass\n",
    "debug.log": "log line\n",
    "node_modules/pkg/index.js": "function vendored() {}\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0binary")
    (root / "data.bin.txt").write_bytes(b"abc\0def")
    (root / "latin1.py").write_bytes("caf\xe9 = 1\n".encode("latin-1"))
    (root / "huge.py").write_text("x = 1\n" * 300_000)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def paths_of(conn: object, root: Path) -> set[str]:
    root_id, _ = find_indexed_root(conn, root)  # type: ignore[arg-type]
    rows = conn.execute("SELECT path FROM search_files WHERE root_id = ?", (root_id,))  # type: ignore[attr-defined]
    return {r[0] for r in rows}


def test_keyword_index_honours_gitignore_and_counts_skips(conn: object, repo: Path) -> None:
    summary = index_root(conn, repo, embedder=None, max_file_bytes=1_000_000)  # type: ignore[arg-type]
    assert paths_of(conn, repo) == {
        "src/auth/handler.ts",
        "src/db/users.py",
        "server/main.go",
        "schema/users.sql",
        "README.md",
        ".gitignore",
    }
    assert summary.skipped == {"binary": 2, "encoding": 1, "too_large": 1, "vendored": 1}
    assert summary.files == 6 and summary.chunks >= 8 and summary.embedded == 0
    root_id, _ = find_indexed_root(conn, repo / "src")  # type: ignore[arg-type]
    hits = search(conn, root_id, SearchOptions("handleAuth", mode="keyword"), None).hits  # type: ignore[arg-type]
    assert hits[0].path == "src/auth/handler.ts" and (hits[0].start_line, hits[0].end_line) == (1, 5)
    camel = search(conn, root_id, SearchOptions("handle auth", mode="keyword"), None).hits  # type: ignore[arg-type]
    assert camel[0].path == "src/auth/handler.ts"
    snake = search(conn, root_id, SearchOptions("user email", mode="keyword", types=["py"]), None).hits  # type: ignore[arg-type]
    assert {h.language for h in snake} == {"python"} and snake[0].symbols == ["fetch_user_by_email"]
    sql = search(conn, root_id, SearchOptions("users table", mode="keyword", path_glob="schema/*"), None).hits  # type: ignore[arg-type]
    assert [h.path for h in sql] == ["schema/users.sql"]
    fallback = search(conn, root_id, SearchOptions("payment gateway"), None)  # type: ignore[arg-type]
    assert fallback.mode == "keyword" and fallback.hits[0].path == "README.md"


def test_incremental_reindex_skips_unchanged_updates_changed_drops_deleted(conn: object, repo: Path) -> None:
    index_root(conn, repo, embedder=None)  # type: ignore[arg-type]
    again = index_root(conn, repo, embedder=None)  # type: ignore[arg-type]
    assert (again.indexed, again.unchanged, again.removed) == (0, 6, 0)
    (repo / "server/main.go").write_text("package main\n\n// StopServer shuts down gracefully.\nfunc StopServer() {}\n")
    (repo / "README.md").unlink()
    third = index_root(conn, repo, embedder=None)  # type: ignore[arg-type]
    assert (third.indexed, third.unchanged, third.removed) == (1, 4, 1)
    root_id, _ = find_indexed_root(conn, repo)  # type: ignore[arg-type]
    assert search(conn, root_id, SearchOptions("listens", mode="keyword"), None).hits == []  # type: ignore[arg-type]
    assert search(conn, root_id, SearchOptions("StopServer", mode="keyword"), None).hits[0].path == "server/main.go"  # type: ignore[arg-type]
    fts_rows = conn.execute("SELECT COUNT(*) FROM search_fts WHERE search_fts MATCH 'payment'").fetchone()[0]  # type: ignore[attr-defined]
    assert fts_rows == 0


def test_a_chunker_revision_rechunks_only_the_files_of_its_language(conn: object, repo: Path) -> None:
    """An index made by a release whose TypeScript chunks were older: the next run re-chunks the .ts file
    (its digest names the chunker revision) and leaves the others alone."""
    index_root(conn, repo, embedder=None)  # type: ignore[arg-type]
    assert CHUNKER_REVISION["typescript"] > 1 and "python" not in CHUNKER_REVISION
    plain = hashlib.blake2b((repo / "src/auth/handler.ts").read_bytes(), digest_size=16).hexdigest()
    conn.execute("UPDATE search_files SET content_hash = ? WHERE path = 'src/auth/handler.ts'", (plain,))  # type: ignore[attr-defined]
    again = index_root(conn, repo, embedder=None)  # type: ignore[arg-type]
    assert (again.indexed, again.unchanged) == (1, 5)
    assert file_digest(b"x", "python") == hashlib.blake2b(b"x", digest_size=16).hexdigest()  # Python indexes stay
    assert index_root(conn, repo, embedder=None).indexed == 0  # type: ignore[arg-type]


def test_semantic_and_hybrid_with_the_real_model(conn: object, repo: Path, embedder: LocalEmbedder) -> None:
    summary = index_root(conn, repo, embedder=embedder)  # type: ignore[arg-type]
    assert summary.embedded == summary.chunks
    root_id, _ = find_indexed_root(conn, repo)  # type: ignore[arg-type]
    semantic = search(conn, root_id, SearchOptions("verify the request's credentials", mode="semantic"), embedder)  # type: ignore[arg-type]
    assert semantic.hits[0].path == "src/auth/handler.ts" and 0 < semantic.hits[0].score <= 1
    hybrid = search(conn, root_id, SearchOptions("wait longer after each failed try"), embedder)  # type: ignore[arg-type]
    assert hybrid.mode == "hybrid" and hybrid.hits[0].symbols[-1] in ("RetryPolicy", "RetryPolicy.next_delay")
    top = search(conn, root_id, SearchOptions("start listening on a port", top_k=1, threshold=0.2), embedder)  # type: ignore[arg-type]
    assert [h.path for h in top.hits] == ["server/main.go"]
    assert search(conn, root_id, SearchOptions("anything", threshold=0.99), embedder).hits == []  # type: ignore[arg-type]
    # a new file is embedded on the next run; unchanged files are not re-embedded
    (repo / "src/cart.py").write_text("def add_to_cart(cart, item):\n    cart.append(item)\n")
    more = index_root(conn, repo, embedder=embedder)  # type: ignore[arg-type]
    assert (more.indexed, more.embedded) == (1, 1)
    # switching from keyword-only to an embedder embeds what is there without re-chunking
    other = repo.parent / "other"
    other.mkdir()
    (other / "a.py").write_text("def ping():\n    return 'pong'\n")
    index_root(conn, other, embedder=None)  # type: ignore[arg-type]
    upgraded = index_root(conn, other, embedder=embedder)  # type: ignore[arg-type]
    assert (upgraded.indexed, upgraded.embedded) == (0, 1)


def test_bad_input_is_a_clear_error(conn: object, repo: Path, tmp_path: Path) -> None:
    with pytest.raises(IndexError_) as missing:
        find_indexed_root(conn, repo)  # type: ignore[arg-type]
    assert "mcpgw search index" in (missing.value.fix or "")
    index_root(conn, repo, embedder=None)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, repo)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        search(conn, root_id, SearchOptions("   "), None)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        search(conn, root_id, SearchOptions("x", mode="fuzzy"), None)  # type: ignore[arg-type]
    with pytest.raises(IndexError_):
        search(conn, root_id, SearchOptions("x", mode="semantic"), None)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        index_root(conn, tmp_path / "nope", embedder=None)  # type: ignore[arg-type]
    plain = tmp_path / "not-git"
    plain.mkdir()
    (plain / "ok.py").write_text("def fine(): pass\n")
    (plain / ".gitignore").write_text("secret.py\n")
    (plain / "secret.py").write_text("def hidden(): pass\n")
    assert index_root(conn, plain, embedder=None).files == 2  # type: ignore[arg-type]


def test_a_chunks_vector_barely_depends_on_the_batch_it_was_embedded_in(embedder: LocalEmbedder) -> None:
    """Texts of different lengths are sorted and padded per batch and the attention mask keeps the padding
    out; what is left is the int8 model's dynamic quantisation, which scales activations per batch. So the
    batch size (a speed and memory setting) moves a vector by about 1 % in cosine, never more."""
    texts = [f"def handler_{i}(request):\n" + "    value = compute(request)\n" * (i % 7 + 1) for i in range(21)]
    one_by_one = LocalEmbedder(embedder.model_dir, batch_size=1).embed_documents(texts)
    for batched in (embedder, LocalEmbedder(embedder.model_dir, batch_size=32)):
        cosines = (batched.embed_documents(texts) * one_by_one).sum(axis=1)
        assert cosines.min() > 0.98
