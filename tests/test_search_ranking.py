"""What the embedder is shown for a chunk, which chunks are set aside, and that an index built with an
older document format is re-embedded (keyword search meanwhile) rather than mixed with new vectors."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from mcpgw.errors import UsageError
from mcpgw.search import find_indexed_root, index_root, search
from mcpgw.search.chunker import chunk_file
from mcpgw.search.embedder import DOC_FORMAT, QUERY_KINDS, KindPrior, LocalEmbedder, index_name
from mcpgw.search.index import HEADER_WEIGHT, as_words, embed_text, header_text
from mcpgw.search.query import (
    _WEIGHTS,
    FEATURES,
    Candidates,
    Fusion,
    SearchOptions,
    _keyword,
    _name_overlap,
    _rare,
    chances,
    collect,
    features,
    is_aside,
)
from mcpgw.search.terms import abbreviations_for, fts_query, query_stems, query_terms, stem, word_forms
from mcpgw.store import connect_sync, migrate
from tests.test_search_index import model_dir

SOURCE = (
    "class HelpFormatter:\n"
    "    def write_usage(self, prog: str, args: str = '') -> None:\n"
    "        self.current_indent += 2\n"
    "        self.buffer.append(f'{prog} {args}')\n"
)


def test_embedded_text_names_the_definition_in_words_before_the_code() -> None:
    method = next(c for c in chunk_file("src/click/formatting.py", SOURCE) if c.kind == "method")
    text = embed_text("src/click/formatting.py", method)
    header, body = text.split("\n", 1)
    assert header == "src/click/formatting.py · method HelpFormatter.write_usage · help formatter write usage"
    assert (
        body
        == "def write usage(self, prog: str, args: str '') - none: self.current indent 2 self.buffer.append(f' prog args ')"
    )


CONVERTER = (
    "class BoolParamType(ParamType):\n"
    "    @staticmethod\n"
    "    def str_to_bool(\n"
    "        value: str,\n"
    "        strict: bool = False,\n"
    "    ) -> bool:\n"
    '        """Convert a string to a boolean value.\n'
    '        """\n'
    "        # trailing spaces are fine\n"
    "        norm = value.strip().lower()\n"
    "        return norm in ('1', 'true')\n"
)


def test_a_definition_header_names_it_and_shows_its_signature_and_first_line() -> None:
    chunks = chunk_file("src/click/types.py", CONVERTER)
    method = next(c for c in chunks if c.kind == "method")
    assert header_text("src/click/types.py", method) == (
        "types · bool param type · method · str to bool\n"
        "def str to bool( value: str, strict: bool false, ) - bool:\n"
        "convert a string to a boolean value."
    )


def test_a_header_skips_an_empty_docstring_and_comments_for_the_first_statement() -> None:
    blanked = CONVERTER.replace("Convert a string to a boolean value.", " " * 36)
    method = next(c for c in chunk_file("pkg/types.py", blanked) if c.kind == "method")
    text = header_text("pkg/types.py", method)
    assert text is not None and text.endswith("\nnorm value.strip().lower()")


