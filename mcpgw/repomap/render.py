"""Render the ranked graph: a token-budgeted text map, Mermaid, Graphviz DOT, or a standalone SVG.

The text map lists the signatures of the most relevant definitions grouped by file, files in rank
order (the central modules first). Its size is measured with :func:`estimate_tokens`, a tokenizer-free
approximation for code: the mean of ``characters / 4`` and the number of words, numbers and
punctuation marks (BPE tokenizers split code at roughly those points, while ``chars/4`` alone
undercounts symbol-dense code). The map is grown until it is as large as fits in the budget, so it
lands within 10 % of it whenever the project has enough to show.
"""

from __future__ import annotations

import html
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mcpgw.repomap.graph import ProjectGraph, module_id
from mcpgw.repomap.tags import supports

_TOKEN_RE = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")
_COLORS = {"core": "#f4a261", "infra": "#8ecae6", "feature": "#90be6d", "test": "#cdb4db", "config": "#d9d9d9"}
FILE_LEVEL_MAX = 40  # projects with at most this many source files are drawn file by file


def estimate_tokens(text: str) -> int:
    """Approximate LLM tokens in ``text``: mean of chars/4 and the word/number/punctuation count."""
    return round((len(text) / 4 + len(_TOKEN_RE.findall(text))) / 2)


@dataclass
class TextMap:
    text: str
    tokens: int
    files: int
    definitions: int


