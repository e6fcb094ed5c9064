"""The patch core against real git repositories: diffs made by `git diff`, applied, checked, undone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mcpgw.errors import NotFound, PatchError
from mcpgw.patch import MemoryJournal, apply_plan, check_undo, parse_patch, plan_apply, undo
from mcpgw.patch.apply import FileWrite, write_files


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "T")
    git(root, "config", "core.autocrlf", "false")
    return root


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if ".git" in p.relative_to(root).parts or not p.is_file():
            continue
        out[str(p.relative_to(root))] = (p.read_bytes(), p.stat().st_mode & 0o777)
    return out


def make_patch(
    root: Path, before: dict[str, bytes], change: object
) -> tuple[str, dict[str, tuple[bytes, int]]]:
    """Commit ``before``, run ``change(root)``, return (`git diff` of it, the changed tree), then restore."""
    for name, data in before.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    change(root)  # type: ignore[operator]
    git(root, "add", "-A")
    diff = subprocess.run(["git", "diff", "--cached", "-M"], cwd=root, check=True, capture_output=True).stdout
    after = snapshot(root)
    git(root, "reset", "-q", "--hard")
    git(root, "clean", "-qfd")
    return diff.decode("utf-8", "surrogateescape"), after


BASE = {
    "src/app.py": b"".join(f"line {i}\n".encode() for i in range(1, 41)),
    "crlf.txt": b"one\r\ntwo\r\nthree\r\n",
    "nonl.txt": b"x\ny\nz",
    "gone.txt": b"delete me\n",
    "old_name.txt": b"keep\nthis\n",
}


def big_change(root: Path) -> None:
    app = root / "src/app.py"
    lines = app.read_text().splitlines(keepends=True)
    lines[4] = "line 5 changed\n"
    lines.insert(30, "inserted\n")
    app.write_text("".join(lines))
    (root / "crlf.txt").write_bytes(b"one\r\nTWO\r\nthree\r\nfour\r\n")
    (root / "nonl.txt").write_bytes(b"x\nY\nz")
    (root / "gone.txt").unlink()
    subprocess.run(["git", "mv", "old_name.txt", "new_name.txt"], cwd=root, check=True)
    (root / "new_name.txt").write_bytes(b"keep\nthis\nand this\n")
    (root / "added.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(root / "added.sh", 0o755)


def test_git_diff_applies_and_undo_restores_byte_for_byte(repo: Path) -> None:
    diff, expected = make_patch(repo, BASE, big_change)
    original = snapshot(repo)
    plan = plan_apply(diff, repo)
    assert plan.ok, [(c.path, c.error, [r.describe() for r in c.results]) for c in plan.failed]
    journal = MemoryJournal()
    entry = apply_plan(plan, journal, source="test")
    assert snapshot(repo) == expected
    assert (repo / "crlf.txt").read_bytes() == b"one\r\nTWO\r\nthree\r\nfour\r\n"
    assert (repo / "nonl.txt").read_bytes() == b"x\nY\nz"
    assert (repo / "added.sh").stat().st_mode & 0o777 == 0o755
    assert check_undo(entry) == []
    undone = undo(journal, repo)
    assert undone.id == entry.id
    assert snapshot(repo) == original
    assert not list(repo.rglob("*.mcpgw-tmp"))
    with pytest.raises(NotFound):
        undo(journal, repo)


def test_shifted_lines_apply_with_reported_offset(repo: Path) -> None:
    diff, _ = make_patch(
        repo,
        {"f.txt": BASE["src/app.py"]},
        lambda r: (r / "f.txt").write_text((r / "f.txt").read_text().replace("line 20\n", "line twenty\n")),
    )
    (repo / "f.txt").write_bytes(b"new 1\nnew 2\nnew 3\n" + BASE["src/app.py"])
    plan = plan_apply(diff, repo)
    assert plan.ok
    [result] = plan.changes[0].results
    assert result.offset == 3
    assert result.describe() == "Hunk #1 succeeded at 20 (offset 3 lines)"
    apply_plan(plan, MemoryJournal())
    assert b"line twenty\n" in (repo / "f.txt").read_bytes()
    assert (repo / "f.txt").read_bytes().startswith(b"new 1\n")


def test_context_mismatch_writes_nothing_and_names_the_lines(repo: Path) -> None:
    def change(r: Path) -> None:
        (r / "a.txt").write_text("a1\nA2\na3\n")
        (r / "b.txt").write_text("b1\nB2\nb3\n")

    diff, _ = make_patch(repo, {"a.txt": b"a1\na2\na3\n", "b.txt": b"b1\nb2\nb3\n"}, change)
    (repo / "b.txt").write_text("b1\nb2\nsomething else\n")
    before = snapshot(repo)
    plan = plan_apply(diff, repo)
    assert not plan.ok
    assert [c.path for c in plan.failed] == ["b.txt"]
    [failed] = plan.failed[0].results
    assert failed.status == "failed"
    assert [(m.line, m.expected, m.actual) for m in failed.mismatches] == [(3, "b3", "something else")]
    with pytest.raises(PatchError, match=r"b\.txt"):
        apply_plan(plan, MemoryJournal())
    assert snapshot(repo) == before


def test_lf_patch_on_crlf_file_keeps_crlf(repo: Path) -> None:
    (repo / "w.txt").write_bytes(b"alpha\r\nbeta\r\ngamma\r\n")
    patch = "--- a/w.txt\n+++ b/w.txt\n@@ -1,3 +1,4 @@\n alpha\n-beta\n+BETA\n+delta\n gamma\n"
    apply_plan(plan_apply(patch, repo), MemoryJournal())
    assert (repo / "w.txt").read_bytes() == b"alpha\r\nBETA\r\ndelta\r\ngamma\r\n"


def test_reverse_undoes_an_applied_diff_and_already_applied_is_recognised(repo: Path) -> None:
    diff, _ = make_patch(repo, {"r.txt": b"1\n2\n3\n"}, lambda r: (r / "r.txt").write_text("1\ntwo\n3\n"))
    apply_plan(plan_apply(diff, repo), MemoryJournal())
    again = plan_apply(diff, repo)
    assert not again.ok
    assert "already applied" in again.changes[0].results[0].note
    apply_plan(plan_apply(diff, repo, reverse=True), MemoryJournal())
    assert (repo / "r.txt").read_bytes() == b"1\n2\n3\n"


def test_undo_refuses_when_a_file_changed_since(repo: Path) -> None:
    diff, _ = make_patch(repo, {"u.txt": b"a\n"}, lambda r: (r / "u.txt").write_text("b\n"))
    journal = MemoryJournal()
    apply_plan(plan_apply(diff, repo), journal)
    (repo / "u.txt").write_text("edited later\n")
    with pytest.raises(PatchError, match=r"u\.txt changed since the apply") as info:
        undo(journal, repo)
    assert info.value.fix
    assert (repo / "u.txt").read_text() == "edited later\n"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n", r"hunk at line 3 ends early"),
        ("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\ngarbage\n+c\n", r"line 6 is not a hunk line"),
        ("--- a/x\n+++ b/x\n@@ -1,x +1,2 @@\n a\n", r"malformed hunk header at line 3"),
        ("just some words\n", r"no file changes found in the patch \(line 1"),
        ("", r"the input is empty"),
    ],
)
def test_malformed_patch_errors_name_the_line(text: str, pattern: str) -> None:
    with pytest.raises(PatchError, match=pattern):
        parse_patch(text)


def test_binary_patch_is_refused(repo: Path) -> None:
    diff, _ = make_patch(repo, {"b.bin": b"\x00\x01"}, lambda r: (r / "b.bin").write_bytes(b"\x00\x02"))
    plan = plan_apply(diff, repo)
    assert not plan.ok
    assert "binary" in (plan.changes[0].error or "")


def test_paths_outside_the_repository_are_refused(repo: Path, tmp_path: Path) -> None:
    escape = "--- a/../evil.txt\n+++ b/../evil.txt\n@@ -0,0 +1 @@\n+pwned\n"
    plan = plan_apply(escape, repo)
    assert not plan.ok
    assert "outside the repository" in (plan.changes[0].error or "")
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "link").symlink_to(outside)
    plan = plan_apply("--- /dev/null\n+++ b/link/x.txt\n@@ -0,0 +1 @@\n+pwned\n", repo)
    assert not plan.ok
    assert not (outside / "x.txt").exists()


def test_write_files_is_all_or_nothing(repo: Path) -> None:
    (repo / "ok.txt").write_text("old\n")
    (repo / "plain").write_text("a file, not a directory\n")
    with pytest.raises(PatchError, match="nothing was changed"):
        write_files(repo, [FileWrite("ok.txt", b"new\n", 0o644), FileWrite("plain/child.txt", b"x\n", 0o644)])
    assert (repo / "ok.txt").read_text() == "old\n"
    assert sorted(p.name for p in repo.iterdir() if p.name != ".git") == ["ok.txt", "plain"]
