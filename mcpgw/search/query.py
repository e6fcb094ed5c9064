"""Answer a search: keyword (FTS5 BM25 over identifier-split terms), semantic (cosine over the root's
vectors held in memory, :mod:`mcpgw.search.vectors`) or hybrid.

Hybrid collects both candidate lists (its keyword list also looks up the abbreviations of the words the query
spells out in full, :func:`mcpgw.search.terms.abbreviations_for`), scores every candidate by both signals, and
ranks them with a small linear model over seventeen features of each candidate (:func:`features`: cosine and
BM25, each normalised and as a rank; how much of the chunk's name, owner and file name the query spells out
(as stems, and abbreviations as the words they stand for: "string values" spells out ``str_val``); its kind
and size;
whether it is a test, prose or a stub; whether its name is private; how much likelier than usual the
query makes its kind — a noun phrase describes a class, a verb a function or method — as the embedder's
query-kind prior reads it from the query vector, :class:`mcpgw.search.embedder.KindPrior`). The weights were fitted by
``scripts/fit_fusion.py`` (listwise softmax) on docstring and hand-written queries from packages that the
evaluation in ``scripts/bench_search.py`` never sees. The ``score`` is the chance that the chunk is the
answer: a softmax over the candidates and "none of them" (:func:`chances`), which ``--threshold`` compares
against.
Reciprocal-rank fusion and hand-set weights were measured as the alternatives and ranked worse.
With a reranker (``mcpgw search --rerank``, :mod:`mcpgw.search.rerank`), the best ``Fusion.rerank_depth``
hybrid candidates are read again by a cross-encoder and re-scored from its logit and their fused one.
Keyword and semantic modes rank by their own signal, with tests, examples, prose (docs, changelogs) and
``.pyi`` stubs and ``.d.ts`` declarations demoted: they match a query's words well but are rarely the code
being asked for.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from mcpgw.errors import IndexError_, UsageError
from mcpgw.search.embedder import index_name
from mcpgw.search.terms import abbreviations_for, fts_query, query_stems, query_terms, split_identifier, word_forms
from mcpgw.store.migrations.m0003_search import VECTOR_DIMS

if TYPE_CHECKING:
    from collections.abc import Collection

    import sqlean

    from mcpgw.search.embedder import Embedder
    from mcpgw.search.rerank import Reranker

Mode = Literal["hybrid", "semantic", "keyword"]
MODES: tuple[str, ...] = ("hybrid", "semantic", "keyword")

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


FEATURES: tuple[str, ...] = (
    "cosine_scaled",  # cosine between the ``candidates``-th (0) and the best (1) candidate
    "cosine_gap",  # cosine minus the best cosine
    "cosine_rank",  # 1 / (1 + rank in the semantic list)
    "bm25_scaled",  # BM25 relative to the best keyword match
    "bm25_rank",  # 1 / (1 + rank in the keyword list)
    "name_overlap",  # share of the chunk's own name the query spells out
    "owner_overlap",  # the same for the class (or module path) that owns it
    "file_overlap",  # the same for the file name
    "aside",  # a test, example, prose or type stub
    "kind_class",
    "kind_function",
    "kind_method",
    "kind_module",
    "log_lines",
    "private",  # _name
    "dunder",  # __name__
    "kind_prior",  # log P(kind | query) - log P(kind) for a class, function or method (embedder's prior)
)


@dataclass(frozen=True)
class Fusion:
    """How hybrid mode ranks candidates: ``weights`` over :data:`FEATURES` (fitted by scripts/fit_fusion.py
    on packages outside the evaluation) give each candidate a logit ``z = scale * linear``; its score is
    the chance that it is the answer, among all candidates and "none of them" (logit ``no_answer``):
    ``exp(z) / (exp(no_answer) + sum(exp(z) over candidates))``."""

    weights: tuple[float, ...] = (
        3.422,
        2.762,
        0.317,
        2.359,
        0.292,
        0.429,
        -0.282,
        -0.076,  # cosine .. file overlap
        -4.181,
        1.449,
        1.134,
        0.081,
        -1.856,
        0.151,
        -0.671,
        0.088,  # aside .. dunder
        0.798,  # kind prior
    )
    scale: float = 1.053
    no_answer: float = 6.273
    candidates: int = 100  # taken from each list before fusing
    aside_penalty: float = 0.6  # keyword and semantic modes: tests, prose and stubs keep 1 - this of their score
    # with a reranker: the best ``rerank_depth`` candidates' logits become
    # rerank_fused * fused logit + rerank_weight * cross-encoder logit + rerank_bias
    rerank_depth: int = 3
    rerank_fused: float = 0.629
    rerank_weight: float = 0.629
    rerank_bias: float = 2.229


@dataclass
class SearchOptions:
    query: str
    top_k: int = 10
    mode: Mode = "hybrid"
    threshold: float = 0.0
    types: list[str] = field(default_factory=list)
    path_glob: str | None = None
    rerank: bool | None = None  # hybrid mode: re-read the best candidates with the cross-encoder (None: config)


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
    below_threshold: int = 0  # candidates left out for scoring below ``threshold``
    best_below: float | None = None  # the best of their scores


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


def _check_types(conn: sqlean.Connection, root_id: int, types: list[str], languages: list[str]) -> None:
    """A ``--type`` that no indexed file of the root has is a mistake (a typo, a language not indexed), not a
    question without an answer: say so, with the types the index does hold."""
    held = [str(r[0]) for r in conn.execute("SELECT DISTINCT language FROM search_files WHERE root_id = ?", (root_id,))]
    if set(languages) & set(held):
        return
    names = {lang: min((k for k, v in TYPE_ALIASES.items() if lang in v), key=len, default=lang) for lang in held}
    shown = ", ".join(sorted({names[lang] for lang in held})) or "none (the index is empty)"
    asked = ", ".join(repr(t) for t in types)
    raise UsageError(f"no indexed file has type {asked}", fix=f"types in this index: {shown}")


@dataclass
class Candidates:
    """What both retrievers found for one query, before fusion (the benchmark re-ranks these offline)."""

    mode: str  # the mode actually used (hybrid falls back to keyword without a usable embedder)
    terms: list[str]
    cosines: dict[int, float]  # chunk id -> cosine similarity
    bm25: dict[int, float]  # chunk id -> BM25 (higher is better)
    details: dict[int, dict[str, Any]]  # chunk id -> path, lines, text, language, kind, symbols
    notice: str | None = None
    kind_prior: dict[str, float] = field(default_factory=dict)  # kind -> log-odds shift (hybrid, with a prior)


def search(
    conn: sqlean.Connection,
    root_id: int,
    opts: SearchOptions,
    embedder: Embedder | None,
    *,
    notice: str | None = None,
    fusion: Fusion | None = None,
    reranker: Reranker | None = None,
) -> SearchResult:
    """Run one query against the indexed root ``root_id``; in hybrid mode with a ``reranker``, its best
    ``fusion.rerank_depth`` candidates are read again by the cross-encoder (:func:`rerank`)."""
    fusion = fusion or Fusion()
    found = collect(conn, root_id, opts, embedder, notice=notice, fusion=fusion)
    texts: dict[int, str] = {}
    if found.mode == "hybrid":
        logits = fused_logits(found, fusion)
        if reranker is not None and logits:
            texts = rerank(conn, found, logits, opts.query, reranker, fusion)
        scores = chances(logits, fusion)
    else:
        scores = _scores(found, fusion)
    ranked = _hits(found, scores, opts)
    missing = [chunk_id for chunk_id, _ in ranked if chunk_id not in texts]
    texts.update(_texts(conn, missing))
    for chunk_id, hit in ranked:
        hit.text = texts.get(chunk_id, "")
    below = [score for score in scores.values() if score < opts.threshold]
    best_below = round(max(below), 4) if below else None
    return SearchResult([hit for _, hit in ranked], found.mode, found.notice, len(below), best_below)


def rerank(
    conn: sqlean.Connection,
    found: Candidates,
    scores: dict[int, float],
    query: str,
    reranker: Reranker,
    fusion: Fusion,
) -> dict[int, str]:
    """Re-score the best ``fusion.rerank_depth`` of ``scores`` (fused logits, in place) with the
    cross-encoder's logit mixed in; the others keep theirs, capped below the reranked ones so the order
    stays reranked-first. Returns the texts it read (chunk id -> text)."""
    from mcpgw.search.rerank import rerank_text

    top = sorted(scores, key=lambda c: (-scores[c], found.details[c]["path"], found.details[c]["start_line"]))
    top = top[: fusion.rerank_depth]
    texts = _texts(conn, top)
    details = found.details
    logits = reranker.score(
        query, [rerank_text(details[c]["path"], details[c]["symbols"], texts.get(c, "")) for c in top]
    )
    for chunk_id, logit in zip(top, logits, strict=True):
        mixed = fusion.rerank_fused * scores[chunk_id] + fusion.rerank_weight * logit + fusion.rerank_bias
        scores[chunk_id] = float(mixed)
    low = min(scores[c] for c in top)
    floor = math.nextafter(low, -math.inf) - 1e-9 * max(1.0, abs(low))  # strictly below, also after exp()
    chosen = set(top)
    for chunk_id in scores:
        if chunk_id not in chosen:
            scores[chunk_id] = min(scores[chunk_id], floor)
    return texts


def collect(
    conn: sqlean.Connection,
    root_id: int,
    opts: SearchOptions,
    embedder: Embedder | None,
    *,
    notice: str | None = None,
    fusion: Fusion | None = None,
) -> Candidates:
    """Both candidate lists for ``opts.query``: BM25 top hits and nearest vectors, each scored by both."""
    validate(opts)
    fusion = fusion or Fusion()
    row = conn.execute("SELECT embedder, dim, generation FROM search_roots WHERE id = ?", (root_id,)).fetchone()
    if row is None:
        raise IndexError_("this root is not indexed", fix="run `mcpgw search index PATH`")
    usable = embedder is not None and row["embedder"] == index_name(embedder) and row["dim"] in VECTOR_DIMS
    if embedder is not None and not usable:
        notice = notice or (
            f"the index was built with {row['embedder'] or 'no embedder'}, not {index_name(embedder)}: "
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
    if languages:
        _check_types(conn, root_id, opts.types, languages)
    want = max(fusion.candidates, opts.top_k)
    terms = query_terms(opts.query)
    cosines: dict[int, float] = {}
    bm25: dict[int, float] = {}
    kind_prior: dict[str, float] = {}
    if mode in ("hybrid", "semantic"):
        assert embedder is not None
        from mcpgw.search.vectors import root_vectors

        vectors = root_vectors(conn, root_id, int(row["dim"]), int(row["generation"]), str(row["embedder"]))
        qvec = embedder.embed_query(opts.query)[0]
        cosines = vectors.nearest(qvec, want, vectors.mask(languages, opts.path_glob))
    if mode in ("hybrid", "keyword") and terms:
        # a deeper list gives more semantic candidates their keyword score (all of them when pruned)
        depth = want * 3 if mode == "hybrid" else want
        also = cosines if mode == "hybrid" else None
        # hybrid also looks up the abbreviations of the query's words ("string" -> str). Keyword mode does
        # not: its list is the answer, and they cost it more on docstring questions than they gain on
        # hand-written ones (held-out MRR@10 0.453 -> 0.425 and 0.344 -> 0.381)
        looked_up = terms + abbreviations_for(terms) if mode == "hybrid" else terms
        bm25 = _keyword(conn, root_id, looked_up, languages, opts.path_glob, depth, also=also)
    if mode == "hybrid":
        prior = getattr(embedder, "kind_prior", None)
        kind_prior = prior(qvec) if prior is not None else {}
        top_kw = sorted(bm25, key=lambda c: -bm25[c])[:want]
        cosines.update(vectors.cosines(qvec, [c for c in top_kw if c not in cosines]))
        bm25 = {c: s for c, s in bm25.items() if c in cosines or c in top_kw}
    ids = list(set(cosines) | set(bm25))
    return Candidates(mode, terms, cosines, bm25, _details(conn, ids), notice, kind_prior)


def rank(found: Candidates, opts: SearchOptions, fusion: Fusion) -> list[SearchHit]:
    """Score and order the candidates by ``found.mode`` (fused by ``fusion`` in hybrid mode); the hits'
    ``text`` is left empty (:func:`search` fills it for the hits it returns)."""
    return [hit for _, hit in _ranked(found, opts, fusion)]


def features(found: Candidates, fusion: Fusion) -> dict[int, list[float]]:
    """chunk id -> the values of :data:`FEATURES` for each candidate of ``found``."""
    cosines, bm25 = found.cosines, found.bm25
    by_cosine = sorted(cosines, key=lambda c: -cosines[c])
    top = cosines[by_cosine[0]] if by_cosine else 0.0
    floor = cosines[by_cosine[min(len(by_cosine), fusion.candidates) - 1]] if by_cosine else 0.0
    spread = max(top - floor, 1e-9)
    cos_rank = {c: i for i, c in enumerate(by_cosine)}
    kw_rank = {c: i for i, c in enumerate(sorted(bm25, key=lambda c: -bm25[c]))}
    best_kw = max(bm25.values(), default=0.0)
    qstems = query_stems(found.terms)
    out: dict[int, list[float]] = {}
    for chunk_id, info in found.details.items():
        cos = cosines.get(chunk_id, floor)
        kind, symbols = info["kind"], info["symbols"]
        name = symbols.rsplit(" ", 1)[-1] if symbols else ""
        owner, _, own = name.rpartition(".")
        kw = bm25.get(chunk_id, 0.0) / best_kw if best_kw > 0 else 0.0
        named = _name_overlap(symbols, qstems)
        out[chunk_id] = [
            (cos - floor) / spread,
            cos - top,
            1.0 / (1 + cos_rank.get(chunk_id, 2 * fusion.candidates)),
            kw,
            1.0 / (1 + kw_rank.get(chunk_id, 4 * fusion.candidates)),
            named,
            _overlap(owner.replace(".", "_"), qstems),
            _overlap(_stem_of(info["path"]), qstems),
            1.0 if is_aside(info["path"], kind) else 0.0,
            1.0 if kind == "class" else 0.0,
            1.0 if kind == "function" else 0.0,
            1.0 if kind == "method" else 0.0,
            1.0 if kind == "module" else 0.0,
            math.log(info["end_line"] - info["start_line"] + 1),
            1.0 if own.startswith("_") else 0.0,
            1.0 if own.startswith("__") else 0.0,
            found.kind_prior.get(kind, 0.0),
        ]
    return out


def fused_logits(found: Candidates, fusion: Fusion) -> dict[int, float]:
    """chunk id -> ``fusion.scale`` times the weighted sum of its :data:`FEATURES` (hybrid mode)."""
    fused = features(found, fusion)
    return {
        chunk_id: fusion.scale * sum(w * x for w, x in zip(fusion.weights, row, strict=True))
        for chunk_id, row in fused.items()
    }


def chances(logits: dict[int, float], fusion: Fusion) -> dict[int, float]:
    """Each candidate's chance of being the answer: a softmax over the candidates and "none of them"."""
    if not logits:
        return {}
    top = max(max(logits.values()), fusion.no_answer)
    total = math.exp(fusion.no_answer - top) + sum(math.exp(z - top) for z in logits.values())
    return {chunk_id: math.exp(z - top) / total for chunk_id, z in logits.items()}


