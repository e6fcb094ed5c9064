"""Answer a search: keyword (FTS5 BM25 over identifier-split terms), semantic (sqlite-vec cosine KNN) or
hybrid (both candidate lists, each candidate scored by both, fused by weights tuned on
``scripts/bench_search.py``'s eval).

Semantic search is exact (float KNN) for roots up to ``EXACT_LIMIT`` chunks; above that a sign-bit KNN
picks candidates that are re-scored with the float vectors, keeping a query well under 50 ms at 100k chunks.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mcpgw.errors import IndexError_, UsageError
from mcpgw.search.terms import fts_query, query_terms, split_identifier
from mcpgw.store.migrations.m0003_search import VECTOR_DIMS

if TYPE_CHECKING:
    import sqlean

    from mcpgw.search.embedder import Embedder

Mode = Literal["hybrid", "semantic", "keyword"]
MODES: tuple[str, ...] = ("hybrid", "semantic", "keyword")
EXACT_LIMIT = 30_000  # chunks per root searched exactly; above, bit-vector prefilter + float re-score
KNN_MAX = 4096  # sqlite-vec's largest k

# --type values -> stored language labels
TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "py": ("python",),
    "python": ("python",),
    "ts": ("typescript", "tsx"),
    "typescript": ("typescript", "tsx"),
    "tsx": ("tsx",),
    "js": ("javascript",),
    "javascript": ("javascript",),
    "jsx": ("javascript",),
    "go": ("go",),
    "rs": ("rust",),
    "rust": ("rust",),
    "java": ("java",),
    "sql": ("sql",),
    "md": ("markdown",),
    "markdown": ("markdown",),
    "yml": ("yaml", "yml"),
    "yaml": ("yaml", "yml"),
}


@dataclass(frozen=True)
class Fusion:
    """How hybrid mode combines the two signals (defaults tuned on the eval in scripts/bench_search.py)."""

    semantic_weight: float = 0.7
    keyword_weight: float = 0.3
    symbol_boost: float = 0.05  # a query word that is (part of) the chunk's defined name
    candidates: int = 100  # taken from each list before fusing
    aside_penalty: float = 0.3  # subtracted for tests and prose (docs, changelogs): asked-for code ranks first


@dataclass
class SearchOptions:
    query: str
    top_k: int = 10
    mode: Mode = "hybrid"
    threshold: float = 0.0
    types: list[str] = field(default_factory=list)
    path_glob: str | None = None


@dataclass
class SearchHit:
    path: str
    start_line: int
    end_line: int
    score: float
    text: str
    language: str
    kind: str
    symbols: list[str]
    semantic: float | None = None  # cosine similarity, when vectors were used
    keyword: float | None = None  # BM25 relative to the best keyword match (0..1)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchResult:
    hits: list[SearchHit]
    mode: str  # the mode actually used (hybrid falls back to keyword without an embedder)
    notice: str | None = None


def validate(opts: SearchOptions) -> None:
    """Reject bad options with an error the user can act on."""
    if not opts.query.strip():
        raise UsageError("the search query is empty", fix='mcpgw search "what you are looking for"')
    if opts.mode not in MODES:
        raise UsageError(f"unknown mode {opts.mode!r}", fix="use --mode hybrid, semantic or keyword")
    if not 1 <= opts.top_k <= 1000:
        raise UsageError("--top-k must be between 1 and 1000", fix="for example --top-k 10")
    if not -1.0 <= opts.threshold <= 1.0:
        raise UsageError("--threshold must be between -1 and 1", fix="for example --threshold 0.3")


def _languages(types: list[str]) -> list[str]:
    out: list[str] = []
    for t in types:
        out.extend(TYPE_ALIASES.get(t.lower().lstrip("."), (t.lower().lstrip("."),)))
    return sorted(set(out))


def search(
    conn: sqlean.Connection,
    root_id: int,
    opts: SearchOptions,
    embedder: Embedder | None,
    *,
    notice: str | None = None,
    fusion: Fusion | None = None,
) -> SearchResult:
    """Run one query against the indexed root ``root_id``."""
    validate(opts)
    fusion = fusion or Fusion()
    row = conn.execute("SELECT embedder, dim FROM search_roots WHERE id = ?", (root_id,)).fetchone()
    if row is None:
        raise IndexError_("this root is not indexed", fix="run `mcpgw search index PATH`")
    usable = embedder is not None and row["embedder"] == embedder.name and row["dim"] in VECTOR_DIMS
    if embedder is not None and not usable:
        notice = notice or (
            f"the index was built with {row['embedder'] or 'no embedder'}, not {embedder.name}: "
            "keyword search only until `mcpgw search index` is run again"
        )
    mode: str = opts.mode
    if mode in ("hybrid", "semantic") and not usable:
        if mode == "semantic" and embedder is None:
            raise IndexError_(
                notice or "no embedding model is available", fix="run `mcpgw doctor` to see how to get one"
            )
        mode = "keyword"
    languages = _languages(opts.types)
    want = max(fusion.candidates, opts.top_k)
    terms = query_terms(opts.query)
    cosines: dict[int, float] = {}
    bm25: dict[int, float] = {}
    if mode in ("hybrid", "keyword") and terms:
        bm25 = _keyword(conn, root_id, terms, languages, opts.path_glob, want)
    if mode in ("hybrid", "semantic"):
        assert embedder is not None
        qvec = embedder.embed_query(opts.query)[0]
        cosines = _semantic(conn, root_id, int(row["dim"]), qvec, languages, opts.path_glob, want)
        if mode == "hybrid":
            missing_cos = [c for c in bm25 if c not in cosines]
            cosines.update(_cosines(conn, int(row["dim"]), qvec, missing_cos))
            missing_kw = [c for c in cosines if c not in bm25]
            if terms and missing_kw:
                bm25.update(_keyword(conn, root_id, terms, languages, opts.path_glob, len(missing_kw), missing_kw))
    ids = set(cosines) | set(bm25)
    if not ids:
        return SearchResult([], mode, notice)
    details = _details(conn, list(ids))
    best_kw = max(bm25.values(), default=0.0)
    qwords = {w for t in terms for w in (t, *split_identifier(t))}
    scored: list[SearchHit] = []
    for chunk_id, info in details.items():
        cos = cosines.get(chunk_id)
        kw = bm25.get(chunk_id, 0.0) / best_kw if best_kw > 0 else 0.0
        if mode == "semantic":
            score = cos if cos is not None else 0.0
        elif mode == "keyword":
            score = kw
        else:
            score = fusion.semantic_weight * max(cos or 0.0, 0.0) + fusion.keyword_weight * kw
            if qwords and _names_match(info["symbols"], qwords):
                score += fusion.symbol_boost
            if _aside(info["path"], info["kind"]):
                score -= fusion.aside_penalty
            score = min(max(score, 0.0), 1.0)
        if score < opts.threshold:
            continue
        scored.append(
            SearchHit(
                path=info["path"],
                start_line=info["start_line"],
                end_line=info["end_line"],
                score=round(score, 4),
                text=info["text"],
                language=info["language"],
                kind=info["kind"],
                symbols=info["symbols"].split(),
                semantic=None if cos is None else round(cos, 4),
                keyword=round(kw, 4) if chunk_id in bm25 else None,
            )
        )
    scored.sort(key=lambda h: (-h.score, h.path, h.start_line))
    return SearchResult(scored[: opts.top_k], mode, notice)


_TEST_PATH = re.compile(r"(^|/)(tests?|__tests__|spec|testing)/|(^|/)test_[^/]*$|_test\.\w+$|\.(test|spec)\.\w+$")


def _aside(path: str, kind: str) -> bool:
    """Tests and prose: relevant, but rarely what a code query is after when code matches as well."""
    return kind in ("section", "text") or bool(_TEST_PATH.search(path))


def _names_match(symbols: str, qwords: set[str]) -> bool:
    for name in symbols.split():
        simple = name.rsplit(".", 1)[-1]
        if simple.lower() in qwords:
            return True
        parts = split_identifier(simple)
        if len(parts) > 1 and all(p in qwords for p in parts):
            return True
    return False


def _filters(languages: list[str], path_glob: str | None) -> tuple[str, list[Any]]:
    sql, params = "", []  # type: tuple[str, list[Any]]
    if languages:
        sql += f" AND c.language IN ({','.join('?' * len(languages))})"
        params.extend(languages)
    if path_glob:
        sql += " AND c.path GLOB ?"
        params.append(path_glob)
    return sql, params


def _keyword(
    conn: sqlean.Connection,
    root_id: int,
    terms: list[str],
    languages: list[str],
    path_glob: str | None,
    limit: int,
    only: list[int] | None = None,
) -> dict[int, float]:
    """chunk id -> BM25 score (higher is better); symbols weigh most, then the path, then the body."""
    extra, params = _filters(languages, path_glob)
    if only is not None:
        extra += f" AND c.id IN ({','.join('?' * len(only))})"
        params.extend(only)
    rows = conn.execute(
        "SELECT c.id, bm25(search_fts, 4.0, 1.5, 1.0) AS s FROM search_fts"
        " JOIN search_chunks c ON c.id = search_fts.rowid "
        f"WHERE search_fts MATCH ? AND c.root_id = ?{extra} ORDER BY s LIMIT ?",
        (fts_query(terms), root_id, *params, limit),
    ).fetchall()
    return {int(r[0]): -float(r[1]) for r in rows}


def _semantic(
    conn: sqlean.Connection, root_id: int, dim: int, qvec: Any, languages: list[str], path_glob: str | None, want: int
) -> dict[int, float]:
    """chunk id -> cosine similarity of the nearest chunks, filters applied."""
    filtered = bool(languages or path_glob)
    k = min(KNN_MAX, want * 10 if filtered else want)
    count = conn.execute("SELECT COUNT(*) FROM search_chunks WHERE root_id = ?", (root_id,)).fetchone()[0]
    qbytes = qvec.astype("float32").tobytes()
    if count <= EXACT_LIMIT:
        rows = conn.execute(
            f"SELECT chunk_id, distance FROM search_vec_{dim} WHERE embedding MATCH ? AND k = ? AND root_id = ?",
            (qbytes, k, root_id),
        ).fetchall()
        found = {int(r[0]): 1.0 - float(r[1]) for r in rows}
    else:
        rows = conn.execute(
            f"SELECT chunk_id FROM search_vbit_{dim} WHERE embedding MATCH vec_quantize_binary(vec_f32(?)) "
            "AND k = ? AND root_id = ?",
            (qbytes, min(KNN_MAX, max(k * 4, 400)), root_id),
        ).fetchall()
        found = _cosines(conn, dim, qvec, [int(r[0]) for r in rows])
    if filtered:
        keep = _matching(conn, list(found), languages, path_glob)
        found = {c: s for c, s in found.items() if c in keep}
    best = sorted(found.items(), key=lambda kv: -kv[1])[:want]
    return dict(best)


def _cosines(conn: sqlean.Connection, dim: int, qvec: Any, ids: list[int]) -> dict[int, float]:
    """Exact cosine similarity for the given chunks (vectors are stored normalised)."""
    if not ids:
        return {}
    import numpy as np

    out: dict[int, float] = {}
    for lo in range(0, len(ids), 900):
        part = ids[lo : lo + 900]
        rows = conn.execute(
            f"SELECT chunk_id, embedding FROM search_vec_{dim} WHERE chunk_id IN ({','.join('?' * len(part))})", part
        ).fetchall()
        if not rows:
            continue
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        sims = matrix @ qvec.astype(np.float32)
        out.update({int(r[0]): float(s) for r, s in zip(rows, sims, strict=True) if not math.isnan(float(s))})
    return out


def _matching(conn: sqlean.Connection, ids: list[int], languages: list[str], path_glob: str | None) -> set[int]:
    keep: set[int] = set()
    for lo in range(0, len(ids), 900):
        part = ids[lo : lo + 900]
        for r in conn.execute(
            f"SELECT id, path, language FROM search_chunks WHERE id IN ({','.join('?' * len(part))})", part
        ):
            if languages and r["language"] not in languages:
                continue
            if path_glob and not fnmatch.fnmatchcase(r["path"], path_glob):
                continue
            keep.add(int(r["id"]))
    return keep


def _details(conn: sqlean.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for lo in range(0, len(ids), 900):
        part = ids[lo : lo + 900]
        for r in conn.execute(
            "SELECT id, path, start_line, end_line, text, language, kind, symbols FROM search_chunks "
            f"WHERE id IN ({','.join('?' * len(part))})",
            part,
        ):
            out[int(r["id"])] = dict(r)
    return out