@pytest.mark.parametrize(
    ("path", "source", "last_line"),
    [
        (
            "src/auth/handler.ts",
            "/**\n * Parses the config text.\n */\nexport function parseConfig(text: string): Config {\n"
            "  return JSON.parse(text);\n}\n",
            "parses the config text.",
        ),
        (
            "pkg/server.go",
            "package x\n\n// Serve runs the server.\nfunc (s *Server) Serve(addr string) error {\n\treturn nil\n}\n",
            "serve runs the server.",
        ),
        ("src/lib.rs", "#[inline]\npub fn area(w: u32, h: u32) -> u32 {\n    w * h\n}\n", "w h"),
        (
            "pkg/util.py",
            "# keep in sync with the CLI\n@cache\ndef load(path):\n    'Read the settings file.'\n"
            "    return path.read_text()\n",
            "read the settings file.",
        ),
        (
            "pkg/util.py",
            "# keep in sync with the CLI\n@cache\ndef load(path):\n    return path.read_text()\n",
            "keep in sync with the cli",
        ),
        (  # a typer command: its options' brackets close lines that are not the signature's end
            "pkg/cli.py",
            "@app.command()\ndef apply_cmd(\n    patch: Annotated[\n"
            '        str | None, typer.Argument(help="Patch file (or -).")\n    ] = None,\n'
            '    yes: Annotated[bool, typer.Option("--yes")] = False,\n) -> None:\n'
            '    """Apply a unified diff atomically."""\n    run(patch)\n',
            "apply a unified diff atomically.",
        ),
        (  # a FastAPI route whose parameters end in a call
            "pkg/routes.py",
            '@router.get("/v1/status")\nasync def status(\n'
            "    request: Request, root: str = Query(min_length=1), name: str | None = Query(None)\n"
            ') -> dict[str, Any]:\n    """The named profile, or the active one."""\n    return {}\n',
            "the named profile, or the active one.",
        ),
    ],
)
def test_a_header_says_what_the_definition_does(path: str, source: str, last_line: str) -> None:
    """A docstring first, else a doc comment above the definition, else its first statement."""
    chunk = next(c for c in chunk_file(path, source) if c.kind not in ("module", "text"))
    text = header_text(path, chunk)
    assert text is not None and text.rsplit("\n", 1)[-1] == last_line


def test_nameless_chunks_and_later_windows_get_no_header() -> None:
    module = next(c for c in chunk_file("pkg/config.py", "import os\nDEBUG = os.environ.get('DEBUG')\n"))
    assert module.kind == "module" and header_text("pkg/config.py", module) is None
    long_body = "def build():\n" + "".join(f"    step_{i}()\n" for i in range(450))
    windows = chunk_file("pkg/build.py", long_body)
    assert len(windows) == 3
    assert header_text("pkg/build.py", windows[0]) is not None
    assert [header_text("pkg/build.py", w) for w in windows[1:]] == [None, None]


def test_a_definition_vector_mixes_its_body_and_header_vectors(tmp_path: Path) -> None:
    import numpy as np

    embedder = LocalEmbedder(model_dir())
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "types.py").write_text(CONVERTER)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    conn = connect_sync(tmp_path / "db.sqlite")
    migrate(conn)
    index_root(conn, root, embedder=embedder)
    rows = conn.execute(
        "SELECT c.path, c.kind, c.symbols, c.text, v.embedding FROM search_chunks c "
        "JOIN search_vec_384 v ON v.chunk_id = c.id ORDER BY c.start_line"
    ).fetchall()
    chunks = chunk_file("types.py", CONVERTER)
    assert [r["kind"] for r in rows] == [c.kind for c in chunks] == ["class", "method"]
    # one batch as the indexer sends it (the quantised model's output depends a little on the batch)
    texts = [embed_text("types.py", c) for c in chunks] + [header_text("types.py", c) or "" for c in chunks]
    vectors = embedder.embed_documents(texts)
    for i, row in enumerate(rows):
        body, head = vectors[i], vectors[len(chunks) + i]
        want = (1 - HEADER_WEIGHT) * body + HEADER_WEIGHT * head
        got = np.frombuffer(row["embedding"], dtype=np.float32)
        assert np.allclose(got, want / np.linalg.norm(want), atol=1e-5)
        assert float(got @ body) < 0.99
    conn.close()


def test_as_words_splits_identifiers_and_drops_operator_noise() -> None:
    assert as_words("if self.maxLen >= len(x_val): return {}") == "if self.max len len(x val): return"
    assert as_words("a[i] += b * 2") == "a i b 2"
    assert as_words("HTTPServerError") == "http server error"


@pytest.mark.parametrize(
    ("path", "kind", "aside"),
    [
        ("src/attr/__init__.pyi", "function", True),
        ("typings/index.d.ts", "class", True),
        ("index.d.cts", "interface", True),
        ("src/lib/index.ts", "function", False),
        ("tests/test_make.py", "function", True),
        ("typing-examples/baseline.py", "class", True),
        ("benchmarks/bench_parse.py", "function", True),
        ("docs/api.md", "section", True),
        ("CHANGELOG.txt", "text", True),
        ("src/attr/_make.py", "function", False),
        ("src/contest/rules.py", "function", False),
    ],
)
def test_tests_prose_stubs_and_examples_are_set_aside(path: str, kind: str, aside: bool) -> None:
    assert is_aside(path, kind) is aside


