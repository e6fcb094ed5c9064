"""The search benchmark's docstring blanking: what it indexes must not give the answers away."""

from __future__ import annotations

import ast
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import bench_search  # noqa: E402

SOURCE = '''"""Helpers for tokens."""


def sign(value, key):
    """Sign a value with the secret key and return it.

    Longer text that is not part of the query.
    """
    return value + key


class Signer:
    """Make and check signatures for values."""

    def verify(self, value):
        """Check that the signature of a value is valid."""


def plain(x):
    return x
'''


@pytest.fixture
def blanked(tmp_path: Path):
    src = tmp_path / "src" / "pkg"
    src.mkdir(parents=True)
    (src / "tokens.py").write_text(SOURCE)

    def run(markers: bool) -> tuple[str, list[bench_search.Case]]:
        dst = tmp_path / ("markers" if markers else "spaces")
        cases = bench_search.blank_docstrings(src.parent, dst, random.Random(1), 100, markers)
        return (dst / "pkg" / "tokens.py").read_text(), cases

    return run


def test_docstrings_become_spaces_with_line_numbers_kept(blanked) -> None:
    text, cases = blanked(markers=False)
    ast.parse(text)  # still valid Python
    assert len(text.splitlines()) == len(SOURCE.splitlines())
    assert '"' not in text and "Sign a value" not in text and "Longer text" not in text
    lines = text.splitlines()
    assert lines[8].strip() == "return value + key"  # same line as in the source
    assert lines[15].strip() == "pass"  # verify() held only its docstring
    assert lines[5].strip() == "" and lines[6].strip() == ""  # the docstring's other lines are blank
    by_query = {c.query: c for c in cases}
    assert by_query["Sign a value with the secret key and return it."].line == 4
    assert by_query["Check that the signature of a value is valid."].line == 15
    assert by_query["Make and check signatures for values."].line == 12
    assert len(cases) == 3  # the module docstring is blanked but asks nothing


def test_markers_leave_empty_strings(blanked) -> None:
    text, _ = blanked(markers=True)
    ast.parse(text)
    assert text.count('""') == 4
    assert len(text.splitlines()) == len(SOURCE.splitlines())


def test_keep_leaves_the_code_as_it_is_and_asks_the_same_queries(tmp_path: Path, blanked) -> None:
    _, blanked_cases = blanked(markers=False)
    src = tmp_path / "src"
    kept = bench_search.blank_docstrings(src, tmp_path / "kept", random.Random(1), 100, keep=True)
    assert (tmp_path / "kept" / "pkg" / "tokens.py").read_text() == SOURCE
    assert sorted(kept, key=lambda c: c.query) == sorted(blanked_cases, key=lambda c: c.query)
