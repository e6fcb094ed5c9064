"""The agent's pieces without a daemon: triage analysis on real runner output, code metrics, related-file
discovery, diffs that round-trip through mcpgw.patch, the one-entry workspace journal, the test runner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mcpgw.agent.edits import Changeset, Workspace, answer_code, file_diff, read_text, rel_path
from mcpgw.agent.metrics import measure
from mcpgw.agent.modes.fix import FixOptions, target_for
from mcpgw.agent.modes.spec_first import SpecOptions, module_name, spec_paths
from mcpgw.agent.related import imported_files, is_test_file, trace_files
from mcpgw.agent.runner import UnsafeArgument, build_command, detect_runner, run_tests_sync
from mcpgw.agent.triage import FailureAnalysis, triage
from mcpgw.errors import PatchError, UsageError
from mcpgw.patch import MemoryJournal, undo

FIXTURES = Path(__file__).parent / "fixtures" / "triage"


@pytest.mark.parametrize(
    ("framework", "causes"),
    [
        ("pytest", ["different value", "missing key", "could not run"]),
        ("vitest", ["different value", "timeout"]),
        ("jest", ["different value", "null/undefined"]),
        ("playwright", ["different value", "timeout"]),
    ],
)
def test_triage_result_has_a_summary_and_root_causes(framework: str, causes: list[str]) -> None:
    result = triage((FIXTURES / f"{framework}.out").read_text())
    assert result.framework == framework
    assert result.summary.total_failed == len(causes) and len(result.summary.affected_files) == 1
    assert sum(result.summary.failure_types.values()) == len(causes)
    for failure, cause in zip(result.failures, causes, strict=True):
        assert failure.root_cause is not None and cause in failure.root_cause
    data = result.to_json()
    assert data["failures"][0]["stack_trace"] and data["summary"]["failure_types"]


def test_triage_refuses_unknown_output_and_honours_the_runner() -> None:
    with pytest.raises(UsageError, match="does not look like"):
        triage("hello\n")
    assert triage((FIXTURES / "jest.out").read_text(), "jest").framework == "jest"


def test_metrics_complexity_long_functions_and_duplicates() -> None:
    body = "".join(f"    v{i} = x + {i}\n" for i in range(7))
    branches = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(12))
    text = (
        f"def a(x):\n{body}    return v0\n\n\ndef b(x):\n{body}    return v1\n\n\ndef c(x):\n{branches}    return -1\n"
    )
    m = measure("m.py", text)
    assert [f.name for f in m.worst(10)] == ["c"] and m.max_complexity == 13
    (dup,) = m.duplicates
    assert dup.size == 7 and dup.lines == [2, 13]
    assert m.duplicated_lines == 7 and m.to_json()["max_complexity"] == 13
    assert measure("m.py", "x = 1\n" * 30).duplicates == []  # a repeated line is not a copied block
    with pytest.raises(UsageError, match="cannot measure"):
        measure("notes.txt", "hello")


def test_related_files_from_traces_and_imports(tmp_path: Path) -> None:
    for rel in ("src/app/core.py", "src/app/__init__.py", "helpers.py", "tests/test_core.py", "web/sum.ts"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    (tmp_path / "web" / "sum.test.ts").write_text("import { sum } from './sum.js'\nimport x from 'vitest'\n")
    trace = "tests/test_core.py:4: in test_x\n    run()\nsrc/app/core.py:9: in run\n/usr/lib/python3/os.py:1: in y"
    assert trace_files(tmp_path, trace) == ["tests/test_core.py", "src/app/core.py"]
    test_text = "from app.core import run\nimport helpers\nimport os\n"
    assert imported_files(tmp_path, "tests/test_core.py", test_text) == ["src/app/core.py", "helpers.py"]
    assert imported_files(tmp_path, "web/sum.test.ts", (tmp_path / "web/sum.test.ts").read_text()) == ["web/sum.ts"]
    assert is_test_file("tests/test_core.py") and is_test_file("web/sum.test.ts") and not is_test_file("helpers.py")
    failure = FailureAnalysis("t", "tests/test_core.py", 4, "exception", "boom", trace, None)
    target, context = target_for(tmp_path, failure)
    assert target == "src/app/core.py" and context[0] == "tests/test_core.py"


def test_diffs_round_trip_through_the_patch_module(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\ny = 2")  # no final newline
    change = Changeset(tmp_path)
    change.set("a.py", "x = 1\ny = 2", "x = 1\ny = 3")
    change.set("new/b.py", None, "print('b')\n")
    assert change.changed == ["a.py", "new/b.py"]
    journal = MemoryJournal()
    change.apply(journal, "test")
    assert (tmp_path / "a.py").read_text() == "x = 1\ny = 3" and (tmp_path / "new/b.py").read_text() == "print('b')\n"
    undo(journal, tmp_path)
    assert (tmp_path / "a.py").read_text() == "x = 1\ny = 2" and not (tmp_path / "new/b.py").exists()
    (tmp_path / "a.py").write_text("edited meanwhile\n")
    with pytest.raises(PatchError, match="no longer applies"):
        change.apply(journal, "test")
    assert (tmp_path / "a.py").read_text() == "edited meanwhile\n" and not (tmp_path / "new/b.py").exists()
    assert file_diff("a.py", "same\n", "same\n") == ""


def test_answer_code_and_reading_files(tmp_path: Path) -> None:
    assert answer_code({"result": "Here:\n```python\nx = 1\n```\nDone."}, "x = 0\n") == "x = 1\n"
    with pytest.raises(UsageError, match="no code"):
        answer_code({"result": "```\n```"})
    (tmp_path / "bin.dat").write_bytes(b"\0\1")
    with pytest.raises(UsageError, match="binary"):
        read_text(tmp_path, "bin.dat")
    with pytest.raises(UsageError, match="outside the project"):
        rel_path(tmp_path, tmp_path / ".." / "x.py")


def test_workspace_keeps_one_journal_entry_for_every_rewrite(tmp_path: Path) -> None:
    (tmp_path / "keep.py").write_text("old\n")
    journal = MemoryJournal()
    ws = Workspace(tmp_path, journal, "spec")
    ws.write({"test_x.py": "t1\n"})
    ws.write({"x.py": "i1\n"})
    last = ws.write({"x.py": "i2\n", "keep.py": "new\n"})
    assert last is not None and (tmp_path / "x.py").read_text() == "i2\n"
    assert [e.undone for e in journal.entries] == [True, True, False]  # only the latest entry is live
    undo(journal, tmp_path, last.id)
    assert not (tmp_path / "x.py").exists() and not (tmp_path / "test_x.py").exists()
    assert (tmp_path / "keep.py").read_text() == "old\n"


def test_spec_paths_and_names(tmp_path: Path) -> None:
    assert module_name("Add user authentication with JWT") == "user_authentication_jwt"
    assert module_name("!!!") == "feature"
    opts = SpecOptions(tmp_path, "slugify", out_dir="lib", name="slug")
    (tmp_path / "lib").mkdir()
    assert spec_paths(opts).test == "lib/test_slug.py" and spec_paths(opts).import_hint == "from slug import ..."
    (tmp_path / "lib" / "__init__.py").write_text("")
    assert spec_paths(opts).import_hint == "from lib.slug import ..."
    js = spec_paths(SpecOptions(tmp_path, "x", framework="vitest", name="sum"))
    assert (js.test, js.impl) == ("sum.test.js", "sum.js")
    with pytest.raises(UsageError, match="module name"):
        spec_paths(SpecOptions(tmp_path, "x", name="no-dash"))


def test_runner_checks_arguments_and_runs_pytest(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_t.py").write_text(
        "def test_ok():\n    assert True\n\n\ndef test_no():\n    assert 1 == 2\n"
    )
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    assert detect_runner(str(tmp_path)) == "pytest"
    for bad in ("tests;rm", "--rootdir=/", "../x"):
        with pytest.raises(UnsafeArgument):
            build_command(str(tmp_path), "pytest", [bad])
    run = run_tests_sync(str(tmp_path), "pytest", ["tests/test_t.py"])
    assert run.exit_code == 1 and not run.green and run.report.passed == 1
    assert [f.test_name for f in run.report.failures] == ["tests/test_t.py::test_no"]
    assert run.summary() == "pytest: 1 passed, 1 failed (exit 1)"
    empty = run_tests_sync(str(tmp_path), "pytest", ["tests/test_t.py"], keyword="nothing_matches")
    assert empty.collected_nothing
    assert FixOptions(tmp_path).max_files == 5
