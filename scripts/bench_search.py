"""Code-search quality and speed, measured on real public code.

Quality: pinned sdists of well-known pure-Python packages (from PyPI; never psf/requests or
axios, which are kept for an independent check) are indexed with their docstrings blanked out (line
numbers kept); each blanked docstring's first sentence is a query whose answer is the definition it
documented. Hand-written queries (answer: a symbol name) complete the set. Reports MRR@10 and
Recall@1/5/10 per mode, and reciprocal-rank fusion of the same candidates for comparison. Every package here
is held out: the bundled model (``scripts/train_code_embedder.py``) and the hybrid ranking
(``scripts/fit_fusion.py``) were fitted on other packages.

Speed: index throughput with and without embeddings, query p50/p95 at 100k chunks (synthetic scale:
real chunks and vectors replicated with noise), and the time to re-index one changed file.

Usage: python scripts/bench_search.py [--packages click==8.5.1 …] [--per-repo 150] [--skip-scale] [--compare-stock]
(--compare-stock needs the stock model: python scripts/prepare_embedding_model.py).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpgw.lang import get_parser
from mcpgw.search.embedder import LocalEmbedder, index_name, resolve_model_dir
from mcpgw.search.index import find_indexed_root, index_root
from mcpgw.search.query import Candidates, Fusion, SearchOptions, collect, is_aside, search
from mcpgw.search.rerank import BUNDLED_RERANKER, Reranker, has_reranker
from mcpgw.store import connect_sync, migrate

CACHE = Path(os.environ.get("MCPGW_BENCH_CACHE", Path.home() / ".cache" / "mcpgw-bench"))
DEFAULT_PACKAGES = ["click==8.5.1", "attrs==26.1.0", "marshmallow==4.4.0", "itsdangerous==2.2.0"]

# Hand-written queries: (query, symbol that answers it). Written from each package's documented API.
HAND: dict[str, list[tuple[str, str]]] = {
    "click": [
        ("print a message to the terminal", "echo"),
        ("ask the user a yes or no question", "confirm"),
        ("prompt the user for a value", "prompt"),
        ("show a progress bar while iterating", "progressbar"),
        ("open an editor to let the user edit text", "edit"),
        ("clear the terminal screen", "clear"),
        ("add ANSI colors and bold to text", "style"),
        ("remove ANSI escape codes from a string", "unstyle"),
        ("wait for the user to press any key", "pause"),
        ("read a single character from the terminal", "getchar"),
        ("parameter type that restricts the value to a fixed set of choices", "Choice"),
        ("integer parameter that must be within a range", "IntRange"),
        ("parameter type for a filesystem path that may have to exist", "Path"),
        ("add a --version option that prints the program version", "version_option"),
        ("option that asks for a password with hidden input", "password_option"),
        ("format help text into wrapped paragraphs", "HelpFormatter"),
        ("file that is opened only when it is first used", "LazyFile"),
        ("launch an application or URL with the default program", "launch"),
        ("page long output through a pager like less", "echo_via_pager"),
        ("group of commands with subcommands", "Group"),
    ],
    "attrs": [
        ("convert an instance to a dictionary", "asdict"),
        ("convert an instance to a tuple", "astuple"),
        ("copy an instance with some attributes changed", "evolve"),
        ("validator that checks the value is an instance of a type", "instance_of"),
        ("make a validator accept None", "optional"),
        ("run all validators on an instance", "validate"),
        ("error raised when assigning to a frozen instance", "FrozenInstanceError"),
        ("tuple of the attributes of a class", "fields"),
        ("check whether a class is an attrs class", "has"),
        ("create a new class dynamically from a list of attribute names", "make_class"),
        ("compose several converters into one", "pipe"),
        ("default value computed by calling a factory", "Factory"),
        ("filter that keeps only the given attributes", "include"),
        ("resolve string type annotations on the attributes", "resolve_types"),
        ("build custom equality and ordering from a function", "cmp_using"),
        ("validator that checks a string matches a regular expression", "matches_re"),
        ("validator for every member of an iterable", "deep_iterable"),
        ("validator that the number is less than a bound", "lt"),
        ("validator that checks the value is one of the given options", "in_"),
        ("validator that the length is at most a maximum", "max_len"),
    ],
    "marshmallow": [
        ("extract one key from each dictionary in a list", "pluck"),
        ("read a possibly nested attribute or key from an object", "get_value"),
        ("set a value in a nested dictionary using a dotted key", "set_value"),
        ("check whether a value is a list or other collection", "is_collection"),
        ("hook that runs before data is deserialized", "pre_load"),
        ("hook that runs after an object is serialized", "post_dump"),
        ("register a method that validates the whole schema", "validates_schema"),
        ("register a validator for one field", "validates"),
        ("exception raised when validation fails", "ValidationError"),
        ("validator for an e-mail address", "Email"),
        ("validator for minimum and maximum length", "Length"),
        ("validator that the value is one of a set of choices", "OneOf"),
        ("validator that a number lies between two bounds", "Range"),
        ("validator that a string matches a regular expression", "Regexp"),
        ("field that contains another schema", "Nested"),
        ("field whose value comes from a schema method", "Method"),
        ("field for dates and times in ISO format", "DateTime"),
        ("register a schema class by name in the registry", "register"),
        ("look up a schema class by its name", "get_class"),
        ("create a schema class from a dictionary of fields", "from_dict"),
    ],
    "itsdangerous": [
        ("encode bytes as URL-safe base64 without padding", "base64_encode"),
        ("decode URL-safe base64 that may lack padding", "base64_decode"),
        ("convert a string to bytes if it is not bytes already", "want_bytes"),
        ("convert an integer to big-endian bytes", "int_to_bytes"),
        ("convert bytes back into an integer", "bytes_to_int"),
        ("signature algorithm using HMAC and a hash function", "HMACAlgorithm"),
        ("algorithm that produces an empty signature", "NoneAlgorithm"),
        ("derive the signing key from the secret key and salt", "derive_key"),
        ("compute the signature for a value", "get_signature"),
        ("check that a signature is valid for a value", "verify_signature"),
        ("remove and verify the signature of a signed value", "unsign"),
        ("load a payload without verifying its signature", "loads_unsafe"),
        ("error raised when a signature is older than the max age", "SignatureExpired"),
        ("error raised when a timestamped signature is invalid", "BadTimeSignature"),
        ("error raised when the payload cannot be loaded", "BadPayload"),
        ("signer that adds a timestamp to the value", "TimestampSigner"),
        ("serializer whose output is safe to put in a URL", "URLSafeSerializer"),
        ("convert a unix timestamp to a datetime", "timestamp_to_datetime"),
        ("create the signer used by a serializer", "make_signer"),
        ("serialize and sign an object into a string", "dumps"),
    ],
}


@dataclass
class Case:
    query: str
    path: str | None  # relative path of the answer (None: resolved from the symbol)
    line: int | None  # a line inside the answer's definition
    symbol: str | None = None


# --- corpus ---------------------------------------------------------------------------------------------


def fetch_package(spec: str) -> Path:
    """Download and unpack the sdist of ``spec`` (``name`` or ``name==version``) once; return its source
    directory. Read from PyPI's JSON API: ``pip download`` would build each package's metadata (and its
    build requirements, Cython included) from source first."""
    name, _, version = spec.partition("==")
    target = CACHE / "src" / (f"{name}-{version}" if version else name)
    if target.is_dir():
        return target
    import json
    import urllib.parse
    import urllib.request

    index = f"https://pypi.org/pypi/{name}/json"
    with urllib.request.urlopen(index, timeout=60) as response:
        meta = json.load(response)
    files = meta["releases"][version] if version else meta["urls"]
    url = urllib.parse.urljoin(index, next(u["url"] for u in files if u["packagetype"] == "sdist"))
    dl = CACHE / "sdists" / name
    dl.mkdir(parents=True, exist_ok=True)
    archive = dl / url.rsplit("/", 1)[-1]
    if not archive.is_file():
        with urllib.request.urlopen(url, timeout=300) as response:
            data = response.read()
        archive.with_suffix(".part").write_bytes(data)
        archive.with_suffix(".part").replace(archive)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        if archive.suffix == ".zip":
            zipfile.ZipFile(archive).extractall(tmp)
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        (inner,) = list(Path(tmp).iterdir())
        target.parent.mkdir(parents=True, exist_ok=True)
        inner.rename(target)
    return target


def _is_library(rel: str) -> bool:
    """Queries come from the package's own code; tests, docs, examples and benchmarks stay in the index as
    distractors but are not answers (a user asking how something works wants the implementation)."""
    parts = rel.split("/")
    skip = {"tests", "test", "testing", "docs", "doc", "examples", "example", "bench", "benchmarks", "scripts"}
    return not any(p in skip for p in parts[:-1]) and not parts[-1].startswith(("test_", "conftest"))


_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)", re.S)


def blank_docstrings(
    src: Path, dst: Path, rng: random.Random, per_repo: int, markers: bool = False, keep: bool = False
) -> list[Case]:
    """Copy ``src`` to ``dst`` with every Python docstring blanked (same line numbers); return one
    query per documented definition (the docstring's first sentence), sampled to ``per_repo``.

    A docstring becomes spaces (a body that held nothing else, ``pass``), so nothing in the indexed code
    says which definitions were documented. ``markers`` leaves an empty ``""`` in its place instead (how this
    benchmark blanked them until 2026-11-25): a model can learn that ``""`` marks the public,
    documented definitions that are the answers, which inflates its score. ``keep`` leaves the copy as it
    is: the same queries against code that still says what it does, as a user's repository would."""
    shutil.copytree(src, dst)
    parser = get_parser("python")
    cases: list[Case] = []
    for path in sorted(dst.rglob("*.py")):
        data = path.read_bytes()
        tree = parser.parse(data)
        edits: list[tuple[int, int, bool]] = []
        stack = [tree.root_node]
        while stack:
            node = stack.pop()
            stack.extend(node.named_children)
            if node.type not in ("function_definition", "class_definition", "module"):
                continue
            body = node.child_by_field_name("body") if node.type != "module" else node
            if body is None or not body.named_children:
                continue
            first = body.named_children[0]
            if first.type != "expression_statement" or not first.named_children:
                continue
            string = first.named_children[0]
            if string.type != "string":
                continue
            raw = data[string.start_byte : string.end_byte].decode("utf-8", "replace")
            alone = all(c.type == "comment" for c in body.named_children[1:])
            edits.append((string.start_byte, string.end_byte, alone))
            if node.type == "module":
                continue
            text = raw.strip("rRbBuU").strip("\"'").strip()
            text = " ".join(text.split())
            match = _FIRST_SENTENCE.match(text)
            sentence = (match.group(1) if match else text)[:300]
            rel = path.relative_to(dst).as_posix()
            if _is_library(rel) and len(sentence.split()) >= 4 and not sentence.startswith((":", "..", ">>>")):
                cases.append(Case(sentence, rel, node.start_point[0] + 1))
        if edits and not keep:
            out = bytearray(data)
            for start, end, alone in sorted(edits, reverse=True):
                blank = bytes(b if b == 0x0A else 0x20 for b in out[start:end])
                if markers:
                    blank = b'""' + blank[2:]
                elif alone:  # a body that was only its docstring still needs a statement
                    line_end = blank.find(b"\n") if b"\n" in blank else len(blank)
                    blank = b"pass" + blank[min(4, line_end) :]
                out[start:end] = blank
            path.write_bytes(bytes(out))
    rng.shuffle(cases)
    seen: set[str] = set()
    unique = [c for c in cases if not (c.query in seen or seen.add(c.query))]  # type: ignore[func-returns-value]
    return unique[:per_repo]


# --- evaluation -------------------------------------------------------------------------------------------


class MemoEmbedder:
    """Caches query vectors so a grid of fusion settings costs one model call per query."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.kind_prior = getattr(inner, "kind_prior", None)
        self.memo: dict[str, Any] = {}

    def embed_documents(self, texts: Any) -> Any:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> Any:
        if text not in self.memo:
            self.memo[text] = self.inner.embed_query(text)
        return self.memo[text]


def resolve_symbol_cases(conn: Any, root_id: int, cases: list[Case]) -> list[Case]:
    """Give hand-written cases every chunk that defines their symbol as acceptable answers."""
    out = []
    for case in cases:
        rows = conn.execute(
            "SELECT path, start_line FROM search_chunks WHERE root_id = ? AND (' ' || symbols || ' ') LIKE ?",
            (root_id, f"% {case.symbol} %"),
        ).fetchall()
        if rows:
            out.append(Case(case.query, None, None, case.symbol))
        else:
            print(f"  (hand query answer {case.symbol!r} not found, dropped)")
    return out


def is_hit(case: Case, hit: Any) -> bool:
    if case.symbol is not None:
        return case.symbol in [s.rsplit(".", 1)[-1] for s in hit.symbols] and "test" not in hit.path
    return hit.path == case.path and hit.start_line <= (case.line or 0) <= hit.end_line


def evaluate(
    conn: Any, root_id: int, cases: list[Case], mode: str, embedder: Any, fusion: Fusion, reranker: Any = None
) -> list[int]:
    """Rank (1-based, 0 = not in the top 10) of the first correct hit for each case."""
    ranks = []
    for case in cases:
        opts = SearchOptions(case.query, top_k=10, mode=mode)  # type: ignore[arg-type]
        result = search(conn, root_id, opts, embedder, fusion=fusion, reranker=reranker)
        ranks.append(next((i for i, h in enumerate(result.hits, 1) if is_hit(case, h)), 0))
    return ranks


def gather(conn: Any, root_id: int, cases: list[Case], embedder: Any) -> list[tuple[Case, Candidates]]:
    """Hybrid candidates of every case, collected once so a grid of fusion settings only re-ranks."""
    return [(c, collect(conn, root_id, SearchOptions(c.query, top_k=10), embedder)) for c in cases]


def rerank_rrf(collected: list[tuple[Case, Candidates]], k: int = 60, aside_keep: float = 0.4) -> list[int]:
    """Ranks under reciprocal-rank fusion of the two candidate lists (the comparison for score fusion);
    tests, prose and stubs keep ``aside_keep`` of their score as in :class:`Fusion`."""
    out = []
    for case, found in collected:
        score: dict[int, float] = {}
        for scores in (found.cosines, found.bm25):
            for position, chunk_id in enumerate(sorted(scores, key=lambda c: -scores[c]), 1):
                score[chunk_id] = score.get(chunk_id, 0.0) + 1.0 / (k + position)
        for chunk_id, info in found.details.items():
            if is_aside(info["path"], info["kind"]):
                score[chunk_id] = score.get(chunk_id, 0.0) * aside_keep
        order = sorted(score, key=lambda c: (-score[c], found.details[c]["path"], found.details[c]["start_line"]))
        hits = [_Hit(found.details[c]) for c in order[:10]]
        out.append(next((i for i, h in enumerate(hits, 1) if is_hit(case, h)), 0))
    return out


class _Hit:
    """The fields of a hit :func:`is_hit` looks at, from a candidate's details."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.path, self.start_line, self.end_line = info["path"], info["start_line"], info["end_line"]
        self.symbols = info["symbols"].split()


def metrics(ranks: list[int]) -> dict[str, float]:
    n = max(len(ranks), 1)
    return {
        "MRR@10": sum(1 / r for r in ranks if r) / n,
        "R@1": sum(1 for r in ranks if r == 1) / n,
        "R@5": sum(1 for r in ranks if 0 < r <= 5) / n,
        "R@10": sum(1 for r in ranks if r) / n,
    }


def show(label: str, m: dict[str, float], n: int) -> None:
    print(f"  {label:<34} n={n:<4} " + "  ".join(f"{k} {v:.3f}" for k, v in m.items()))


# --- speed ------------------------------------------------------------------------------------------------


def scale_test(conn: Any, embedder: Any, reranker: Any, target: int = 100_000) -> None:
    """Replicate the indexed chunks (with noisy vectors) into one root of ``target`` chunks; time queries."""
    import numpy as np

    rows = conn.execute(
        "SELECT c.*, v.embedding FROM search_chunks c JOIN search_vec_384 v ON v.chunk_id = c.id"
    ).fetchall()
    rng = np.random.default_rng(0)
    conn.execute("BEGIN")
    cur = conn.execute(
        "INSERT INTO search_roots (root_path, embedder, dim) VALUES ('/bench/scale', ?, 384)", (index_name(embedder),)
    )
    root_id = cur.lastrowid
    conn.execute(
        "INSERT INTO search_files (root_id, path, language, content_hash, size) VALUES (?, 'x', 'python', '', 0)",
        (root_id,),
    )
    file_id = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
    from mcpgw.search.terms import expand, path_terms

    made = 0
    while made < target:
        for r in rows:
            if made >= target:
                break
            path = f"copy{made // len(rows)}/{r['path']}"
            cid = conn.execute(
                "INSERT INTO search_chunks (root_id, file_id, path, language, kind, symbols, start_line, end_line, text)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    root_id,
                    file_id,
                    path,
                    r["language"],
                    r["kind"],
                    r["symbols"],
                    r["start_line"],
                    r["end_line"],
                    r["text"],
                ),
            ).lastrowid
            conn.execute(
                "INSERT INTO search_fts (rowid, symbols, path, body) VALUES (?, ?, ?, ?)",
                (cid, expand(r["symbols"]), path_terms(path), expand(r["text"])),
            )
            vec = np.frombuffer(r["embedding"], dtype=np.float32) + rng.normal(0, 0.02, 384).astype(np.float32)
            vec /= np.linalg.norm(vec)
            blob = vec.astype(np.float32).tobytes()
            conn.execute(
                "INSERT INTO search_vec_384 (chunk_id, root_id, embedding) VALUES (?, ?, ?)", (cid, root_id, blob)
            )
            made += 1
    conn.execute("COMMIT")
    queries = [
        "parse command line options",
        "convert instance to dict",
        "validate the schema field",
        "sign a token",
        "print colored text",
        "load nested data",
        "raise an error when value is missing",
        "format help output",
        "timestamp signer expiry",
        "iterate with a progress bar",
    ]
    from mcpgw.search import vectors

    model = getattr(embedder, "inner", embedder)  # time the query embedding too (no memo)
    vectors.forget()
    generation = conn.execute("SELECT generation FROM search_roots WHERE id = ?", (root_id,)).fetchone()[0]
    start = time.perf_counter()
    loaded = vectors.root_vectors(conn, root_id, 384, generation, index_name(embedder))
    print(
        f"  first semantic use loads {len(loaded)} vectors into memory: {(time.perf_counter() - start) * 1000:.0f} ms"
    )
    for mode, search_mode, with_reranker in MODES:
        if with_reranker and reranker is None:
            continue
        times = []
        for q in queries * 3:
            start = time.perf_counter()
            opts = SearchOptions(q, top_k=10, mode=search_mode)  # type: ignore[arg-type]
            search(conn, root_id, opts, model, reranker=reranker if with_reranker else None)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        print(
            f"  {mode:<13} at {made} chunks: p50 {statistics.median(times):.1f} ms  p95 {times[int(len(times) * 0.95) - 1]:.1f} ms"
            " (query embedding included)"
        )
    exact = np.vstack(
        [
            np.frombuffer(r[0], dtype=np.float32)
            for r in conn.execute(
                "SELECT embedding FROM search_vec_384 WHERE root_id = ? ORDER BY chunk_id", (root_id,)
            )
        ]
    )
    ids = np.asarray(
        [
            r[0]
            for r in conn.execute("SELECT chunk_id FROM search_vec_384 WHERE root_id = ? ORDER BY chunk_id", (root_id,))
        ]
    )
    overlap = []
    for q in queries:
        qvec = model.embed_query(q)[0]
        truth = set(ids[np.argsort(-(exact @ qvec))[:10]].tolist())
        overlap.append(len(truth & set(loaded.nearest(qvec, 10))) / 10)
    print(f"  recall@10 of the in-memory search against exact float32 cosine: {statistics.mean(overlap):.3f}")
    edit_at_scale(conn, root_id, model, file_id)