def render_text(
    graph: ProjectGraph,
    file_ranks: Mapping[str, float],
    def_scores: Sequence[tuple[float, str, int]],
    budget: int,
) -> TextMap:
    """The largest map of the best-ranked items whose estimated size is within ``budget`` tokens."""
    items: list[tuple[float, str, int]] = list(def_scores)
    # Files without definitions (docs, config, empty modules) come after nearly every definition.
    items.extend((file_ranks.get(p, 0.0) * 1e-3, p, -1) for p, t in graph.files.items() if not t.defs)
    items.sort(key=lambda it: (-it[0], it[1], it[2]))

    def size(chosen: Sequence[tuple[float, str, int]]) -> int:
        return estimate_tokens(_render(graph, file_ranks, chosen))

    lo, hi = 0, min(len(items), budget)  # every item costs at least one token
    while lo < hi:  # largest prefix that fits
        mid = (lo + hi + 1) // 2
        if size(items[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    chosen = items[:lo]
    if size(chosen) < 0.9 * budget:
        # The next item was too big for what is left: fill with smaller ones further down.
        for item in items[lo + 1 : lo + 300]:
            if size([*chosen, item]) <= budget:
                chosen.append(item)
    text = _render(graph, file_ranks, chosen)
    return TextMap(
        text=text,
        tokens=estimate_tokens(text),
        files=len({p for _, p, _ in chosen}),
        definitions=sum(1 for _, _, i in chosen if i >= 0),
    )


def _render(graph: ProjectGraph, file_ranks: Mapping[str, float], chosen: Sequence[tuple[float, str, int]]) -> str:
    by_file: dict[str, set[int]] = defaultdict(set)
    for _, path, i in chosen:
        by_file[path]
        if i >= 0:
            defs = graph.files[path].defs
            by_file[path].add(i)
            parent = defs[i].parent
            while parent >= 0:  # show the class a method belongs to
                by_file[path].add(parent)
                parent = defs[parent].parent
    lines: list[str] = []
    for path in sorted(by_file, key=lambda p: (-file_ranks.get(p, 0.0), p)):
        lines.append(f"{path}:")
        defs = graph.files[path].defs
        for i in sorted(by_file[path], key=lambda j: defs[j].line):
            depth = 0
            parent = defs[i].parent
            while parent >= 0:
                depth += 1
                parent = defs[parent].parent
            lines.append("  " * (depth + 1) + defs[i].signature)
    return "\n".join(lines) + ("\n" if lines else "")


# ---- pictures ----


@dataclass
class Picture:
    """A small graph to draw: nodes (id, label, category, weight) and weighted edges."""

    nodes: list[tuple[str, str, str, float]]
    edges: list[tuple[str, str, float]]
    level: str  # "file" | "module"


def picture(graph: ProjectGraph, file_ranks: Mapping[str, float], *, max_nodes: int = 60) -> Picture:
    """The import graph to draw: file by file for small projects, else by module (directory)."""
    code_files = [p for p, t in graph.files.items() if supports(t.lang)]
    file_level = len(code_files) <= FILE_LEVEL_MAX
    group = (lambda p: p) if file_level else module_id
    weight: dict[str, float] = defaultdict(float)
    category: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    categories = graph.categories
    for path in code_files:
        key = group(path)
        weight[key] += file_ranks.get(path, 0.0)
        category[key][categories.get(path, "feature")] += 1
    keep = sorted(weight, key=lambda k: (-weight[k], k))[:max_nodes]
    kept = set(keep)
    edges: dict[tuple[str, str], float] = defaultdict(float)
    for edge in graph.edges:
        if edge.type != "import":
            continue
        a, b = group(edge.source), group(edge.target)
        if a != b and a in kept and b in kept:
            edges[(a, b)] += edge.weight
    nodes = [
        (k, k if file_level else (k.rstrip("/") or "."), max(category[k], key=lambda c: category[k][c]), weight[k])
        for k in keep
    ]
    return Picture(nodes, [(a, b, w) for (a, b), w in sorted(edges.items())], "file" if file_level else "module")


def render_mermaid(pic: Picture) -> str:
    ids = {node_id: f"n{i}" for i, (node_id, *_rest) in enumerate(pic.nodes)}
    lines = ["graph LR"]
    for node_id, label, cat, _ in pic.nodes:
        safe = label.replace('"', "'")
        lines.append(f'  {ids[node_id]}["{safe}"]:::{cat}')
    for a, b, w in pic.edges:
        lines.append(f"  {ids[a]} -->|{_fmt(w)}| {ids[b]}" if w > 1 else f"  {ids[a]} --> {ids[b]}")
    for cat, color in _COLORS.items():
        lines.append(f"  classDef {cat} fill:{color},stroke:#555")
    return "\n".join(lines) + "\n"


def render_dot(pic: Picture) -> str:
    lines = [
        "digraph repomap {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    ]
    for node_id, label, cat, _ in pic.nodes:
        lines.append(f'  {_dot_quote(node_id)} [label={_dot_quote(label)}, fillcolor="{_COLORS[cat]}"];')
    for a, b, w in pic.edges:
        lines.append(f"  {_dot_quote(a)} -> {_dot_quote(b)} [penwidth={1 + math.log1p(w):.2f}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fmt(w: float) -> str:
    return str(int(w)) if w == int(w) else f"{w:.1f}"


def _layout(pic: Picture, width: float, height: float) -> list[tuple[float, float]]:
    """Fruchterman-Reingold force layout, deterministic (seeded on a circle), numpy-vectorised."""
    import numpy as np

    n = len(pic.nodes)
    if n == 0:
        return []
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pos = np.stack([np.cos(angle), np.sin(angle)], axis=1) * 0.5
    index = {node_id: i for i, (node_id, *_rest) in enumerate(pic.nodes)}
    pairs = np.array([(index[a], index[b]) for a, b, _ in pic.edges], dtype=np.int64).reshape(-1, 2)
    k = math.sqrt(1.0 / n)
    temperature = 0.1
    for _ in range(300):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.maximum(np.linalg.norm(delta, axis=2), 1e-3)
        force = (delta / dist[:, :, None] * (k * k / dist)[:, :, None]).sum(axis=1)
        if len(pairs):
            d = pos[pairs[:, 0]] - pos[pairs[:, 1]]
            dd = np.maximum(np.linalg.norm(d, axis=1), 1e-3)
            pull = d / dd[:, None] * (dd * dd / k)[:, None]
            np.add.at(force, pairs[:, 0], -pull)
            np.add.at(force, pairs[:, 1], pull)
        force -= pos * 0.05  # gentle gravity keeps disconnected parts on the canvas
        length = np.maximum(np.linalg.norm(force, axis=1), 1e-9)
        pos += force / length[:, None] * np.minimum(length, temperature)[:, None]
        temperature = max(temperature * 0.985, 0.002)
    span = pos.max(axis=0) - pos.min(axis=0)
    span[span == 0] = 1.0
    scaled = (pos - pos.min(axis=0)) / span
    margin = 90.0
    return [(margin + x * (width - 2 * margin), margin + y * (height - 2 * margin)) for x, y in scaled]


def render_svg(pic: Picture, *, title: str) -> str:
    """A self-contained SVG of the picture: boxes sized by rank, coloured by category, arrows by weight."""
    n = len(pic.nodes)
    width = max(900.0, 160.0 * math.sqrt(max(n, 1)) * 1.6)
    height = width * 0.7
    points = _layout(pic, width, height)
    where = {node_id: points[i] for i, (node_id, *_rest) in enumerate(pic.nodes)}
    top = max((w for *_rest, w in pic.nodes), default=1.0) or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height + 40:.0f}" '
        f'viewBox="0 0 {width:.0f} {height + 40:.0f}" font-family="Helvetica, Arial, sans-serif">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#777"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="16" y="26" font-size="16" font-weight="bold">{html.escape(title)}</text>',
        f'<text x="16" y="44" font-size="11" fill="#555">{pic.level} import graph · {n} nodes · '
        f"{len(pic.edges)} edges · box size = PageRank</text>",
    ]
    for a, b, w in pic.edges:
        (x1, y1), (x2, y2) = where[a], where[b]
        out.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#999" '
            f'stroke-opacity="0.6" stroke-width="{0.8 + math.log1p(w):.2f}" marker-end="url(#arrow)"/>'
        )
    for node_id, label, cat, w in pic.nodes:
        x, y = where[node_id]
        short = label if len(label) <= 32 else "…" + label[-31:]
        scale = 1.0 + 0.6 * math.sqrt(w / top)
        box_w, box_h = (len(short) * 6.4 + 14) * scale, 20 * scale
        out.append(
            f"<g><title>{html.escape(label)} ({cat}, rank {w:.4f})</title>"
            f'<rect x="{x - box_w / 2:.1f}" y="{y - box_h / 2:.1f}" width="{box_w:.1f}" height="{box_h:.1f}" '
            f'rx="6" fill="{_COLORS[cat]}" stroke="#444" stroke-width="0.8"/>'
            f'<text x="{x:.1f}" y="{y + 4 * scale:.1f}" font-size="{11 * scale:.1f}" text-anchor="middle">'
            f"{html.escape(short)}</text></g>"
        )
    legend_y = height + 25
    for i, (cat, color) in enumerate(_COLORS.items()):
        x = 16 + i * 110
        out.append(f'<rect x="{x}" y="{legend_y - 11}" width="14" height="14" rx="3" fill="{color}" stroke="#444"/>')
        out.append(f'<text x="{x + 20}" y="{legend_y}" font-size="12">{cat}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
