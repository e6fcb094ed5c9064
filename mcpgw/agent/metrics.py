"""Code-smell metrics of one file: cyclomatic complexity and length per function (lizard), long
functions, and duplicated blocks (the same run of normalised lines in two places)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

from mcpgw.errors import UsageError

LONG_FUNCTION_NLOC = 50
DUPLICATE_WINDOW = 6  # a duplicate is at least this many consecutive non-blank lines


@dataclass(frozen=True)
class FunctionMetric:
    """One function: where it is, its cyclomatic complexity and its lines of code."""

    name: str
    start_line: int
    end_line: int
    complexity: int
    nloc: int


@dataclass(frozen=True)
class DuplicateBlock:
    """A run of ``size`` lines that occurs at each of ``lines`` (1-based start lines)."""

    size: int
    lines: list[int]


@dataclass(frozen=True)
class CodeMetrics:
    """The file's metrics; ``worst`` lists the functions a refactor should start with."""

    path: str
    nloc: int
    functions: list[FunctionMetric] = field(default_factory=list)
    duplicates: list[DuplicateBlock] = field(default_factory=list)

    @property
    def max_complexity(self) -> int:
        return max((f.complexity for f in self.functions), default=0)

    @property
    def duplicated_lines(self) -> int:
        return sum(d.size * (len(d.lines) - 1) for d in self.duplicates)

    def long_functions(self, nloc: int = LONG_FUNCTION_NLOC) -> list[FunctionMetric]:
        return [f for f in self.functions if f.nloc > nloc]

    def worst(self, max_complexity: int, long_nloc: int = LONG_FUNCTION_NLOC) -> list[FunctionMetric]:
        """Functions over the complexity limit or too long, most complex first."""
        over = [f for f in self.functions if f.complexity > max_complexity or f.nloc > long_nloc]
        return sorted(over, key=lambda f: (-f.complexity, -f.nloc, f.start_line))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["max_complexity"] = self.max_complexity
        data["duplicated_lines"] = self.duplicated_lines
        return data


def _duplicates(text: str, window: int) -> list[DuplicateBlock]:
    """Maximal runs of at least ``window`` identical normalised lines found in more than one place."""
    lines = [(no, " ".join(line.split())) for no, line in enumerate(text.splitlines(), 1)]
    body = [(no, s) for no, s in lines if s and s not in ("{", "}", "};", ")", "]", "pass", "else:")]
    seen: dict[str, list[int]] = {}
    for i in range(len(body) - window + 1):
        key = hashlib.sha1("\n".join(s for _, s in body[i : i + window]).encode()).hexdigest()
        seen.setdefault(key, []).append(i)
    blocks: list[DuplicateBlock] = []
    covered: set[int] = set()
    for starts in seen.values():
        if len(starts) < 2 or starts[0] in covered:
            continue
        if any(b - a < window for a, b in pairwise(starts)):
            continue  # overlapping repeats of a short pattern, not a copied block
        size = window
        while all(s + size < len(body) for s in starts) and len({body[s + size][1] for s in starts}) == 1:
            size += 1
        for s in starts:
            covered.update(range(s, s + size - window + 1))
        blocks.append(DuplicateBlock(size, [body[s][0] for s in starts]))
    return blocks


def measure(path: str, text: str, *, window: int = DUPLICATE_WINDOW) -> CodeMetrics:
    """The metrics of ``text`` (``path`` picks the language); a usage error for languages lizard does not know."""
    import lizard

    if lizard.get_reader_for(path) is None:
        raise UsageError(
            f"{path}: cannot measure this kind of file",
            fix="refactor works on source files lizard knows (Python, JavaScript, TypeScript, Go, Rust, Java, C…)",
        )
    info = lizard.analyze_file.analyze_source_code(path, text)
    functions = [
        FunctionMetric(fn.name, fn.start_line, fn.end_line, fn.cyclomatic_complexity, fn.nloc)
        for fn in info.function_list
    ]
    return CodeMetrics(path, info.nloc, functions, _duplicates(text, window))
