"""Build and update the search index of a root: walk → chunk → keyword terms → embeddings, incrementally.

Synchronous on purpose: the daemon runs it in a worker thread with its own connection (WAL lets readers
carry on), and the benchmark calls it directly. A file whose content hash is unchanged is not re-chunked
or re-embedded; files that disappeared (or are now skipped) are dropped; a change of embedder rebuilds
the vectors and nothing else. Work is committed in small transactions so readers and the daemon's writer
never wait long, and an interrupted run keeps what it finished.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mcpgw.errors import IndexError_, UsageError
from mcpgw.ids import new_id
from mcpgw.search.chunker import CHUNKER_REVISION, SIG_END, Chunk, chunk_file, file_language, signature
from mcpgw.search.embedder import index_name
from mcpgw.search.terms import expand, path_terms, split_identifier
from mcpgw.search.walk import Skipped, WalkedFile, list_candidates, walk
from mcpgw.store.migrations.m0003_search import VECTOR_DIMS

if TYPE_CHECKING:
    import sqlean

    from mcpgw.search.embedder import Embedder

ProgressFn = Callable[[int, int, str], None]  # (files done, files total, current path)

EMBED_BATCH = 256  # chunks embedded and committed together
COMMIT_FILES = 200  # files per transaction when nothing needs embedding
HEADER_WEIGHT = 0.4  # share of a definition's vector taken from its header (see :func:`header_text`)


@dataclass
class IndexSummary:
    """What an index run did. ``files``/``chunks`` are totals in the index afterwards."""

    root: str
    files: int = 0
    chunks: int = 0
    indexed: int = 0  # files (re)chunked in this run
    unchanged: int = 0
    removed: int = 0
    embedded: int = 0  # chunks embedded in this run
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    embedder: str | None = None
    notice: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_NAMELESS = frozenset({"module", "text", "section", "statement"})


_CODE_NOISE = re.compile(r"[^\w\s.,:;!?'\"()-]+")
_IDENT_RUN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def as_words(code: str) -> str:
    """Code read as words for a sentence model: identifiers split (``get_help_record`` -> "get help
    record"), operator and bracket noise dropped, whitespace collapsed."""
    text = _IDENT_RUN.sub(lambda m: " ".join(split_identifier(m.group(0))) or m.group(0), code)
    return " ".join(_CODE_NOISE.sub(" ", text).split())


def embed_text(path: str, chunk: Chunk) -> str:
    """What the embedder sees for a chunk: where it is, what it is, its name as words, then the code.

    The sentence model was trained on prose, so ``Context.format_help`` also appears as "context format
    help"; the header comes first so truncation to the model's token limit only ever cuts code."""
    parts = [path]
    if chunk.context:
        parts.append(chunk.context)
    if chunk.symbols and chunk.kind not in _NAMELESS:
        words = split_identifier(chunk.symbols[-1].replace(".", "_"))
        if words:
            parts.append(" ".join(words))
    return " · ".join(parts) + "\n" + as_words(chunk.text)


_QUOTES = re.compile(r"^[rRbBuUfF]*(\"\"\"|'''|\"|')|(\"\"\"|'''|\"|')$")
_COMMENT = re.compile(r"^(/\*\*?|\*/|\*|///?|//!|#)\s*|\s*\*/$")  # comment markers around a line
_WORDY = re.compile(r"[A-Za-z]{2}")
_QUOTES_ONLY = re.compile(r"^[rRbBuUfF]*(\"\"\"|'''|\"|')*\s*$")


def _is_comment(line: str) -> bool:
    """A comment line (not a Rust ``#[attribute]`` or a decorator)."""
    return bool(_COMMENT.match(line)) and not line.startswith("#[")


def _statement(line: str) -> bool:
    """A line that says something: not blank, a comment, a decorator or an empty string literal."""
    return bool(line) and not line.startswith(("#", "//", "@")) and not _QUOTES_ONLY.match(line)


_LITERAL = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")  # a string literal within one line


def _signature_end(lines: list[str], start: int) -> int:
    """The line that closes the signature opened on line ``start``: the first that ends like one (``:``,
    ``{``, ``)``, ``-> T``) with every parenthesis and square bracket opened since closed again, so that a
    parameter's ``Annotated[...]`` or ``Query(...)`` is not taken for the end (a typer command's docstring
    would be lost behind its options). ``start`` when no line within 100 does."""
    depth = 0
    for i in range(start, min(start + 100, len(lines))):
        code = _LITERAL.sub('""', lines[i])
        depth += code.count("(") + code.count("[") - code.count(")") - code.count("]")
        if depth <= 0 and SIG_END.search(lines[i]):
            return i
    return start


def header_text(path: str, chunk: Chunk) -> str | None:
    """A short text naming what a definition chunk is, embedded next to its body (None for chunks without
    a name, and for the later windows of a split definition).

    A one-sentence query ("Convert a string to a boolean value") matches a definition's name, signature
    and first statement or docstring line far better than its whole body, which dilutes them in a sentence
    model; the stored vector mixes both (``HEADER_WEIGHT``), measured on scripts/bench_search.py's eval."""
    if chunk.kind in _NAMELESS or not chunk.symbols or "(continued)" in chunk.context:
        return None
    name = chunk.symbols[-1]
    owner, _, own = name.rpartition(".")
    lines = chunk.text.splitlines()
    head = signature(lines)
    first = ""
    if head:
        start = next((i for i, line in enumerate(lines) if line.strip() and head.startswith(line.strip())), 0)
        end = _signature_end(lines, start)
        after = next((line.strip() for line in lines[end + 1 : end + 12] if _statement(line.strip())), "")
        # what the definition does: its docstring, else a doc comment above it (Go, Rust, JS/TS), else
        # its first statement
        notes = [_COMMENT.sub("", line.strip()) for line in lines[:start] if _is_comment(line.strip())]
        above = next((note for note in notes if _WORDY.search(note)), "")
        first = _QUOTES.sub("", after) if _QUOTES.match(after) or not above else above
    stem = PurePosixPath(path).stem
    words = [
        " ".join(split_identifier(stem)),
        " ".join(split_identifier(owner.replace(".", "_"))),
        chunk.kind,
        " ".join(split_identifier(own)) or own,
    ]
    text = " · ".join(w for w in words if w)
    for extra in (head, first):
        if extra:
            text += "\n" + as_words(extra)
    return text


def file_digest(data: bytes, language: str) -> str:
    """The content hash kept per indexed file; it also names the chunker revision of the file's language,
    so a chunker change re-chunks exactly the files it affects."""
    revision = CHUNKER_REVISION.get(language, 1)
    person = b"" if revision == 1 else f"chunker{revision}".encode()
    return hashlib.blake2b(data, digest_size=16, person=person).hexdigest()


def ensure_root(conn: sqlean.Connection, root: Path) -> int:
    """The id of ``root`` in ``search_roots``, creating it (and its ``projects`` row) when new."""
    path = str(root)
    row = conn.execute("SELECT id FROM search_roots WHERE root_path = ?", (path,)).fetchone()
    if row:
        return int(row[0])
    project = conn.execute("SELECT id FROM projects WHERE root_path = ?", (path,)).fetchone()
    project_id = project[0] if project else new_id()
    if not project:
        conn.execute("INSERT INTO projects (id, name, root_path) VALUES (?, ?, ?)", (project_id, root.name, path))
    cur = conn.execute("INSERT INTO search_roots (project_id, root_path) VALUES (?, ?)", (project_id, path))
    return int(cur.lastrowid or 0)


def _switch_embedder(conn: sqlean.Connection, root_id: int, embedder: Embedder | None) -> bool:
    """Drop this root's vectors when the embedder (or its document format) changed; remember the new
    one. True when it changed: every file of the root then needs embedding again."""
    row = conn.execute("SELECT embedder, dim FROM search_roots WHERE id = ?", (root_id,)).fetchone()
    if embedder is None or (row["embedder"] == index_name(embedder) and row["dim"] == embedder.dim):
        return False
    if embedder.dim not in VECTOR_DIMS:
        raise IndexError_(
            f"embedder {embedder.name} makes {embedder.dim}-dimensional vectors; supported sizes: {VECTOR_DIMS}",
            fix="choose another embedding model (search.ollama_model / search.openai_model)",
        )
    if row["dim"] in VECTOR_DIMS:
        conn.execute(f"DELETE FROM search_vec_{row['dim']} WHERE root_id = ?", (root_id,))
        conn.execute(f"DELETE FROM search_vbit_{row['dim']} WHERE root_id = ?", (root_id,))
    conn.execute("UPDATE search_files SET embedded = 0 WHERE root_id = ?", (root_id,))
    conn.execute(
        "UPDATE search_roots SET embedder = ?, dim = ?, generation = generation + 1 WHERE id = ?",
        (index_name(embedder), embedder.dim, root_id),
    )
    return True


@dataclass
class _NewFile:
    walked: WalkedFile
    digest: str
    old_id: int | None
    language: str
    chunks: list[Chunk]


class _Writer:
    """Queues chunked files and chunks needing vectors; each flush embeds first (no lock held), then
    writes everything in one short transaction, so other writers never wait on the model."""

    def __init__(self, conn: sqlean.Connection, root_id: int, embedder: Embedder | None, summary: IndexSummary):
        self.conn = conn
        self.root_id = root_id
        self.embedder = embedder
        self.summary = summary
        self.new_files: list[_NewFile] = []
        # (file id, [(chunk id, embedded text, header text or None)])
        self.existing: list[tuple[int, list[tuple[int, str, str | None]]]] = []
        self.queued_chunks = 0

    def replace_file(self, walked: WalkedFile, digest: str, old_id: int | None) -> None:
        language = file_language(walked.rel)
        chunks = chunk_file(walked.rel, walked.data.decode("utf-8"), language)
        self.new_files.append(_NewFile(walked, digest, old_id, language, chunks))
        self._queued(len(chunks))

    def embed_existing(self, file_id: int) -> None:
        """A file whose chunks are current but have no vectors (new embedder, interrupted run)."""
        rows = self.conn.execute(
            "SELECT id, path, kind, symbols, text FROM search_chunks WHERE file_id = ? ORDER BY id", (file_id,)
        ).fetchall()
        items = []
        for row in rows:
            chunk = Chunk(0, 0, row["kind"], row["text"], row["symbols"].split(), _context(row["kind"], row["symbols"]))
            items.append((int(row["id"]), embed_text(row["path"], chunk), header_text(row["path"], chunk)))
        self.existing.append((file_id, items))
        self._queued(len(items))

    def _queued(self, chunks: int) -> None:
        self.queued_chunks += chunks if self.embedder is not None else 0
        if self.queued_chunks >= EMBED_BATCH or len(self.new_files) + len(self.existing) >= COMMIT_FILES:
            self.flush()

    def flush(self) -> None:
        if not self.new_files and not self.existing:
            return
        vectors = None
        if self.embedder is not None:
            docs = [
                (embed_text(f.walked.rel, c), header_text(f.walked.rel, c)) for f in self.new_files for c in f.chunks
            ]
            docs += [(text, head) for _, items in self.existing for _, text, head in items]
            vectors = iter(_embed(self.embedder, docs))
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            vector_rows: list[tuple[int, int, bytes]] = []
            for new in self.new_files:
                ids = self._write_file(new)
                if vectors is not None:
                    vector_rows.extend((chunk_id, self.root_id, next(vectors).tobytes()) for chunk_id in ids)
            for _, items in self.existing:
                if vectors is not None:
                    vector_rows.extend((chunk_id, self.root_id, next(vectors).tobytes()) for chunk_id, _, _ in items)
            if self.embedder is not None:
                dim = self.embedder.dim
                self.conn.executemany(
                    f"INSERT INTO search_vec_{dim} (chunk_id, root_id, embedding) VALUES (?, ?, ?)", vector_rows
                )
                self.conn.execute("UPDATE search_roots SET generation = generation + 1 WHERE id = ?", (self.root_id,))
                done = [file_id for file_id, _ in self.existing]
                if done:
                    marks = ",".join("?" * len(done))
                    self.conn.execute(f"UPDATE search_files SET embedded = 1 WHERE id IN ({marks})", done)
                self.summary.embedded += len(vector_rows)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.summary.indexed += len(self.new_files)
        self.new_files, self.existing, self.queued_chunks = [], [], 0

    def _write_file(self, new: _NewFile) -> list[int]:
        rel = new.walked.rel
        if new.old_id is not None:
            self.conn.execute("DELETE FROM search_files WHERE id = ?", (new.old_id,))
        cur = self.conn.execute(
            "INSERT INTO search_files (root_id, path, language, content_hash, size, chunks, embedded) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self.root_id,
                rel,
                new.language,
                new.digest,
                len(new.walked.data),
                len(new.chunks),
                int(self.embedder is not None),
            ),
        )
        file_id = int(cur.lastrowid or 0)
        ptext = path_terms(rel)
        ids: list[int] = []
        for chunk in new.chunks:
            symbols = " ".join(chunk.symbols)
            cur = self.conn.execute(
                "INSERT INTO search_chunks (root_id, file_id, path, language, kind, symbols, start_line, end_line,"
                " text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.root_id,
                    file_id,
                    rel,
                    new.language,
                    chunk.kind,
                    symbols,
                    chunk.start_line,
                    chunk.end_line,
                    chunk.text,
                ),
            )
            chunk_id = int(cur.lastrowid or 0)
            self.conn.execute(
                "INSERT INTO search_fts (rowid, symbols, path, body) VALUES (?, ?, ?, ?)",
                (chunk_id, expand(symbols.replace(".", " ")), ptext, expand(chunk.text)),
            )
            ids.append(chunk_id)
        return ids


