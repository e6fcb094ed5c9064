"""Fit the bundled embedding model's query-kind prior: from a query's vector, the chance that its answer is
a class, a function or a method.

Docstrings describe classes with noun phrases ("A validator that …", "Raised when …") and functions and
methods with verbs ("Return …", "Registers …"); the query's embedding carries that. Hybrid search turns
the prior into a feature (``kind_prior`` in ``mcpgw.search.query.FEATURES``): log P(candidate's kind |
query) - log P(kind), 0 for other kinds or when an embedder has no prior. Most ranking misses of
docstring queries were a class outranking the method or function the query describes.

Data: the first sentences of docstrings of the embedding model's own training packages
(``scripts/train_code_embedder.py``; none of the evaluation's, the independent check's or
``scripts/fit_fusion.py``'s), each labelled with the kind of the chunk mcpgw's chunker makes of the
definition it documents. Model: multinomial logistic regression on the query vectors (numpy, L2,
full-batch gradient descent), checked on a fifth of the packages held out, then fitted on all of them.
Written as ``query-kind.json`` beside the model (the weights rounded to 4 decimals). About 5 minutes.

Usage: python scripts/fit_query_kind.py [--packages NAME==VERSION …]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_search as bench
import train_code_embedder as training

from mcpgw.search.chunker import chunk_file, file_language
from mcpgw.search.embedder import BUNDLED_MODEL, QUERY_KINDS, LocalEmbedder

OUT = BUNDLED_MODEL / "query-kind.json"


def labelled(spec: str, work: Path) -> list[tuple[str, str]]:
    """(query, kind of the chunk that answers it) for every documented definition of ``spec``."""
    copy = work / spec.split("==")[0]
    shutil.rmtree(copy, ignore_errors=True)
    cases = bench.blank_docstrings(bench.fetch_package(spec), copy, random.Random(11), 100_000, keep=True)
    out: list[tuple[str, str]] = []
    chunks_of: dict[str, list[Any]] = {}
    for case in cases:
        rel = case.path or ""
        if rel not in chunks_of:
            try:
                chunks_of[rel] = chunk_file(rel, (copy / rel).read_text("utf-8"), file_language(rel))
            except (OSError, UnicodeDecodeError):
                chunks_of[rel] = []
        line = case.line or 0
        holding = [c for c in chunks_of[rel] if c.start_line <= line <= c.end_line]
        if holding:
            kind = min(holding, key=lambda c: c.end_line - c.start_line).kind
            if kind in QUERY_KINDS:
                out.append((case.query, kind))
    shutil.rmtree(copy, ignore_errors=True)
    return out


def fit(x: Any, y: Any, l2: float = 1e-3, steps: int = 1500, lr: float = 2.0) -> tuple[Any, Any]:
    """Multinomial logistic regression by full-batch gradient descent: weights (dim, k) and biases (k,)."""
    import numpy as np

    n, k = len(y), len(QUERY_KINDS)
    onehot = np.eye(k)[y]
    w = np.zeros((x.shape[1], k))
    b = np.log(onehot.mean(axis=0))
    for _ in range(steps):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        grad = p - onehot
        w -= lr * (x.T @ grad / n + l2 * w)
        b -= lr * grad.mean(axis=0)
    return w, b


def accuracy(x: Any, y: Any, w: Any, b: Any) -> float:
    return float(((x @ w + b).argmax(axis=1) == y).mean())


def main() -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", nargs="+", default=training.FIRST + training.SECOND + training.THIRD)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mcpgw-query-kind-"))
    embedder = LocalEmbedder(BUNDLED_MODEL)
    by_package: dict[str, list[tuple[str, str]]] = {}
    for spec in args.packages:
        by_package[spec] = labelled(spec, work)
    shutil.rmtree(work, ignore_errors=True)
    specs = sorted(by_package)
    random.Random(3).shuffle(specs)
    held = set(specs[: len(specs) // 5])

    def matrix(chosen: list[str]) -> tuple[Any, Any]:
        pairs = [p for s in chosen for p in by_package[s]]
        x = np.concatenate([embedder.embed_query(q) for q, _ in pairs]) if pairs else np.zeros((0, embedder.dim))
        return x.astype(np.float64), np.array([QUERY_KINDS.index(k) for _, k in pairs])

    x_fit, y_fit = matrix([s for s in specs if s not in held])
    x_held, y_held = matrix(sorted(held))
    counts = {k: int((y_fit == i).sum()) for i, k in enumerate(QUERY_KINDS)}
    print(f"{len(y_fit)} queries from {len(specs) - len(held)} packages to fit ({counts}), {len(y_held)} held out")
    w, b = fit(x_fit, y_fit)
    majority = float((y_held == np.bincount(y_fit).argmax()).mean())
    print(f"held-out accuracy {accuracy(x_held, y_held, w, b):.3f} (always the commonest kind: {majority:.3f})")
    x_all, y_all = np.concatenate([x_fit, x_held]), np.concatenate([y_fit, y_held])
    w, b = fit(x_all, y_all)
    prior = np.bincount(y_all, minlength=len(QUERY_KINDS)) / len(y_all)
    print(f"fitted on all {len(y_all)}: training accuracy {accuracy(x_all, y_all, w, b):.3f}")
    data = {
        "kinds": list(QUERY_KINDS),
        "prior": [round(float(p), 4) for p in prior],
        "bias": [round(float(v), 4) for v in b],
        "weights": [[round(float(v), 4) for v in row] for row in w.T],
        "fitted_on": f"{len(y_all)} docstring first sentences of scripts/train_code_embedder.py's packages",
    }
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"written: {OUT} ({OUT.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