def test_keyword_search_prefers_the_implementation_to_its_stub(conn: object, tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "attr").mkdir(parents=True)
    (root / "attr/__init__.pyi").write_text("def evolve(inst: _T, **changes: Any) -> _T: ...\n")
    (root / "attr/_funcs.py").write_text(
        "def evolve(inst, **changes):\n    cls = inst.__class__\n    return cls(**changes)\n"
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    index_root(conn, root, embedder=None)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, root)  # type: ignore[arg-type]
    hits = search(conn, root_id, SearchOptions("evolve", mode="keyword"), None).hits  # type: ignore[arg-type]
    assert [h.path for h in hits] == ["attr/_funcs.py", "attr/__init__.pyi"]


def test_an_index_of_an_older_document_format_is_re_embedded(conn: object, tmp_path: Path) -> None:
    embedder = LocalEmbedder(model_dir())
    assert DOC_FORMAT >= 2 and index_name(embedder) == f"{embedder.name}#doc{DOC_FORMAT}"
    root = tmp_path / "app"
    root.mkdir()
    (root / "retry.py").write_text("def backoff_delay(attempt):\n    return min(2 ** attempt, 60)\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    first = index_root(conn, root, embedder=embedder)  # type: ignore[arg-type]
    assert first.embedded == 1
    # as if built by a release whose embedded text was format 1 (the bare model name)
    conn.execute("UPDATE search_roots SET embedder = ?", (embedder.name,))  # type: ignore[attr-defined]
    root_id, _ = find_indexed_root(conn, root)  # type: ignore[arg-type]
    stale = search(conn, root_id, SearchOptions("wait between retries"), embedder)  # type: ignore[arg-type]
    assert stale.mode == "keyword" and "mcpgw search index" in (stale.notice or "")
    (root / "cart.py").write_text("def add_to_cart(cart, item):\n    cart.append(item)\n")
    # the watcher's one-file update re-embeds the whole root, so no file is left without a vector
    again = index_root(conn, root, embedder=embedder, only=["cart.py"])  # type: ignore[arg-type]
    assert (again.indexed, again.embedded) == (1, 2)
    fresh = search(conn, root_id, SearchOptions("wait between retries"), embedder)  # type: ignore[arg-type]
    assert fresh.mode == "hybrid" and fresh.hits[0].symbols == ["backoff_delay"]


def _joined(conn: object, root_id: int, terms: list[str], limit: int) -> dict[int, float]:
    rows = conn.execute(  # type: ignore[attr-defined]
        f"SELECT c.id, {_WEIGHTS} FROM search_fts JOIN search_chunks c ON c.id = search_fts.rowid"
        " WHERE search_fts MATCH ? AND c.root_id = ? ORDER BY 2 LIMIT ?",
        (fts_query(terms), root_id, limit),
    ).fetchall()
    return {int(r[0]): -float(r[1]) for r in rows}


def test_keyword_candidates_per_root_equal_the_joined_query(conn: object, tmp_path: Path) -> None:
    """The unjoined first pass over all roots gives each root exactly its own best matches, also when
    another root's matches crowd the first pass out (then the joined query answers)."""
    filler = " ".join(f"word{i}" for i in range(80))
    for name, body in (("strong", "token token token"), ("weak", f"token {filler}"), ("tiny", "token")):
        root = tmp_path / name
        root.mkdir()
        for i in range(5):
            (root / f"m{i}.py").write_text(f"def f{i}():\n    return '{body}'\n")
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        index_root(conn, root, embedder=None)  # type: ignore[arg-type]
    for name in ("strong", "weak", "tiny"):
        root_id, _ = find_indexed_root(conn, tmp_path / name)  # type: ignore[arg-type]
        for limit in (2, 5, 50):
            got = _keyword(conn, root_id, ["token"], [], None, limit)  # type: ignore[arg-type]
            want = _joined(conn, root_id, ["token"], limit)
            assert len(got) == len(want) == min(limit, 5)
            assert sorted(got.values()) == pytest.approx(sorted(want.values()))
            marks = ",".join(map(str, got))
            owners = conn.execute(f"SELECT DISTINCT root_id FROM search_chunks WHERE id IN ({marks})").fetchall()  # type: ignore[attr-defined]
            assert [r[0] for r in owners] == [root_id]


def test_keyword_candidates_come_from_the_rarest_terms_and_keep_their_exact_scores(
    conn: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a big index a few common words match most chunks and FTS5 scores each match: candidates are
    the matches of the rarest terms, plus the semantic candidates (``also``), each with its full BM25."""
    root = tmp_path / "app"
    root.mkdir()
    for i in range(40):  # 'value' in 20 files, 'error' in 30, 'zebra' in one
        words = ("value " if i % 2 == 0 else "") + ("error " if i % 4 else "") + ("zebra" if i == 7 else "")
        (root / f"m{i}.py").write_text(f"def f{i}():\n    return '{words} filler'\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    index_root(conn, root, embedder=None)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, root)  # type: ignore[arg-type]
    terms = query_terms("zebra error value")
    by_file = {
        r[1]: int(r[0])
        for r in conn.execute("SELECT id, path FROM search_chunks WHERE root_id = ?", (root_id,))  # type: ignore[attr-defined]
    }
    assert _rare(conn, terms, 40) == ["zebra"]  # type: ignore[arg-type]  # 1 match; 1 + 20 > 5 % of 40
    exact = _joined(conn, root_id, terms, 100)
    assert len(exact) == 40
    common_only = by_file["m1.py"]  # 'error' alone
    got = _keyword(conn, root_id, terms, [], None, 100, also=[common_only])  # type: ignore[arg-type]
    assert set(got) == {by_file["m7.py"], common_only}
    assert got == pytest.approx({c: exact[c] for c in got})  # scored by all three terms, not just 'zebra'
    assert got[by_file["m7.py"]] == max(exact.values())
    assert _keyword(conn, root_id, terms, [], None, 100) == pytest.approx(exact)  # keyword mode reads all
    monkeypatch.setattr("mcpgw.search.query.PRUNE_SHARE", None)
    assert _keyword(conn, root_id, terms, [], None, 100, also=[]) == pytest.approx(exact)
    monkeypatch.undo()
    assert _rare(conn, query_terms("zebra value"), 1000) is None  # a small index reads every match  # type: ignore[arg-type]


def test_fusion_has_one_weight_per_feature() -> None:
    assert len(Fusion().weights) == len(FEATURES) == len(set(FEATURES))


def _candidate(path: str, kind: str, symbols: str, start: int, end: int) -> dict[str, object]:
    return {"path": path, "kind": kind, "symbols": symbols, "start_line": start, "end_line": end, "language": "python"}


def test_features_describe_each_candidate() -> None:
    found = Candidates(
        mode="hybrid",
        terms=query_terms("convert the str to bool"),
        cosines={1: 0.8, 2: 0.6, 3: 0.4},
        bm25={1: 2.0, 3: 8.0},
        details={
            1: _candidate("src/pkg/types.py", "method", "str_to_bool BoolParamType.str_to_bool", 10, 19),
            2: _candidate("tests/test_types.py", "function", "test_bool", 1, 1),
            3: _candidate("src/pkg/types.py", "method", "_convert BoolParamType._convert", 30, 33),
        },
    )
    rows = {c: dict(zip(FEATURES, values, strict=True)) for c, values in features(found, Fusion(candidates=3)).items()}
    best, aside, other = rows[1], rows[2], rows[3]
    assert best["cosine_scaled"] == pytest.approx(1.0) and other["cosine_scaled"] == pytest.approx(0.0)
    assert aside["cosine_gap"] == pytest.approx(-0.2) and best["cosine_rank"] == 1.0
    assert other["bm25_scaled"] == 1.0 and best["bm25_scaled"] == 0.25 and aside["bm25_scaled"] == 0.0
    assert other["bm25_rank"] == 1.0 and best["bm25_rank"] == 0.5
    assert best["name_overlap"] == pytest.approx(2 / 3)  # "str" and "bool" of str_to_bool ("to" is a stop word)
    assert best["owner_overlap"] == pytest.approx(1 / 3)  # "bool" of BoolParamType
    assert best["file_overlap"] == 0.0 and aside["aside"] == 1.0 and best["aside"] == 0.0
    assert best["kind_method"] == 1.0 and aside["kind_function"] == 1.0 and best["kind_class"] == 0.0
    assert best["log_lines"] == pytest.approx(math.log(10)) and aside["log_lines"] == 0.0
    assert other["private"] == 1.0 and other["dunder"] == 0.0 and best["private"] == 0.0
    assert best["kind_prior"] == 0.0  # no prior: no information

    found.kind_prior = {"class": -1.5, "function": 0.25, "method": 0.5}
    rows = {c: dict(zip(FEATURES, values, strict=True)) for c, values in features(found, Fusion(candidates=3)).items()}
    assert rows[1]["kind_prior"] == 0.5 and rows[2]["kind_prior"] == 0.25


@pytest.mark.parametrize(
    ("query", "symbols", "overlap"),
    [
        ("convert the str to bool", "str_to_bool", 2 / 3),  # "to" is a stop word
        ("convert a string to a boolean", "str_to_bool", 2 / 3),  # the words the abbreviations stand for
        ("Return the values of the mapping.", "get_value", 1 / 2),  # plural and singular meet
        ("parsing the arguments", "parse_args", 1.0),
        ("the formatted message", "format_msg", 1.0),
        ("validator that the number is greater than or equal to a bound", "ge", 1.0),
        ("validator that the number is greater than a bound", "ge", 0.0),  # ge needs both words
        ("validator that the number is greater than a bound", "gt", 1.0),
        ("a string of text", "strip_text", 1 / 2),  # a stem match, not a prefix: strip is not "string"
    ],
)
def test_a_query_spells_out_a_name_in_stems_and_full_words(query: str, symbols: str, overlap: float) -> None:
    assert _name_overlap(symbols, query_stems(query_terms(query))) == pytest.approx(overlap)


def test_stems_and_abbreviations() -> None:
    assert stem("values") == stem("value") and stem("parsing") == stem("parse") and stem("classes") == "class"
    assert word_forms("str") == (("str",), ("string",)) and word_forms("name") == (("name",),)
    assert word_forms("ge") == (("ge",), ("greater", "equal"))
    # what hybrid also looks up: the abbreviations of words spelled out in full, once, not those already asked
    assert abbreviations_for(query_terms("convert a string to a boolean string")) == ["str", "bool"]
    assert abbreviations_for(query_terms("string or str")) == []
    assert abbreviations_for(query_terms("the functions of the context")) == ["fn", "func", "ctx"]
    assert abbreviations_for(query_terms("less or equal")) == ["lt", "eq"]  # not "le": it stands for two words


def test_hybrid_finds_code_that_abbreviates_the_querys_words(conn: object, tmp_path: Path) -> None:
    """The keyword side of hybrid looks up "str" and "bool" for "string" and "boolean"; keyword mode does not."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "conv.py").write_text("def str_to_bool(s):\n    return s.lower() in ('1', 'yes')\n")
    (root / "other.py").write_text("def unrelated():\n    return 42\n")
    embedder = LocalEmbedder(model_dir())
    index_root(conn, root, embedder=embedder)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, root)  # type: ignore[arg-type]
    hybrid = collect(conn, root_id, SearchOptions("string to boolean"), embedder)  # type: ignore[arg-type]
    keyword = collect(conn, root_id, SearchOptions("string to boolean", mode="keyword"), embedder)  # type: ignore[arg-type]
    assert [hybrid.details[c]["path"] for c in hybrid.bm25] == ["conv.py"] and keyword.bm25 == {}


def test_the_bundled_models_kind_prior_reads_noun_and_verb_phrases() -> None:
    """Docstrings name a class with a noun phrase and a function or method with a verb: the shipped prior
    (scripts/fit_query_kind.py) has learnt that from the query vector alone."""
    embedder = LocalEmbedder(model_dir())
    prior = embedder.kind_prior
    assert prior is not None and prior.kinds == QUERY_KINDS
    for query in (
        "A validator that raises ValueError if the value is too short.",
        "Raised when a signature does not match.",
    ):
        shift = prior(embedder.embed_query(query)[0])
        assert shift["class"] > 0.5 and shift["class"] > max(shift["function"], shift["method"]), (query, shift)
    for query in ("Return the number of items in the queue.", "Registers another command with this group."):
        shift = prior(embedder.embed_query(query)[0])
        assert shift["class"] < -0.5 and shift["class"] < min(shift["function"], shift["method"]), (query, shift)
    posterior = [math.exp(v + float(log_p)) for v, log_p in zip(shift.values(), prior.log_prior, strict=True)]
    assert sum(posterior) == pytest.approx(1.0, abs=1e-4)  # shifts are log P(kind | q) - log P(kind)


def test_a_missing_broken_or_mismatched_kind_prior_is_no_prior(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert KindPrior.load(tmp_path, 384) is None
    (tmp_path / "query-kind.json").write_text("{not json")
    assert KindPrior.load(tmp_path, 384) is None and "ignoring" in caplog.text
    good = {
        "kinds": ["class", "function"],
        "prior": [0.5, 0.5],
        "bias": [0.0, 0.0],
        "weights": [[1.0, 0.0], [0.0, 1.0]],
    }
    (tmp_path / "query-kind.json").write_text(json.dumps({**good, "bias": [0.0]}))
    assert KindPrior.load(tmp_path, 2) is None  # sizes disagree
    (tmp_path / "query-kind.json").write_text(json.dumps(good))
    assert KindPrior.load(tmp_path, 384) is None  # fitted for another model's dimension
    prior = KindPrior.load(tmp_path, 2)
    assert prior is not None
    shift = prior([3.0, 0.0])
    assert shift["class"] > 0 > shift["function"]


def test_hybrid_scores_are_probabilities_in_rank_order(conn: object, tmp_path: Path) -> None:
    """The fused score is each candidate's chance of being the answer (a softmax over the candidates and
    "none of them"): in (0, 1), falling with rank, summing to less than 1, and what ``--threshold``
    compares against."""
    embedder = LocalEmbedder(model_dir())
    root = tmp_path / "app"
    root.mkdir()
    (root / "convert.py").write_text(
        "def str_to_bool(value):\n    return value.lower() in ('1', 'true', 'yes', 'on')\n\n"
        "def str_to_int(value):\n    return int(value.strip())\n\n"
        "def bool_to_str(flag):\n    return 'true' if flag else 'false'\n"
    )
    (root / "tests").mkdir()
    (root / "tests/test_convert.py").write_text("def test_str_to_bool():\n    assert str_to_bool('yes')\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    index_root(conn, root, embedder=embedder)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, root)  # type: ignore[arg-type]
    hits = search(conn, root_id, SearchOptions("Convert a string to a boolean value."), embedder).hits  # type: ignore[arg-type]
    assert hits[0].symbols == ["str_to_bool"]
    scores = [h.score for h in hits]
    assert all(0.0 < s < 1.0 for s in scores) and scores == sorted(scores, reverse=True)
    assert sum(scores) < 1.0 and scores[0] > 0.5  # one clear answer among three similar functions
    cut = (scores[0] + scores[-1]) / 2
    result = search(conn, root_id, SearchOptions("Convert a string to a boolean value.", threshold=cut), embedder)  # type: ignore[arg-type]
    kept = result.hits
    assert kept and len(kept) < len(hits) and all(h.score >= cut for h in kept)
    assert result.below_threshold >= len(hits) - len(kept) and result.best_below is not None
    assert result.best_below < cut and result.best_below == max(h.score for h in hits if h.score < cut)


def test_chances_are_a_softmax_with_a_no_answer_option() -> None:
    fusion = Fusion(no_answer=0.0)
    got = chances({1: 0.0, 2: 0.0}, fusion)  # two equal candidates and "none": a third each
    assert got == pytest.approx({1: 1 / 3, 2: 1 / 3})
    sure = chances({1: 10.0, 2: 0.0}, fusion)
    assert sure[1] > 0.99 and sure[2] < 0.01
    unsure = chances({1: 10.0, 2: 0.0}, Fusion(no_answer=10.0))  # as likely that nothing answers
    assert unsure[1] == pytest.approx(0.5, abs=1e-3)
    assert chances({1: 800.0, 2: -800.0}, fusion) == pytest.approx({1: 1.0, 2: 0.0})  # no overflow
    assert chances({}, fusion) == {}


def test_a_retrained_model_gets_a_new_name(tmp_path: Path) -> None:
    """The name stored with an index carries the model's version, so replacing the bundled model in place
    (a re-training) re-embeds indexes built with the old one instead of mixing vectors."""
    import json
    import shutil

    from mcpgw.search.embedder import BUNDLED_MODEL

    bundled = LocalEmbedder(BUNDLED_MODEL)
    version = json.loads((BUNDLED_MODEL / "mcpgw-model.json").read_text())["version"]
    assert bundled.name == f"local:mcpgw-code-minilm-l6@{version}"
    copy = tmp_path / "mcpgw-code-minilm-l6"
    shutil.copytree(BUNDLED_MODEL, copy)
    meta = json.loads((copy / "mcpgw-model.json").read_text())
    (copy / "mcpgw-model.json").write_text(json.dumps({**meta, "version": version + 1}))
    assert index_name(LocalEmbedder(copy)) != index_name(bundled)
    (copy / "mcpgw-model.json").unlink()  # a plain ONNX export without our metadata: the directory name
    assert LocalEmbedder(copy).name == "local:mcpgw-code-minilm-l6"


def test_search_max_tokens_trades_the_tail_of_long_chunks_for_speed(tmp_path: Path) -> None:
    """``search.max_tokens`` reaches the local model; a limit other than the default names the embedder
    differently, so an index built with the other limit is rebuilt rather than mixed."""
    from mcpgw.config import load_settings
    from mcpgw.errors import ConfigError
    from mcpgw.search.embedder import DEFAULT_MAX_TOKENS, clear_cache, load_embedder

    assert load_settings(tmp_path / "none.toml", environ={}).search.max_tokens == DEFAULT_MAX_TOKENS == 256
    settings = load_settings(tmp_path / "none.toml", environ={"MCPGW_SEARCH__MAX_TOKENS": "128"})
    assert settings.search.max_tokens == 128
    with pytest.raises(ConfigError):
        load_settings(tmp_path / "none.toml", environ={"MCPGW_SEARCH__MAX_TOKENS": "8"})

    clear_cache()
    try:
        default, _ = load_embedder("local")
        short_limit, _ = load_embedder("local", max_tokens=128)
    finally:
        clear_cache()
    assert isinstance(default, LocalEmbedder) and isinstance(short_limit, LocalEmbedder)
    assert short_limit.max_tokens == 128 and short_limit.name == f"{default.name}/t128"
    short = "def add(a, b):\n    return a + b\n"
    long = short + "".join(f"    total_{i} = compute_value_{i}(a, b) * factor_{i}\n" for i in range(60))
    # one text per call: int8 dynamic quantisation scales by the whole batch, so batch-mates move a vector
    same = float(default.embed_documents([short])[0] @ short_limit.embed_documents([short])[0])
    cut = float(default.embed_documents([long])[0] @ short_limit.embed_documents([long])[0])
    assert same == pytest.approx(1.0, abs=1e-5) and cut < 0.999  # a long chunk's tail is not read


def test_a_type_that_no_indexed_file_has_is_an_error_naming_the_types_there(conn: object, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.py").write_text("def main():\n    return 1\n")
    (root / "README.md").write_text("# App\n\nRuns main.\n")
    (root / "settings.toml").write_text("name = 'app'\n")
    index_root(conn, root, embedder=None)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, root)  # type: ignore[arg-type]
    with pytest.raises(UsageError) as caught:
        search(conn, root_id, SearchOptions("main", types=["cobol"]), None)  # type: ignore[arg-type]
    assert "'cobol'" in caught.value.message and caught.value.fix == "types in this index: md, py, toml"
    # one known type among unknown ones is a filter, not a mistake; a bare suffix is a type too
    assert search(conn, root_id, SearchOptions("main", types=["cobol", "py"]), None).hits  # type: ignore[arg-type]
    assert search(conn, root_id, SearchOptions("name", types=["toml"]), None).hits  # type: ignore[arg-type]
