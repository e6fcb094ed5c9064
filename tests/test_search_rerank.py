"""The cross-encoder reranker: what it reads of a chunk, that the bundled model tells a right answer from
its neighbours, how hybrid search mixes its logit in, and that it can be switched off or be missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mcpgw.search import find_indexed_root, index_root, search
from mcpgw.search.embedder import LocalEmbedder
from mcpgw.search.query import Fusion, SearchOptions
from mcpgw.search.rerank import BUNDLED_RERANKER, Reranker, load_reranker, rerank_text
from tests.test_search_index import model_dir

CONVERT = (
    "def str_to_bool(value):\n    norm = value.strip().lower()\n    return norm in ('1', 'true', 'yes', 'on')\n\n"
    "def str_to_int(value):\n    return int(value.strip())\n\n"
    "def bool_to_str(flag):\n    return 'true' if flag else 'false'\n\n"
    "def parse_date(text):\n    year, month, day = text.split('-')\n    return date(int(year), int(month), int(day))\n"
)


@pytest.fixture(scope="module")
def reranker() -> Reranker:
    return Reranker(BUNDLED_RERANKER)


def test_the_reranker_reads_path_name_and_code_as_words() -> None:
    text = rerank_text("src/click/types.py", "BoolParamType BoolParamType.str_to_bool", "def str_to_bool(value):")
    assert text == "src/click/types.py · bool param type str to bool\ndef str to bool(value):"
    assert rerank_text("README.md", "", "Usage").startswith("README.md · \n")


RETRY = {
    "backoff_delay": (
        "    def backoff_delay(self, attempt: int) -> float:\n        if attempt <= 0:\n            return 0.0\n"
        "        delay = self.base_delay * (2 ** (attempt - 1))\n        if self.jitter:\n"
        "            delay = random.uniform(0, delay)\n        return min(delay, self.max_delay)\n"
    ),
    "should_retry": (
        "    def should_retry(self, response: Response, attempt: int) -> bool:\n"
        "        if attempt >= self.max_attempts:\n            return False\n"
        "        if response.status_code in self.retry_statuses:\n            return True\n"
        '        return response.headers.get("Retry-After") is not None\n'
    ),
    "parse_retry_after": (
        "    def parse_retry_after(self, value: str) -> float | None:\n        try:\n"
        "            return max(0.0, float(value))\n        except ValueError:\n            pass\n"
        "        when = email.utils.parsedate_to_datetime(value)\n"
        "        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())\n"
    ),
    "sleep": "    def sleep(self, seconds: float) -> None:\n        if seconds > 0:\n            time.sleep(seconds)\n",
}


def test_the_bundled_reranker_prefers_the_definition_a_sentence_describes(reranker: Reranker) -> None:
    """Undocumented methods of one class, told apart by what their code does."""
    docs = {name: rerank_text("src/httpkit/retry.py", f"Retry.{name}", code) for name, code in RETRY.items()}
    for query, answer in [
        (
            "Compute how long to wait before the next attempt, with exponential growth and optional jitter.",
            "backoff_delay",
        ),
        ("Decide whether a failed response should be retried.", "should_retry"),
        ("Parse the value of a Retry-After header into seconds.", "parse_retry_after"),
        ("Block for the given number of seconds.", "sleep"),
    ]:
        scores = dict(zip(docs, reranker.score(query, list(docs.values())), strict=True))
        assert max(scores, key=lambda name: scores[name]) == answer, (query, scores)
    assert reranker.score("anything", []) == []


def test_blanked_docstrings_are_not_shown_to_the_reranker() -> None:
    """Trained on code with blanked docstrings, a model that saw ``""`` would learn "documented" instead
    of reading the code: empty literals are dropped, real strings kept."""
    text = rerank_text("a.py", "f", 'def f(x):\n    ""        \n    return x or "none"\n')
    assert '""' not in text and '"none"' in text


def test_hybrid_search_reranks_its_best_candidates(conn: object, tmp_path: Path, reranker: Reranker) -> None:
    embedder = LocalEmbedder(model_dir())
    root = tmp_path / "app"
    root.mkdir()
    (root / "convert.py").write_text(CONVERT)
    (root / "tests").mkdir()
    (root / "tests/test_convert.py").write_text("def test_str_to_bool():\n    assert str_to_bool('yes')\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    index_root(conn, root, embedder=embedder)  # type: ignore[arg-type]
    root_id, _ = find_indexed_root(conn, root)  # type: ignore[arg-type]
    opts = SearchOptions("Convert a string to a boolean value.")
    plain = search(conn, root_id, opts, embedder).hits  # type: ignore[arg-type]
    reranked = search(conn, root_id, opts, embedder, reranker=reranker).hits  # type: ignore[arg-type]
    assert reranked[0].symbols == ["str_to_bool"] and reranked[0].text.startswith("def str_to_bool")
    assert {h.symbols[0] for h in reranked} == {h.symbols[0] for h in plain}
    scores = [h.score for h in reranked]
    assert all(0.0 < s < 1.0 for s in scores) and scores == sorted(scores, reverse=True)
    # the reranker changes the logits of the reranked hits only (the softmax then renormalises all); depth 2:
    # the rest is capped below them
    shallow = Fusion(rerank_depth=2, rerank_weight=1.0)
    two = search(conn, root_id, opts, embedder, reranker=reranker, fusion=shallow).hits  # type: ignore[arg-type]
    assert all(h.score <= min(two[0].score, two[1].score) for h in two[2:])
    assert [h.score for h in plain] != [h.score for h in two]
    # keyword and semantic modes never rerank
    semantic = SearchOptions(opts.query, mode="semantic")
    assert [h.score for h in search(conn, root_id, semantic, embedder, reranker=reranker).hits] == [  # type: ignore[arg-type]
        h.score
        for h in search(conn, root_id, semantic, embedder).hits  # type: ignore[arg-type]
    ]


def test_load_reranker_off_or_missing(tmp_path: Path) -> None:
    assert load_reranker(False) == (None, None)
    missing, notice = load_reranker(True, str(tmp_path / "nowhere"))
    assert missing is None and notice is not None and "ranked without it" in notice
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken/model.onnx").write_bytes(b"not a model")
    (tmp_path / "broken/tokenizer.json").write_text("{}")
    broken, why = load_reranker(True, str(tmp_path / "broken"))
    assert broken is None and why is not None and "cannot load the reranker" in why
    loaded, none = load_reranker(True)
    assert isinstance(loaded, Reranker) and none is None
