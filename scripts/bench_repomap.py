"""Benchmark the repo map: cold and warm builds of a synthetic project of several thousand files.

Generates a tree of Python packages, TypeScript modules and Go packages that import and call each
other (default 5,000 files) in a temporary directory, then times in one process:

- cold: empty tag cache, every file parsed;
- warm: same database, nothing changed (stat check only);
- warm after touching 1% of the files (content changed: re-hash and re-parse those);
- the ranked text map at 1,024 and 4,096 tokens.

Prints the figures and their ratio to the targets (cold <= 15 s, warm <= 1 s for 5,000 files).

    python scripts/bench_repomap.py [--files 5000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

COLD_TARGET_S = 15.0
WARM_TARGET_S = 1.0


def _py_file(pkg: int, mod: int, n_pkgs: int, n_mods: int, rng: random.Random) -> str:
    lines = ['"""Synthetic module."""', "from __future__ import annotations", "import os", ""]
    deps = {(rng.randrange(n_pkgs), rng.randrange(n_mods)) for _ in range(3)} - {(pkg, mod)}
    for p, m in sorted(deps):
        lines.append(f"from app.pkg{p}.mod{m} import func_{p}_{m}_0, Service{p}_{m}")
    lines.append("")
    for k in range(4):
        lines += [
            f"def func_{pkg}_{mod}_{k}(items: list[int], limit: int = 10) -> int:",
            '    """Add up what is under the limit."""',
            "    total = 0",
            "    for item in items:",
            "        if item > limit and item % 2 == 0:",
            "            total += item",
            "        elif item < 0 or item == limit:",
            "            total -= 1",
            "    return total",
            "",
        ]
    base = f"Service{sorted(deps)[0][0]}_{sorted(deps)[0][1]}" if deps else "object"
    lines += [
        f"class Service{pkg}_{mod}({base}):",
        "    def __init__(self, name: str) -> None:",
        "        self.name = name",
        "",
    ]
    for k in range(3):
        lines += [f"    def handle_{k}(self, request: dict[str, int]) -> int:"]
        for p, m in sorted(deps):
            lines.append(f"        value = func_{p}_{m}_0([request.get('a', 0)], {k})")
        lines += [
            "        try:",
            "            return value if value else 0",
            "        except KeyError:",
            "            return -1",
            "",
        ]
    return "\n".join(lines) + "\n"


def _ts_file(pkg: int, mod: int, n_pkgs: int, n_mods: int, rng: random.Random) -> str:
    lines = []
    deps = {(rng.randrange(n_pkgs), rng.randrange(n_mods)) for _ in range(3)} - {(pkg, mod)}
    for p, m in sorted(deps):
        lines.append(f'import {{ util{p}_{m}, Widget{p}_{m} }} from "../feat{p}/comp{m}";')
    lines.append("")
    for k in range(4):
        lines += [
            f"export function util{pkg}_{mod}{'' if k == 0 else '_' + str(k)}(xs: number[], limit = 10): number {{",
            "  let total = 0;",
            "  for (const x of xs) {",
            "    if (x > limit && x % 2 === 0) { total += x; } else if (x < 0 || x === limit) { total -= 1; }",
            "  }",
            "  return total ?? 0;",
            "}",
            "",
        ]
    lines += [f"export class Widget{pkg}_{mod} {{", "  constructor(private readonly name: string) {}"]
    for k in range(3):
        lines.append(f"  render{k}(props: Record<string, number>): string {{")
        for p, m in sorted(deps):
            lines.append(f"    const v{p}_{m} = util{p}_{m}([props.a ?? 0], {k});")
        lines += ["    return props.b ? this.name : '';", "  }"]
    lines += ["}", ""]
    return "\n".join(lines)


def _go_file(pkg: int, mod: int, n_pkgs: int, rng: random.Random) -> str:
    deps = sorted({rng.randrange(n_pkgs) for _ in range(2)} - {pkg})
    lines = [f"package svc{pkg}", "", "import ("]
    lines += [f'\t"example.com/bench/svc{p}"' for p in deps]
    lines += [")", ""]
    for k in range(3):
        lines += [
            f"func Handle{mod}_{k}(xs []int, limit int) int {{",
            "\ttotal := 0",
            "\tfor _, x := range xs {",
            "\t\tif x > limit && x%2 == 0 {",
            "\t\t\ttotal += x",
            "\t\t}",
            "\t}",
        ]
        lines += [f"\ttotal += svc{p}.Handle0_0(xs, limit)" for p in deps]
        lines += ["\treturn total", "}", ""]
    lines += [
        f"type Store{mod} struct {{",
        "\tname string",
        "}",
        "",
        f"func (s *Store{mod}) Get(key string) (string, error) {{",
        '\tif key == "" {',
        '\t\treturn "", nil',
        "\t}",
        "\treturn s.name, nil",
        "}",
        "",
    ]
    return "\n".join(lines)


def generate(root: Path, n_files: int, seed: int = 7) -> int:
    """Write a synthetic multi-language project of about ``n_files`` files under ``root``."""
    rng = random.Random(seed)
    per_lang = n_files // 3
    mods_per_pkg = 20
    n_py_pkgs = max(1, per_lang // mods_per_pkg)
    written = 0
    (root / "app").mkdir(parents=True, exist_ok=True)
    (root / "app" / "__init__.py").write_text("")
    for p in range(n_py_pkgs):
        d = root / "app" / f"pkg{p}"
        d.mkdir(exist_ok=True)
        (d / "__init__.py").write_text("")
        for m in range(mods_per_pkg - 1):
            (d / f"mod{m}.py").write_text(_py_file(p, m, n_py_pkgs, mods_per_pkg - 1, rng))
        written += mods_per_pkg
    n_ts = max(1, per_lang // mods_per_pkg)
    for p in range(n_ts):
        d = root / "web" / f"feat{p}"
        d.mkdir(parents=True, exist_ok=True)
        for m in range(mods_per_pkg):
            (d / f"comp{m}.ts").write_text(_ts_file(p, m, n_ts, mods_per_pkg, rng))
        written += mods_per_pkg
    (root / "go.mod").write_text("module example.com/bench\n\ngo 1.22\n")
    n_go = max(1, (n_files - written) // mods_per_pkg)
    for p in range(n_go):
        d = root / f"svc{p}"
        d.mkdir(exist_ok=True)
        for m in range(mods_per_pkg):
            (d / f"file{m}.go").write_text(_go_file(p, m, n_go, rng))
        written += mods_per_pkg
    return written + 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    args = parser.parse_args(argv)

    from mcpgw.repomap import build_repo_map
    from mcpgw.store import connect_sync, migrate

    tmp = Path(tempfile.mkdtemp(prefix="mcpgw-bench-repomap-"))
    tree = args.keep or tmp / "tree"
    try:
        t0 = time.perf_counter()
        n = generate(tree, args.files)
        print(f"generated {n} files in {time.perf_counter() - t0:.1f} s under {tree}")
        conn = connect_sync(tmp / "bench.db")
        migrate(conn)

        def timed(label: str) -> float:
            start = time.perf_counter()
            result = build_repo_map(tree, conn)
            seconds = time.perf_counter() - start
            s = result.stats
            print(f"{label:<22} {seconds:7.2f} s   files={s.files} parsed={s.parsed} cached={s.cached}")
            return seconds

        cold = timed("cold build")
        warm = timed("warm build")
        warm2 = timed("warm build (again)")
        changed = sorted(tree.rglob("*.py"))[:: max(1, n // 50)]
        for path in changed:
            path.write_text(path.read_text() + "\n# touched\n")
        touched = timed(f"warm, {len(changed)} changed")
        built = build_repo_map(tree, conn)
        for budget in (1024, 4096):
            start = time.perf_counter()
            text = built.text(budget)
            print(
                f"text map {budget:>5} tokens  {time.perf_counter() - start:7.2f} s   "
                f"estimate={text.tokens} ({text.tokens / budget:.0%} of budget), {text.definitions} definitions"
            )
        start = time.perf_counter()
        graph = built.to_dict()
        print(
            f"graph JSON              {time.perf_counter() - start:7.2f} s   nodes={len(graph['nodes'])} "
            f"edges={len(graph['edges'])}"
        )
        best_warm = min(warm, warm2)
        print()
        print(
            f"cold {cold:.2f} s = {cold / COLD_TARGET_S:.0%} of the {COLD_TARGET_S:.0f} s target "
            f"({'ok' if cold <= COLD_TARGET_S else 'MISSED'})"
        )
        print(
            f"warm {best_warm:.2f} s = {best_warm / WARM_TARGET_S:.0%} of the {WARM_TARGET_S:.0f} s target "
            f"({'ok' if best_warm <= WARM_TARGET_S else 'MISSED'}); with {len(changed)} files changed {touched:.2f} s"
        )
        return 0 if cold <= COLD_TARGET_S and best_warm <= WARM_TARGET_S else 1
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