def _embed(embedder: Embedder, docs: list[tuple[str, str | None]]) -> Any:
    """One unit vector per (text, header) pair: the text's own vector, or for definitions the normalised
    mix ``(1 - HEADER_WEIGHT) * text + HEADER_WEIGHT * header``, so a query's cosine with it is (up to the
    norm) the weighted mix of both cosines with no second vector to store or search."""
    import numpy as np

    heads = [(i, head) for i, (_, head) in enumerate(docs) if head]
    out = np.asarray(embedder.embed_documents([text for text, _ in docs] + [head for _, head in heads]), np.float32)
    vectors, extra = out[: len(docs)].copy(), out[len(docs) :]
    if heads:
        rows = np.asarray([i for i, _ in heads], dtype=np.int64)
        mixed = (1.0 - HEADER_WEIGHT) * vectors[rows] + HEADER_WEIGHT * extra
        vectors[rows] = mixed / np.maximum(np.linalg.norm(mixed, axis=1, keepdims=True), 1e-12)
    return vectors


def _context(kind: str, symbols: str) -> str:
    names = symbols.split()
    return f"{kind} {names[-1]}" if names and kind not in ("module", "text") else ""


def index_root(
    conn: sqlean.Connection,
    root: Path,
    *,
    embedder: Embedder | None,
    max_file_bytes: int = 1_000_000,
    only: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    notice: str | None = None,
) -> IndexSummary:
    """Index (or bring up to date) every file of ``root``; with ``only``, just those relative paths."""
    started = time.perf_counter()
    root = root.expanduser().resolve()
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", fix="pass the directory of a project to index")
    summary = IndexSummary(root=str(root), embedder=index_name(embedder) if embedder else None, notice=notice)
    conn.execute("BEGIN IMMEDIATE")
    try:
        root_id = ensure_root(conn, root)
        if _switch_embedder(conn, root_id, embedder) and only is not None:
            only = None  # a watcher's update after a model change re-embeds the whole root, not one file
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    known = {
        row["path"]: (int(row["id"]), row["content_hash"], bool(row["embedded"]))
        for row in conn.execute(
            "SELECT id, path, content_hash, embedded FROM search_files WHERE root_id = ?", (root_id,)
        )
    }
    skipped = Skipped()
    candidates = list(only) if only is not None else list_candidates(root)
    seen: set[str] = set()
    writer = _Writer(conn, root_id, embedder, summary)
    try:
        files = walk(root, max_file_bytes=max_file_bytes, skipped=skipped, only=candidates)
        for walked in files:
            seen.add(walked.rel)
            digest = file_digest(walked.data, file_language(walked.rel))
            old = known.get(walked.rel)
            if old is not None and old[1] == digest:
                if embedder is not None and not old[2]:
                    writer.embed_existing(old[0])
                else:
                    summary.unchanged += 1
            else:
                writer.replace_file(walked, digest, old[0] if old else None)
            if progress is not None:
                progress(len(seen) + sum(skipped.counts.values()), len(candidates), walked.rel)
        writer.flush()
        scope = set(only) if only is not None else set(known)
        gone = [known[rel][0] for rel in scope - seen if rel in known]
        if gone:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("DELETE FROM search_files WHERE id = ?", [(file_id,) for file_id in gone])
            conn.execute("COMMIT")
            summary.removed += len(gone)
        writer.flush()
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    summary.skipped = skipped.as_dict()
    totals = conn.execute(
        "SELECT (SELECT COUNT(*) FROM search_files WHERE root_id = ?), chunk_count FROM search_roots WHERE id = ?",
        (root_id, root_id),
    ).fetchone()
    summary.files, summary.chunks = int(totals[0]), int(totals[1])
    summary.seconds = round(time.perf_counter() - started, 3)
    if only is None:
        conn.execute(
            "UPDATE search_roots SET last_summary = ?, indexed_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?",
            (json.dumps(summary.as_dict()), root_id),
        )
    return summary