def _scores(found: Candidates, fusion: Fusion) -> dict[int, float]:
    """chunk id -> score of every candidate by ``found.mode`` (fused by ``fusion`` in hybrid mode)."""
    if found.mode == "hybrid":
        return chances(fused_logits(found, fusion), fusion)
    mode, cosines, bm25 = found.mode, found.cosines, found.bm25
    best_kw = max(bm25.values(), default=0.0)
    out: dict[int, float] = {}
    for chunk_id, info in found.details.items():
        keep = 1.0 - fusion.aside_penalty if is_aside(info["path"], info["kind"]) else 1.0
        if mode == "semantic":
            out[chunk_id] = cosines.get(chunk_id, 0.0) * keep
        else:
            out[chunk_id] = (bm25.get(chunk_id, 0.0) / best_kw if best_kw > 0 else 0.0) * keep
    return out


def _ranked(found: Candidates, opts: SearchOptions, fusion: Fusion) -> list[tuple[int, SearchHit]]:
    return _hits(found, _scores(found, fusion), opts)


def _hits(found: Candidates, scores: dict[int, float], opts: SearchOptions) -> list[tuple[int, SearchHit]]:
    """The best ``opts.top_k`` candidates at or above ``opts.threshold``, as hits without text."""
    cosines, bm25, details = found.cosines, found.bm25, found.details
    best_kw = max(bm25.values(), default=0.0)
    chosen = [chunk_id for chunk_id in details if scores[chunk_id] >= opts.threshold]
    chosen.sort(key=lambda c: (-scores[c], details[c]["path"], details[c]["start_line"]))
    out: list[tuple[int, SearchHit]] = []
    for chunk_id in chosen[: opts.top_k]:  # hits are built for the returned few, not every candidate
        info = details[chunk_id]
        cos = cosines.get(chunk_id)
        kw = bm25.get(chunk_id, 0.0) / best_kw if best_kw > 0 else 0.0
        hit = SearchHit(
            path=info["path"],
            start_line=info["start_line"],
            end_line=info["end_line"],
            score=round(scores[chunk_id], 4),
            text="",
            language=info["language"],
            kind=info["kind"],
            symbols=info["symbols"].split(),
            semantic=None if cos is None else round(cos, 4),
            keyword=round(kw, 4) if chunk_id in bm25 else None,
        )
        out.append((chunk_id, hit))
    return out