def edit_at_scale(conn: Any, root_id: int, model: Any, file_id: int) -> None:
    """An edit in a large root: one chunk replaced (as the watcher's re-index does), then what the
    daemon does next (bring the in-memory vectors up to date) and the next query, both timed."""
    from mcpgw.search import vectors

    old_id, text, blob = conn.execute(
        "SELECT c.id, c.text, v.embedding FROM search_chunks c JOIN search_vec_384 v ON v.chunk_id = c.id "
        "WHERE c.root_id = ? ORDER BY c.id LIMIT 1",
        (root_id,),
    ).fetchone()
    conn.execute("BEGIN")
    conn.execute("DELETE FROM search_chunks WHERE id = ?", (old_id,))
    new_id = conn.execute(
        "INSERT INTO search_chunks (root_id, file_id, path, language, kind, symbols, start_line, end_line, text)"
        " VALUES (?, ?, 'edited.py', 'python', 'function', '', 1, 2, ?)",
        (root_id, file_id, text),
    ).lastrowid
    conn.execute("INSERT INTO search_vec_384 (chunk_id, root_id, embedding) VALUES (?, ?, ?)", (new_id, root_id, blob))
    conn.execute("UPDATE search_roots SET generation = generation + 1 WHERE id = ?", (root_id,))
    conn.execute("COMMIT")
    start = time.perf_counter()
    vectors.refresh(conn, root_id)
    refreshed = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    search(conn, root_id, SearchOptions("parse command line options", top_k=10), model)
    print(
        f"  after a one-chunk edit: vectors brought up to date in {refreshed:.0f} ms, "
        f"the next hybrid query {(time.perf_counter() - start) * 1000:.1f} ms"
    )


