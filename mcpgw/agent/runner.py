"""Run a project's tests where its code is: an allow-listed runner, no shell, a timeout, a capped capture.

Shared by ``mcpgw tests fix`` / ``refactor`` / ``spec-first`` and the MCP server's ``run_tests`` tool. Only
the runner installed in the project is executed (``.venv``'s Python or ``pytest`` on PATH;
``node_modules/.bin`` for vitest, jest and playwright); every target and keyword is checked against a
strict character set before it becomes an argument, and targets must stay under the root.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from mcpgw.agent.triage.parsers import FRAMEWORKS, PARSERS, Framework, Report
from mcpgw.errors import UsageError

MAX_CAPTURE_BYTES = 4_000_000
SAFE_TARGET = re.compile(r"^[A-Za-z0-9_./@:+,=\-\[\]]+$")
SAFE_KEYWORD = re.compile(r"^[A-Za-z0-9_ .:/\-]+$")
JS_BINARIES = {
    "vitest": ("vitest", "run"),
    "jest": ("jest", "--ci"),
    "playwright": ("playwright", "test", "--reporter=list"),
}
KEYWORD_FLAG = {"pytest": "-k", "vitest": "-t", "jest": "-t", "playwright": "-g"}
PYTEST_NO_TESTS = 5


class UnsafeArgument(UsageError):
    """A test target or keyword that could escape the root or smuggle in an option."""

    status = 403
    type = "sandbox-violation"


def within_root(root: str) -> Callable[[str], str]:
    """A confinement check for ``root``: the real path of a relative target, refusing escapes."""
    real_root = os.path.realpath(root)

    def check(path: str) -> str:
        real = os.path.realpath(os.path.join(real_root, path))
        if real != real_root and not real.startswith(real_root + os.sep):
            raise UnsafeArgument(f"{path!r} is outside the root {real_root}", fix="pass paths inside the project")
        return real

    return check


def parse_runner(name: str) -> Framework:
    """``name`` as a known runner, or a usage error listing them."""
    for fw in FRAMEWORKS:
        if fw == name:
            return fw
    raise UsageError(f"unknown test runner {name!r}", fix=f"use one of {', '.join(FRAMEWORKS)}")


def detect_runner(root: str) -> Framework:
    """Pick the runner from package.json dependencies, then Python test markers."""
    pkg = Path(root, "package.json")
    if pkg.is_file():
        try:
            data = json.loads(pkg.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise UsageError(f"package.json is not valid JSON: {exc}", fix="fix package.json or pass runner=") from exc
        deps = {**data.get("dependencies", {}), **data.get("devDependencies", {})}
        for name, runner in (("vitest", "vitest"), ("jest", "jest"), ("@playwright/test", "playwright")):
            if name in deps:
                return parse_runner(runner)
    markers = ("pytest.ini", "conftest.py", "pyproject.toml", "setup.cfg", "tox.ini")
    if any(Path(root, m).is_file() for m in markers) or Path(root, "tests").is_dir():
        return "pytest"
    raise UsageError(
        "cannot tell which test runner this project uses",
        fix="pass runner='pytest', 'vitest', 'jest' or 'playwright'",
    )


def _pytest_base(root: str) -> list[str]:
    for venv in (".venv", "venv"):
        python = Path(root, venv, "bin", "python")
        if python.exists():
            return [str(python), "-m", "pytest"]
    found = shutil.which("pytest")
    if found:
        return [found]
    python3 = shutil.which("python3")
    if python3:
        return [python3, "-m", "pytest"]
    raise UsageError("pytest is not installed for this project", fix="create .venv with pytest in the root")


def build_command(
    root: str,
    runner: Framework,
    targets: Sequence[str] = (),
    keyword: str | None = None,
    *,
    confine: Callable[[str], object] | None = None,
) -> list[str]:
    """The argv for ``runner``: only known executables, every argument checked (no shell is involved).

    ``confine`` checks that a target stays under the root (default: :func:`within_root`).
    """
    check = confine or within_root(root)
    for target in targets:
        if not SAFE_TARGET.match(target) or target.startswith("-"):
            raise UnsafeArgument(
                f"test target {target!r} contains characters that are not allowed",
                fix="pass test files, directories or node ids (letters, digits, _ . / : - [ ] @ + , =)",
            )
        check(target.split("::", 1)[0])
    if keyword is not None and (not SAFE_KEYWORD.match(keyword) or keyword.startswith("-")):
        raise UnsafeArgument(
            f"keyword {keyword!r} contains characters that are not allowed",
            fix="use letters, digits, spaces and _ . : / -",
        )
    if runner == "pytest":
        argv = [*_pytest_base(root), "-rfE", "--tb=short", "--color=no", *targets]
    else:
        exe, *args = JS_BINARIES[runner]
        binary = Path(root, "node_modules", ".bin", exe)
        if not binary.exists():
            raise UsageError(
                f"{exe} is not installed in this project (no node_modules/.bin/{exe})",
                fix=f"run `npm install` in {root} first",
            )
        argv = [str(binary), *args, *targets]
    if keyword:
        argv += [KEYWORD_FLAG[runner], keyword]
    return argv


def cap_output(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters (a fifth from the head, the rest from the tail), and whether it was."""
    if len(text) <= limit:
        return text, False
    head = limit // 5
    tail = limit - head
    return f"{text[:head]}\n… [{len(text) - limit} characters cut] …\n{text[-tail:]}", True