_TEST_PATH = re.compile(
    r"(^|/)(tests?|__tests__|spec|testing)/|(^|/)[\w.-]*(examples?|benchmarks?)/|"
    r"(^|/)test_[^/]*$|_test\.\w+$|\.(test|spec)\.\w+$"
)


@lru_cache(maxsize=65536)
def is_aside(path: str, kind: str) -> bool:
    """Tests, prose and type stubs: relevant, but rarely what a code query is after when the code itself
    matches as well (a ``.pyi`` stub or a ``.d.ts`` declaration file repeats every name of the module it
    describes, without a body)."""
    return kind in ("section", "text") or path.endswith(_STUBS) or bool(_TEST_PATH.search(path))


_STUBS = (".pyi", ".d.ts", ".d.mts", ".d.cts")


@lru_cache(maxsize=65536)
def _name_words(symbols: str) -> tuple[tuple[str, ...], ...]:
    """The words of each name a chunk defines (memoised: hybrid ranks hundreds of chunks a query)."""
    out = []
    for name in symbols.split():
        parts = tuple(split_identifier(name.rsplit(".", 1)[-1]))
        if parts:
            out.append(parts)
    return tuple(out)


@lru_cache(maxsize=65536)
def _stem_of(path: str) -> str:
    """The file name without its last suffix (``PurePosixPath(path).stem``, memoised)."""
    return PurePosixPath(path).stem