# modes measured: (label, search mode, with the reranker); "hybrid" is what users get by default,
# "hybrid+rerank" what `mcpgw search --rerank` (or search.rerank = true) gives
MODES = (
    ("keyword", "keyword", False),
    ("semantic", "semantic", False),
    ("hybrid", "hybrid", False),
    ("hybrid+rerank", "hybrid", True),
)


def quality(
    conn: Any, corpora: list[tuple[str, int, list[Case], list[Case]]], embedder: Any, label: str, reranker: Any
) -> dict[tuple[str, str], float]:
    """MRR@10 and Recall@k per query set and mode; returns the pooled MRR@10 per (set, mode)."""
    print(f"\n== retrieval quality with {label} (every repo held out: neither the model nor the fusion saw it)")
    print("   docstring queries: answer = the chunk of the definition whose docstring was blanked")
    pooled: dict[tuple[str, str], float] = {}
    for kind, pick in (("docstring", 0), ("hand-written", 1)):
        for mode, search_mode, with_reranker in MODES:
            if with_reranker and reranker is None:
                continue
            ranks: list[int] = []
            for name, root_id, *sets in corpora:
                cases = sets[pick]
                if cases:
                    mine = evaluate(
                        conn, root_id, cases, search_mode, embedder, Fusion(), reranker if with_reranker else None
                    )
                    ranks += mine
                    show(f"{kind} {mode} {name}", metrics(mine), len(mine))
            show(f"{kind} {mode} ALL", metrics(ranks), len(ranks))
            pooled[(kind, mode)] = metrics(ranks)["MRR@10"]
    calibration(conn, corpora, embedder)
    collected = [(gather(conn, rid, d, embedder), gather(conn, rid, h, embedder)) for _, rid, d, h in corpora]
    doc = [r for d, _ in collected for r in rerank_rrf(d)]
    hand = [r for _, h in collected for r in rerank_rrf(h)]
    print(
        f"  for comparison, reciprocal-rank fusion (k=60) of the same candidates: docstring MRR@10 "
        f"{metrics(doc)['MRR@10']:.3f}, hand-written {metrics(hand)['MRR@10']:.3f}"
    )
    return pooled