async def execute(argv: list[str], cwd: str, timeout_s: float) -> tuple[int | None, bool, str]:
    """Run ``argv`` in its own process group; on timeout the whole group is killed."""
    env = {**os.environ, "CI": "1", "NO_COLOR": "1", "FORCE_COLOR": "0"}
    chunks: list[bytes] = []
    size = 0
    timed_out = False
    async with await anyio.open_process(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    ) as proc:
        assert proc.stdout is not None
        with anyio.move_on_after(timeout_s) as scope:
            async for chunk in proc.stdout:
                if size < MAX_CAPTURE_BYTES:
                    chunks.append(chunk)
                    size += len(chunk)
            await proc.wait()
        if scope.cancelled_caught:
            timed_out = True
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                with anyio.move_on_after(2):
                    await proc.wait()
                if proc.returncode is not None:
                    break
    return (None if timed_out else proc.returncode), timed_out, b"".join(chunks).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class TestRun:
    """One run of a project's tests: the command, how it ended, its output and the parsed report."""

    __test__ = False  # not a pytest test class

    runner: Framework
    command: list[str]
    exit_code: int | None
    timed_out: bool
    duration_ms: int
    output: str
    report: Report

    @property
    def green(self) -> bool:
        """Every test passed (and some ran)."""
        return self.exit_code == 0 and not self.report.failures

    @property
    def collected_nothing(self) -> bool:
        """The runner found no tests to run."""
        if self.runner == "pytest":
            return self.exit_code == PYTEST_NO_TESTS
        return bool(re.search(r"No tests? (files )?found", self.output, re.I))

    def summary(self) -> str:
        r = self.report
        if self.timed_out:
            return f"{self.runner}: killed after the timeout"
        counts = f"{r.passed or 0} passed, {max(r.failed or 0, len(r.failures))} failed"
        return f"{self.runner}: {counts} (exit {self.exit_code})"


async def run_tests(
    root: str,
    runner: Framework,
    targets: Sequence[str] = (),
    keyword: str | None = None,
    *,
    timeout_s: float = 300,
    confine: Callable[[str], object] | None = None,
) -> TestRun:
    """Run the tests under ``root`` and parse their output."""
    argv = build_command(root, runner, targets, keyword, confine=confine)
    started = time.perf_counter()
    code, timed_out, output = await execute(argv, root, timeout_s)
    return TestRun(
        runner, argv, code, timed_out, int((time.perf_counter() - started) * 1000), output, PARSERS[runner](output)
    )


def run_tests_sync(
    root: str, runner: Framework, targets: Sequence[str] = (), keyword: str | None = None, *, timeout_s: float = 300
) -> TestRun:
    """:func:`run_tests` from synchronous code (the CLI)."""
    return anyio.run(lambda: run_tests(root, runner, targets, keyword, timeout_s=timeout_s))