@lru_cache(maxsize=65536)
def _overlap(identifier: str, qstems: frozenset[str]) -> float:
    """Share of the words of ``identifier`` that the query spells out (0 for an empty identifier)."""
    parts = split_identifier(identifier)
    return sum(_spelled(p, qstems) for p in parts) / len(parts) if parts else 0.0


def _spelled(word: str, qstems: frozenset[str]) -> bool:
    """Does the query spell out ``word`` of a name: its stem, or all the words it abbreviates
    (:data:`mcpgw.search.terms.ABBREVIATIONS`)?"""
    return any(all(s in qstems for s in form) for form in word_forms(word))


def _name_overlap(symbols: str, qstems: frozenset[str]) -> float:
    """How much of the chunk's defined name the query spells out (0..1): ``format_filename`` scores 1.0
    for "format a filename", 0.5 for "format the help"."""
    best = 0.0
    for parts in _name_words(symbols):
        best = max(best, sum(_spelled(p, qstems) for p in parts) / len(parts))
    return best


def _filters(languages: list[str], path_glob: str | None) -> tuple[str, list[Any]]:
    sql, params = "", []  # type: tuple[str, list[Any]]
    if languages:
        sql += f" AND c.language IN ({','.join('?' * len(languages))})"
        params.extend(languages)
    if path_glob:
        sql += " AND c.path GLOB ?"
        params.append(path_glob)
    return sql, params


