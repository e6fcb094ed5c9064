"""PageRank over the file graph, personalised toward the files in focus, and definition scores.

Edges point from a file to what it depends on (imports, cross-file calls and bases), so rank flows to
the modules everything else leans on. With focus files the random walk restarts only at them, so
their dependencies (and the dependencies of those) rise; :func:`related_files` walks the graph
backwards for the files a change would affect.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcpgw.repomap.graph import ProjectGraph

DAMPING = 0.85


def pagerank(
    nodes: Iterable[str],
    edges: Mapping[str, Mapping[str, float]],
    personalization: Mapping[str, float] | None = None,
    *,
    damping: float = DAMPING,
    tol: float = 1e-9,
    max_iter: int = 100,
) -> dict[str, float]:
    """Weighted PageRank by power iteration (numpy, sparse edge lists). Scores sum to 1.

    Dangling nodes (no out-edges) give their rank back through the personalization vector, as in
    the standard formulation; an empty or all-zero personalization means uniform.
    """
    import numpy as np

    names = list(dict.fromkeys(nodes))
    n = len(names)
    if n == 0:
        return {}
    pos = {name: i for i, name in enumerate(names)}
    src: list[int] = []
    dst: list[int] = []
    wts: list[float] = []
    for a, targets in edges.items():
        ia = pos.get(a)
        if ia is None:
            continue
        for b, weight in targets.items():
            ib = pos.get(b)
            if ib is not None and weight > 0 and ib != ia:
                src.append(ia)
                dst.append(ib)
                wts.append(weight)
    s = np.asarray(src, dtype=np.int64)
    d = np.asarray(dst, dtype=np.int64)
    w = np.asarray(wts, dtype=np.float64)
    out = np.bincount(s, weights=w, minlength=n)
    norm = w / out[s] if len(wts) else w
    dangling = out == 0
    p = np.zeros(n)
    for name, value in (personalization or {}).items():
        if name in pos and value > 0:
            p[pos[name]] += value
    p = p / p.sum() if p.sum() > 0 else np.full(n, 1.0 / n)
    r = p.copy()
    for _ in range(max_iter):
        flow = np.bincount(d, weights=norm * r[s], minlength=n) if len(wts) else np.zeros(n)
        new = damping * (flow + r[dangling].sum() * p) + (1 - damping) * p
        delta = float(np.abs(new - r).sum())
        r = new
        if delta < tol * n:
            break
    total = r.sum()
    return {name: float(r[i] / total) for i, name in enumerate(names)}


def rank_files(graph: ProjectGraph, focus: Iterable[str] = ()) -> dict[str, float]:
    """File ranks, personalised toward ``focus`` (repo-relative paths) when given."""
    focus_set = [f for f in focus if f in graph.files]
    personalization = dict.fromkeys(focus_set, 1.0) if focus_set else None
    return pagerank(graph.files, graph.file_deps, personalization)


def rank_definitions(graph: ProjectGraph, file_ranks: Mapping[str, float]) -> list[tuple[float, str, int]]:
    """(score, file, def index) for every definition, best first.

    A file's rank is shared among its definitions in proportion to ``1 + references from other
    files`` (with a bonus for exported, top-level ones), so used definitions of central files lead.
    """
    scored: list[tuple[float, str, int]] = []
    for path, tags in graph.files.items():
        if not tags.defs:
            continue
        weights = []
        for i, d in enumerate(tags.defs):
            w = 1.0 + graph.def_refs.get((path, i), 0.0)
            if d.parent == -1:
                w *= 2.0
            if d.exported and not d.name.startswith("_"):
                w *= 1.5
            if d.parent >= 0 and tags.defs[d.parent].kind == "function":
                w *= 0.1  # nested helpers rarely matter to a reader of the map
            weights.append(w)
        total = sum(weights)
        rank = file_ranks.get(path, 0.0)
        scored.extend((rank * w / total, path, i) for i, w in enumerate(weights))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    return scored


def related_files(graph: ProjectGraph, target: str, *, limit: int = 20) -> list[dict[str, object]]:
    """The files most likely affected by a change to ``target``: its reverse dependencies, ranked.

    Rank flows backwards from ``target`` (PageRank personalised to it on the reversed graph), so a
    direct importer that uses much of it outranks a distant transitive one; ``distance`` is the
    number of dependency hops, and tests of ``target`` are included.
    """
    reverse: dict[str, dict[str, float]] = {p: {} for p in graph.files}
    for a, targets in graph.file_deps.items():
        for b, weight in targets.items():
            if b in reverse:
                reverse[b][a] = reverse[b].get(a, 0.0) + weight
    scores = pagerank(graph.files, reverse, {target: 1.0})
    distance = {target: 0}
    frontier = [target]
    while frontier:
        nxt = []
        for node in frontier:
            for dep in reverse.get(node, {}):
                if dep not in distance:
                    distance[dep] = distance[node] + 1
                    nxt.append(dep)
        frontier = nxt
    stem = posixpath.splitext(posixpath.basename(target))[0]
    found: list[tuple[float, int, str, str]] = []
    for path, dist in distance.items():
        if path == target:
            continue
        kind = "uses it" if target in graph.file_deps.get(path, {}) else "depends on it indirectly"
        found.append((round(scores.get(path, 0.0), 6), dist, path, kind))
    # Tests named after the target (test_x.py, x.test.ts, x_test.go) are affected even when unlinked.
    for path in graph.files:
        if path not in distance and path != target and _is_test_of(path, stem):
            found.append((0.0, 1, path, "tests it (by name)"))
    found.sort(key=lambda r: (-r[0], r[1], r[2]))
    return [{"path": p, "score": s, "distance": d, "relation": k} for s, d, p, k in found[:limit]]


def _is_test_of(path: str, stem: str) -> bool:
    name = posixpath.basename(path)
    return (
        name.startswith(f"test_{stem}.")
        or name.startswith(f"{stem}_test.")
        or name.startswith((f"{stem}.test.", f"{stem}.spec."))
    )