def calibration(conn: Any, corpora: list[tuple[str, int, list[Case], list[Case]]], embedder: Any) -> None:
    """Does a hybrid score mean what it says (the chance that the hit is the answer)? The mean score of
    each query's top hit against how often that hit is right, and what ``--threshold`` keeps."""
    for kind, pick in (("docstring", 0), ("hand-written", 1)):
        tops: list[tuple[float, bool]] = []
        for _, root_id, *sets in corpora:
            for case in sets[pick]:
                hits = search(conn, root_id, SearchOptions(case.query, top_k=1), embedder).hits
                if hits:
                    tops.append((hits[0].score, is_hit(case, hits[0])))
        n = max(len(tops), 1)
        line = f"  {kind} hybrid top hit: mean score {sum(s for s, _ in tops) / n:.2f}, right {sum(ok for _, ok in tops) / n:.2f}"
        for cut in (0.5, 0.7):
            kept = [ok for s, ok in tops if s >= cut]
            line += f"; --threshold {cut}: answers {len(kept) / n:.2f} of queries, {sum(kept) / max(len(kept), 1):.2f} right"
        print(line)


def build(
    names: list[str],
    per_repo: int,
    embedder: Any,
    work: Path,
    db: str,
    asked: dict[str, list[Case]] | None = None,
    markers: bool = False,
    keep: bool = False,
) -> tuple[Any, list[tuple[str, int, list[Case], list[Case]]]]:
    """Index blanked copies of ``names`` into ``work/db``; print throughput; return the queries. With
    ``asked`` (a first run's docstring queries by package) the copies blanked then are indexed again."""
    rng = random.Random(7)
    conn = connect_sync(work / db)
    migrate(conn)
    corpora: list[tuple[str, int, list[Case], list[Case]]] = []
    for spec in names:
        name = spec.split("==")[0]
        src = fetch_package(spec)
        copy = work / name
        doc_cases = asked[name] if asked is not None else blank_docstrings(src, copy, rng, per_repo, markers, keep)
        (work / f"plain-{name}.db").unlink(missing_ok=True)  # a second model's run measures afresh too
        plain = connect_sync(work / f"plain-{name}.db")
        migrate(plain)
        s0 = index_root(plain, copy, embedder=None)
        plain.close()
        s1 = index_root(conn, copy, embedder=embedder)
        print(
            f"  {name:<13} {s1.files} files {s1.chunks} chunks | keyword-only {s0.files / s0.seconds:.0f} files/s "
            f"{s0.chunks / s0.seconds:.0f} chunks/s | with embeddings {s1.files / s1.seconds:.1f} files/s "
            f"{s1.chunks / s1.seconds:.1f} chunks/s ({s1.seconds:.1f} s) | skipped {s1.skipped}"
        )
        root_id, _ = find_indexed_root(conn, copy)
        hand = resolve_symbol_cases(conn, root_id, [Case(q, None, None, s) for q, s in HAND.get(name, [])])
        corpora.append((name, root_id, doc_cases, hand))
        print(f"  {name}: {len(doc_cases)} docstring queries, {len(hand)} hand-written")
    return conn, corpora


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", nargs="+", default=DEFAULT_PACKAGES)
    parser.add_argument("--per-repo", type=int, default=150)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--no-rerank", action="store_true", help="leave out hybrid+rerank")
    parser.add_argument(
        "--markers", action="store_true", help='blank docstrings to "" (the old, easier evaluation) instead of spaces'
    )
    parser.add_argument(
        "--keep-docstrings",
        action="store_true",
        help="index the packages as they are (docstring queries then look up text the code still holds)",
    )
    parser.add_argument(
        "--compare-stock", action="store_true", help="also measure the stock all-MiniLM-L6-v2 (when prepared)"
    )
    args = parser.parse_args()
    lookup = resolve_model_dir(None, allow_download=False)
    if lookup.path is None:
        print("no embedding model found", file=sys.stderr)
        return 1
    embedder = MemoEmbedder(LocalEmbedder(lookup.path))
    work = Path(tempfile.mkdtemp(prefix="mcpgw-bench-search-"))
    print(f"== index throughput ({lookup.path.name})")
    conn, corpora = build(
        args.packages, args.per_repo, embedder, work, "bench.db", markers=args.markers, keep=args.keep_docstrings
    )
    reranker = None if args.no_rerank or not has_reranker(BUNDLED_RERANKER) else Reranker(BUNDLED_RERANKER)
    label = f"{lookup.path.name}, docstrings KEPT (not blanked)" if args.keep_docstrings else lookup.path.name
    pooled = quality(conn, corpora, embedder, label, reranker)
    hand_best = max(pooled[("hand-written", "keyword")], pooled[("hand-written", "semantic")])
    for final in ("hybrid", "hybrid+rerank") if reranker is not None else ("hybrid",):
        print(
            f"  targets, {final}: docstring MRR@10 {pooled[('docstring', final)]:.3f} (>= 0.80); hand-written "
            f"{pooled[('hand-written', final)]:.3f} vs best single mode {hand_best:.3f}"
        )
    if args.compare_stock:
        stock = resolve_model_dir(None, allow_download=False, stock=True)
        if stock.path is None or stock.path == lookup.path:
            print("\n(no stock all-MiniLM-L6-v2: run python scripts/prepare_embedding_model.py)")
        else:
            other = MemoEmbedder(LocalEmbedder(stock.path))
            print(f"\n== index throughput ({stock.path.name})")
            asked = {name: doc for name, _, doc, _ in corpora}
            other_conn, other_corpora = build(args.packages, args.per_repo, other, work, "stock.db", asked)
            quality(other_conn, other_corpora, other, f"the stock {stock.path.name}", None)
            other_conn.close()

    print("\n== re-index one changed file")
    name, *_ = corpora[0]
    copy = work / name
    target = next(p for p in sorted(copy.rglob("*.py")) if p.stat().st_size > 2000)
    rel = target.relative_to(copy).as_posix()
    target.write_text(target.read_text() + "\n\ndef bench_marker_function():\n    return 'zebra unicorn'\n")
    start = time.perf_counter()
    index_root(conn, copy, embedder=embedder, only=[rel])  # type: ignore[arg-type]
    one = time.perf_counter() - start
    start = time.perf_counter()
    s = index_root(conn, copy, embedder=embedder)  # type: ignore[arg-type]
    full = time.perf_counter() - start
    print(f"  {rel}: {one * 1000:.0f} ms (that file only); incremental pass over {s.files} files: {full * 1000:.0f} ms")

    if not args.skip_scale:
        print("\n== query latency at scale")
        scale_test(conn, embedder, reranker)
    conn.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