def indexed_roots(conn: sqlean.Connection) -> list[str]:
    """Every root that has been indexed."""
    return [row[0] for row in conn.execute("SELECT root_path FROM search_roots ORDER BY root_path")]


def find_indexed_root(conn: sqlean.Connection, path: Path) -> tuple[int, Path]:
    """The indexed root containing ``path`` (the deepest one), or a clear error saying how to index it."""
    target = path.expanduser().resolve()
    best: tuple[int, Path] | None = None
    for row in conn.execute("SELECT id, root_path FROM search_roots"):
        candidate = Path(row["root_path"])
        if (target == candidate or candidate in target.parents) and (
            best is None or len(candidate.parts) > len(best[1].parts)
        ):
            best = (int(row["id"]), candidate)
    if best is None:
        from mcpgw.search.walk import find_root

        raise IndexError_(
            f"{target} is not indexed",
            fix=f"run `mcpgw search index {find_root(target) if target.exists() else target}`",
        )
    return best


def root_stats(conn: sqlean.Connection, root_id: int) -> dict[str, Any]:
    """Counts for one indexed root: files, chunks, vectors, languages, embedder, last run."""
    row = conn.execute("SELECT * FROM search_roots WHERE id = ?", (root_id,)).fetchone()
    languages = {
        r["language"]: int(r["n"])
        for r in conn.execute(
            "SELECT language, COUNT(*) AS n FROM search_chunks WHERE root_id = ? GROUP BY language ORDER BY n DESC",
            (root_id,),
        )
    }
    files = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(embedded), 0) FROM search_files WHERE root_id = ?", (root_id,)
    ).fetchone()
    vectors = 0
    if row["dim"] in VECTOR_DIMS:  # a vec0 partition count (stats only, never on the query path)
        vectors = conn.execute(
            f"SELECT COUNT(*) FROM search_vec_{row['dim']} WHERE root_id = ?", (root_id,)
        ).fetchone()[0]
    return {
        "root": row["root_path"],
        "files": int(files[0]),
        "files_embedded": int(files[1]),
        "chunks": int(row["chunk_count"]),
        "vectors": int(vectors),
        "languages": languages,
        "embedder": row["embedder"],
        "dim": row["dim"],
        "indexed_at": row["indexed_at"],
        "last_run": json.loads(row["last_summary"] or "{}"),
    }
