"""Code search on JavaScript and TypeScript: hand-written queries against four npm packages, per mode.

bench_search.py measures Python (its docstring queries need Python's docstrings). This script checks that
the JS path — tree-sitter chunks of CommonJS and ES-class code, JSDoc kept with its definition — finds
what a user asks for. The packages come from the npm registry through ``npm pack`` (cached); axios is
kept out, for an independent check.

A hit counts when it is the chunk holding the answer's first line (lodash, rxjs: any definition of the
answer's name outside tests); "tight" also asks that chunk to be shorter than 120 lines (a 200-line window that happens to
contain the answer is not what a user wants).

    python scripts/bench_search_js.py
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from bench_search import CACHE, MODES, Case, MemoEmbedder, is_hit, metrics, show

from mcpgw.search.embedder import LocalEmbedder, resolve_model_dir
from mcpgw.search.index import find_indexed_root, index_root
from mcpgw.search.query import SearchOptions, search
from mcpgw.store import connect_sync, migrate

PACKAGES = ["express@5.3.0", "commander@14.0.3", "lodash@4.17.21", "rxjs@7.8.2"]

# (query, file, a regular expression matching the answer's first line). Written from each package's
# documented API, as a user who knows what they want but not its name would ask.
HAND: dict[str, list[tuple[str, str, str]]] = {
    "express": [
        ("send a JSON response", "lib/response.js", r"^res\.json = "),
        ("redirect the client to another URL", "lib/response.js", r"^res\.redirect = "),
        ("set a cookie on the response", "lib/response.js", r"^res\.cookie = "),
        ("clear a cookie", "lib/response.js", r"^res\.clearCookie = "),
        ("send a file to download as an attachment", "lib/response.js", r"^res\.download = "),
        ("set the HTTP status code of the response", "lib/response.js", r"^res\.status = "),
        ("check whether the request body content type matches", "lib/request.js", r"^req\.is = "),
        ("parse the Range header of the request", "lib/request.js", r"^req\.range = "),
        ("pick the best content type the client accepts", "lib/request.js", r"^req\.accepts = "),
        ("start an HTTP server listening on a port", "lib/application.js", r"^app\.listen = "),
        ("register a template engine for a file extension", "lib/application.js", r"^app\.engine = "),
        ("mount middleware functions at a path", "lib/application.js", r"^app\.use = "),
        ("respond differently depending on the Accept header", "lib/response.js", r"^res\.format = "),
        ("set the Content-Disposition header", "lib/response.js", r"^res\.attachment = "),
        ("add a field to the Vary header", "lib/response.js", r"^res\.vary = "),
        ("find the template file of a view on disk", "lib/view.js", r"^View\.prototype\.lookup = "),
        ("append a value to a response header", "lib/response.js", r"^res\.append = "),
        ("send a response with a status code and its message as the body", "lib/response.js", r"^res\.sendStatus = "),
        ("respond with JSONP callback support", "lib/response.js", r"^res\.jsonp = "),
        ("set the Location header", "lib/response.js", r"^res\.location = "),
        ("add a charset to a Content-Type", "lib/utils.js", r"^exports\.setCharset = "),
        ("compile the trust proxy setting into a function", "lib/utils.js", r"^exports\.compileTrust = "),
        ("assign an application setting value", "lib/application.js", r"^app\.set = "),
        ("map route parameter names to callbacks", "lib/application.js", r"^app\.param = "),
    ],
    "commander": [
        ("define a new subcommand", "lib/command.js", r"^  command\(nameAndArgs"),
        ("add an option to the command", "lib/command.js", r"^  option\(flags"),
        ("parse the command line arguments", "lib/command.js", r"^  parse\(argv"),
        ("suggest a similar command when one is misspelt", "lib/suggestSimilar.js", r"^function suggestSimilar"),
        ("set the program version", "lib/command.js", r"^  version\(str"),
        ("add an option that must be given", "lib/command.js", r"^  requiredOption\("),
        ("parse arguments and wait for async action handlers", "lib/command.js", r"^  async parseAsync\("),
        ("error class thrown for an invalid argument", "lib/error.js", r"^class InvalidArgumentError"),
        ("wrap help text to the terminal width", "lib/help.js", r"^  boxWrap\("),
        ("restrict an option value to a list of allowed choices", "lib/option.js", r"^  choices\(values"),
        ("read an option value from an environment variable", "lib/option.js", r"^  env\(name"),
        ("declare a positional argument for the command", "lib/command.js", r"^  argument\(name"),
        ("set the usage line shown in help", "lib/command.js", r"^  usage\(str"),
        ("give the command an alternative name", "lib/command.js", r"^  alias\(alias"),
        ("edit distance between two strings", "lib/suggestSimilar.js", r"^function editDistance"),
        ("the action handler called when the command runs", "lib/command.js", r"^  action\(fn"),
        ("display help and exit", "lib/command.js", r"^  help\(contextOptions"),
    ],
}


# lodash ships each function twice: inside the UMD lodash.js (a 17k-line closure) and as its own module
# (chunk.js …): the answer is any definition of that name outside tests.
HAND_SYMBOL: dict[str, list[tuple[str, str]]] = {
    "lodash": [
        ("split an array into groups of a given size", "chunk"),
        ("delay calling a function until some time has passed since the last call", "debounce"),
        ("deep clone a value", "cloneDeep"),
        ("get the value at a path of an object", "get"),
        ("remove duplicate values from an array", "uniq"),
        ("convert a string to camel case", "camelCase"),
        ("call a function at most once per wait period", "throttle"),
        ("cache the results of a function", "memoize"),
        ("merge the properties of source objects deeply", "merge"),
        ("check whether two values are deeply equal", "isEqual"),
        ("pick some properties of an object", "pick"),
        ("group the elements of a collection by a key", "groupBy"),
        ("flatten a nested array completely", "flattenDeep"),
        ("escape HTML characters in a string", "escape"),
        ("a random number between bounds", "random"),
    ],
    # TypeScript sources (src/, with overload signatures before each implementation)
    "rxjs": [
        ("wait for a pause in the values before emitting the latest one", "debounceTime"),
        ("map each value to an inner observable and cancel the previous one", "switchMap"),
        ("combine the latest values of several observables", "combineLatest"),
        ("resubscribe to the source when it errors", "retry"),
        ("skip a value equal to the one before it", "distinctUntilChanged"),
        ("handle an error by switching to another observable", "catchError"),
        ("share one subscription to the source between subscribers", "share"),
        ("emit after a delay and then periodically", "timer"),
        ("emit only the first few values", "take"),
        ("make an observable from a list of arguments", "of"),
        ("merge several observables into one", "merge"),
        ("collect values into arrays emitted every time span", "bufferTime"),
        ("run a side effect for every notification without changing it", "tap"),
        ("apply an accumulator over the values and emit each intermediate result", "scan"),
        ("convert an observable to a promise of its last value", "lastValueFrom"),
    ],
}


def fetch_npm(spec: str) -> Path:
    """``npm pack`` the package once into the bench cache; return its unpacked directory."""
    name, _, version = spec.rpartition("@")
    target = CACHE / "npm" / f"{name}-{version}"
    if target.is_dir():
        return target
    if shutil.which("npm") is None:
        raise SystemExit("bench_search_js needs npm (Node.js) to fetch its packages")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        subprocess.run(["npm", "pack", spec, "--silent", "--pack-destination", tmp], check=True, capture_output=True)
        (archive,) = list(Path(tmp).glob("*.tgz"))
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        target.parent.mkdir(parents=True, exist_ok=True)
        (Path(tmp) / "package").rename(target)
    return target


def cases_for(name: str, src: Path) -> list[Case]:
    out = [Case(query, None, None, symbol) for query, symbol in HAND_SYMBOL.get(name, [])]
    for query, rel, pattern in HAND.get(name, []):
        lines = (src / rel).read_text().split("\n")
        line = next((i for i, text in enumerate(lines, 1) if re.search(pattern, text)), None)
        if line is None:
            raise SystemExit(f"{name}: no line matches {pattern!r} in {rel} (did the version change?)")
        out.append(Case(query, rel, line))
    return out


def main() -> int:
    lookup = resolve_model_dir(None, allow_download=False)
    if lookup.path is None:
        print("no embedding model found", file=sys.stderr)
        return 1
    CACHE.mkdir(parents=True, exist_ok=True)
    embedder = MemoEmbedder(LocalEmbedder(lookup.path))
    work = Path(tempfile.mkdtemp(prefix="mcpgw-bench-js-"))
    try:
        conn = connect_sync(work / "bench.db")
        migrate(conn)
        corpora = []
        for spec in PACKAGES:
            name = spec.rpartition("@")[0]
            copy = work / name
            shutil.copytree(fetch_npm(spec), copy)
            subprocess.run(["git", "init", "-q", str(copy)], check=True)
            summary = index_root(conn, copy, embedder=embedder)  # type: ignore[arg-type]
            print(f"  {name:<10} {summary.files} files {summary.chunks} chunks ({summary.seconds:.1f} s)")
            root_id, _ = find_indexed_root(conn, copy)
            corpora.append((name, root_id, cases_for(name, copy)))
        print(f"\n== hand-written JavaScript queries ({lookup.path.name})")
        for mode, search_mode, with_reranker in MODES:
            if with_reranker:
                continue
            ranks, tight = [], []
            for name, root_id, cases in corpora:
                mine = []
                for case in cases:
                    hits = search(conn, root_id, SearchOptions(case.query, mode=search_mode), embedder).hits  # type: ignore[arg-type]
                    rank = next((i for i, h in enumerate(hits, 1) if is_hit(case, h)), 0)
                    mine.append(rank)
                    small = rank and hits[rank - 1].end_line - hits[rank - 1].start_line < 120
                    tight.append(rank if small else 0)
                show(f"{mode} {name}", metrics(mine), len(mine))
                ranks += mine
            show(f"{mode} ALL", metrics(ranks), len(ranks))
            show(f"{mode} ALL, tight", metrics(tight), len(tight))
        conn.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