# Symbols weigh most, then the path, then the body. Called directly, not as FTS5's ``rank`` column: an
# ``ORDER BY rank`` runs FTS5's own nested sorting query and costs ~40 % more per match for the same scores.
_WEIGHTS = "bm25(search_fts, 4.0, 1.5, 1.0)"
GLOBAL_LIMIT = 5000  # most rows the unjoined first pass of :func:`_keyword` asks FTS5 for


def _keyword(
    conn: sqlean.Connection,
    root_id: int,
    terms: list[str],
    languages: list[str],
    path_glob: str | None,
    limit: int,
    also: Collection[int] | None = None,
) -> dict[int, float]:
    """chunk id -> BM25 score (higher is better) of the best ``limit`` keyword matches in ``root_id``.

    FTS5 scores every match of a query, ~1 µs each, and a few common words match a large share of a big
    index. Given ``also`` (hybrid's semantic candidates, which find what common words alone would), the
    candidates are those plus the chunks that match one of the query's rarest terms (:func:`_rare`), each
    scored by BM25 over all the terms. Without it (keyword mode, whose list is the answer) every match is.

    The FTS index holds every root. Without filters, FTS5 first ranks its own top rows over all roots
    (``ORDER BY bm25 LIMIT``, no join per match) when this root holds at least a quarter of all chunks, asking
    for enough rows that its share usually holds ``limit``. The scores are the same either way, so when it
    does (or FTS5 ran out of matches) the answer is exact; otherwise the joined query runs."""
    match = fts_query(terms)
    counts = conn.execute(
        "SELECT chunk_count, (SELECT SUM(chunk_count) FROM search_roots) FROM search_roots WHERE id = ?", (root_id,)
    ).fetchone()
    own, total = max(int(counts[0] or 0), 1), max(int(counts[1] or 0), 1)
    rare = _rare(conn, terms, total) if also is not None else None
    pruned, pruned_params = "", []  # type: tuple[str, list[Any]]
    if rare is not None:
        pruned = " AND (+search_fts.rowid IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)"
        pruned_params.append(fts_query(rare))
        if also:
            pruned += f" OR +search_fts.rowid IN ({','.join('?' * len(also))})"
            pruned_params.extend(also)
        pruned += ")"
    if not languages and not path_glob and own * 4 >= total:  # a small share would mostly fall back
        want = min(limit * -(-total // own), GLOBAL_LIMIT)
        rows = conn.execute(
            f"SELECT c.id, c.root_id, f.s FROM (SELECT rowid, {_WEIGHTS} AS s FROM search_fts"
            f" WHERE search_fts MATCH ?{pruned} ORDER BY s LIMIT ?) f"
            " JOIN search_chunks c ON c.id = f.rowid ORDER BY f.s",
            (match, *pruned_params, want),
        ).fetchall()
        mine = [r for r in rows if r[1] == root_id][:limit]
        if len(mine) == limit or len(rows) < want:
            return {int(r[0]): -float(r[2]) for r in mine}
    extra, params = _filters(languages, path_glob)
    rows = conn.execute(
        f"SELECT c.id, {_WEIGHTS} AS s FROM search_fts JOIN search_chunks c ON c.id = search_fts.rowid "
        f"WHERE search_fts MATCH ?{pruned} AND c.root_id = ?{extra} ORDER BY s LIMIT ?",
        (match, *pruned_params, root_id, *params, limit),
    ).fetchall()
    return {int(r[0]): -float(r[1]) for r in rows}


PRUNE_SHARE: float | None = 0.05  # see :func:`_rare`; None reads every match


def _rare(conn: sqlean.Connection, terms: list[str], total: int) -> list[str] | None:
    """The query's rarest terms whose matches add up to at most ``PRUNE_SHARE`` of all ``total`` chunks (at
    least the rarest one), or None when that is every term. Counting a term's matches costs ~1/30 of
    scoring them. Measured on bench_search's eval: hybrid MRR@10 unchanged (docstring 0.666 / 0.665,
    hand-written 0.758 / 0.760); keyword mode alone would lose 0.05, so it does not prune."""
    if PRUNE_SHARE is None or len(terms) < 2:
        return None
    count = "SELECT count(*) FROM search_fts WHERE search_fts MATCH ?"
    found = {t: int(conn.execute(count, (fts_query([t]),)).fetchone()[0]) for t in terms}
    ordered = sorted(terms, key=lambda t: found[t])
    chosen, used = [ordered[0]], found[ordered[0]]
    for term in ordered[1:]:
        if used + found[term] > PRUNE_SHARE * total:
            break
        chosen.append(term)
        used += found[term]
    return chosen if len(chosen) < len(terms) else None


def _details(conn: sqlean.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """What ranking needs of each candidate (not its text: only the returned hits need that)."""
    out: dict[int, dict[str, Any]] = {}
    for lo in range(0, len(ids), 900):
        part = ids[lo : lo + 900]
        for r in conn.execute(
            "SELECT id, path, start_line, end_line, language, kind, symbols FROM search_chunks "
            f"WHERE id IN ({','.join('?' * len(part))})",
            part,
        ):
            out[int(r["id"])] = dict(r)
    return out


def _texts(conn: sqlean.Connection, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = conn.execute(f"SELECT id, text FROM search_chunks WHERE id IN ({','.join('?' * len(ids))})", ids)
    return {int(r[0]): str(r[1]) for r in rows}
