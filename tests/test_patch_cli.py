"""`mcpgw apply` end to end: a real daemon holds the journal, diffs come from `git diff`, and the
interactive review is driven through a real pseudo-terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from mcpgw.paths import Paths
from tests.conftest import run_cli

ORIGINAL = "".join(f"line {i}\n" for i in range(1, 31)).encode()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "T")
    (root / "f.txt").write_bytes(ORIGINAL)
    (root / "crlf.txt").write_bytes(b"a\r\nb\r\nc\r\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "base")
    return root


def diff_of(repo: Path, edits: dict[str, bytes], name: str = "change.diff") -> Path:
    """Write the edits, take `git diff`, and put the files back."""
    for rel, data in edits.items():
        (repo / rel).write_bytes(data)
    patch = repo.parent / name
    patch.write_bytes(subprocess.run(["git", "diff"], cwd=repo, check=True, capture_output=True).stdout)
    git(repo, "checkout", "-q", "--", ".")
    return patch


TWO_HUNKS = {
    "f.txt": ORIGINAL.replace(b"line 3\n", b"line three\n").replace(b"line 25\n", b"line twenty-five\n"),
    "crlf.txt": b"a\r\nB\r\nc\r\n",
}


def test_apply_yes_then_undo_restores_byte_for_byte(repo: Path, daemon: Paths, env: dict[str, str]) -> None:
    patch = diff_of(repo, TWO_HUNKS)
    checked = run_cli(env, "apply", "--check", str(patch), cwd=repo)
    assert checked.returncode == 0, checked.stderr
    assert (repo / "f.txt").read_bytes() == ORIGINAL

    applied = run_cli(env, "apply", "--yes", str(patch), cwd=repo)
    assert applied.returncode == 0, applied.stderr
    assert (repo / "f.txt").read_bytes() == TWO_HUNKS["f.txt"]
    assert (repo / "crlf.txt").read_bytes() == b"a\r\nB\r\nc\r\n"
    assert "mcpgw apply --undo" in applied.stderr

    undone = run_cli(env, "apply", "--undo", cwd=repo)
    assert undone.returncode == 0, undone.stderr
    assert (repo / "f.txt").read_bytes() == ORIGINAL
    assert (repo / "crlf.txt").read_bytes() == b"a\r\nb\r\nc\r\n"
    again = run_cli(env, "apply", "--undo", cwd=repo)
    assert again.returncode == 1
    assert "nothing to undo" in again.stderr


def test_undo_refuses_after_a_later_edit(repo: Path, daemon: Paths, env: dict[str, str]) -> None:
    patch = diff_of(repo, TWO_HUNKS)
    assert run_cli(env, "apply", "--yes", str(patch), cwd=repo).returncode == 0
    (repo / "crlf.txt").write_bytes(b"edited by hand\n")
    refused = run_cli(env, "apply", "--undo", cwd=repo)
    assert refused.returncode == 1
    assert "crlf.txt changed since the apply" in refused.stderr
    assert (repo / "f.txt").read_bytes() == TWO_HUNKS["f.txt"]


def test_context_mismatch_exits_1_and_writes_nothing(repo: Path, env: dict[str, str]) -> None:
    patch = diff_of(repo, TWO_HUNKS)
    (repo / "f.txt").write_bytes(ORIGINAL.replace(b"line 24\n", b"changed meanwhile\n"))
    before = {p: (repo / p).read_bytes() for p in ("f.txt", "crlf.txt")}
    result = run_cli(env, "apply", "--yes", str(patch), cwd=repo)
    assert result.returncode == 1
    assert "Hunk #2 FAILED" in result.stderr
    assert "expected 'line 24', found 'changed meanwhile'" in result.stderr
    assert "nothing was written" in result.stderr
    assert {p: (repo / p).read_bytes() for p in before} == before


def test_bad_input_is_a_clear_error(repo: Path, env: dict[str, str]) -> None:
    bad = repo.parent / "bad.diff"
    bad.write_text("--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n line 1\n-line 2\n")
    result = run_cli(env, "apply", "--yes", str(bad), cwd=repo)
    assert result.returncode == 1
    assert "ends early" in result.stderr
    assert "Traceback" not in result.stderr
    piped = run_cli(env, "apply", cwd=repo, input=ORIGINAL.decode())
    assert piped.returncode == 1
    assert "no file changes found in the patch (line 1" in piped.stderr


def spawn(cmd: str, repo: Path, env: dict[str, str]) -> pexpect.spawn:
    return pexpect.spawn("/bin/sh", ["-c", cmd], cwd=str(repo), env=env, encoding="utf-8", timeout=30)


def test_interactive_review_through_a_pty_with_patch_on_stdin(repo: Path, daemon: Paths, env: dict[str, str]) -> None:
    patch = diff_of(repo, TWO_HUNKS)
    child = spawn(f"cat {patch} | {sys.executable} -m mcpgw apply -i", repo, env)
    child.expect(r"crlf\.txt \(lines 1-3\)")
    child.expect(r"\[1/1\]")
    child.sendline("y")
    child.expect(r"f\.txt \(lines 1-6\)")
    child.expect(r"Apply this change \[1/2\]\? \[y,n,e,q,a,s,\?\]")
    child.sendline("?")
    child.expect("s - split this change")
    child.sendline("y")
    child.expect(r"Apply this change \[2/2\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert (repo / "f.txt").read_bytes() == ORIGINAL.replace(b"line 3\n", b"line three\n")
    assert (repo / "crlf.txt").read_bytes() == b"a\r\nB\r\nc\r\n"


def test_interactive_split_and_edit(repo: Path, daemon: Paths, env: dict[str, str]) -> None:
    close_edits = {"f.txt": ORIGINAL.replace(b"line 10\n", b"line ten\n").replace(b"line 13\n", b"line thirteen\n")}
    patch = diff_of(repo, close_edits)
    editor = repo.parent / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^+line thirteen$/+line 13 edited/' \"$1\"\n")
    editor.chmod(0o755)
    child = spawn(f"{sys.executable} -m mcpgw apply -i {patch}", repo, {**env, "EDITOR": str(editor)})
    child.expect(r"\[1/1\]")
    child.sendline("s")
    child.expect("Split into 2 changes")
    child.expect(r"Apply this change \[1/2\]")
    child.sendline("n")
    child.expect(r"Apply this change \[2/2\]")
    child.sendline("e")
    child.expect("Accepted \\(edited\\)")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert (repo / "f.txt").read_bytes() == ORIGINAL.replace(b"line 13\n", b"line 13 edited\n")
