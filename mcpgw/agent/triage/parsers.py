"""Structured test failures from the console output of pytest, vitest, jest and playwright.

One parser per framework, each turning raw output into :class:`Failure` records (test name, file, line,
failure type, message, stack excerpt) plus the run's counts; :func:`detect` guesses the framework.
Used on the output :mod:`mcpgw.agent.runner` captures (``mcpgw tests fix``, the MCP ``run_tests`` tool) and on
pasted logs (``--stdin``, ``analyze_test_failure``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

Framework = Literal["pytest", "vitest", "jest", "playwright"]
FailureType = Literal["assertion", "timeout", "error", "exception"]
FRAMEWORKS: tuple[Framework, ...] = ("pytest", "vitest", "jest", "playwright")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MAX_TRACE_LINES = 30


@dataclass
class Failure:
    test_name: str
    file: str | None
    line: int | None
    failure_type: FailureType
    message: str
    stack_trace: str


@dataclass
class Report:
    framework: Framework
    failures: list[Failure] = field(default_factory=list)
    passed: int | None = None
    failed: int | None = None
    skipped: int | None = None

    @property
    def failure_types(self) -> dict[str, int]:
        return dict(Counter(f.failure_type for f in self.failures))

    @property
    def affected_files(self) -> list[str]:
        return sorted({f.file for f in self.failures if f.file})


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text).replace("\r\n", "\n")


def detect(text: str) -> Framework | None:
    """Guess the framework from its output's fingerprints."""
    t = strip_ansi(text)
    if re.search(r"^=+ (test session starts|FAILURES|ERRORS|short test summary info) =+", t, re.M) or re.search(
        r"^(FAILED|ERROR) \S+::", t, re.M
    ):
        return "pytest"
    if re.search(r"^\s*(Test Files|Tests)\s+\d+ (failed|passed)", t, re.M) or re.search(r"^\s*FAIL\s+\S+ >", t, re.M):
        return "vitest"
    if re.search(r"^\s*\d+\) \[[^\]]+\] › ", t, re.M) or re.search(r"Running \d+ tests? using \d+ workers?", t):
        return "playwright"
    if re.search(r"^Tests:\s+", t, re.M) or re.search(r"^\s*● ", t, re.M):
        return "jest"
    return None


def _kind(message: str) -> FailureType:
    m = message.lower()
    if "timeout" in m or "timed out" in m or "exceeded timeout" in m:
        return "timeout"
    if "assert" in m or "expect(" in m or "expected" in m or "tobe" in m or "toequal" in m:
        return "assertion"
    return "exception"


def _trace(lines: list[str]) -> str:
    body = [ln.rstrip() for ln in lines]
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    return "\n".join(body[:MAX_TRACE_LINES])


def _count(pattern: str, text: str) -> int | None:
    m = re.search(pattern, text)
    return int(m.group(1)) if m else None


# --- pytest ---------------------------------------------------------------------------------------

_PY_SECTION = re.compile(r"^=+ (FAILURES|ERRORS) =+$", re.M)
_PY_BLOCK = re.compile(r"^_{3,} (.+?) _{3,}$", re.M)
_PY_LOC = re.compile(r"^(\S+\.py):(\d+): (\w[\w.]*)", re.M)
_PY_SUMMARY = re.compile(r"^(FAILED|ERROR) (\S+?)(?: - (.*))?$", re.M)


def parse_pytest(text: str) -> Report:
    t = strip_ansi(text)
    report = Report("pytest")
    blocks: dict[str, tuple[str, bool]] = {}
    for section in _PY_SECTION.finditer(t):
        is_error = section.group(1) == "ERRORS"
        end_m = re.search(r"^=+ .* =+$", t[section.end() :], re.M)
        body = t[section.end() : section.end() + end_m.start()] if end_m else t[section.end() :]
        heads = list(_PY_BLOCK.finditer(body))
        for i, head in enumerate(heads):
            chunk = body[head.end() : heads[i + 1].start() if i + 1 < len(heads) else len(body)]
            blocks[head.group(1).strip()] = (chunk, is_error)
    seen: set[str] = set()
    for m in _PY_SUMMARY.finditer(t):
        node_id, message = m.group(2), (m.group(3) or "").strip()
        if node_id in seen:
            continue
        seen.add(node_id)
        file = node_id.split("::", 1)[0]
        short = node_id.split("::")[-1]
        key = ".".join(node_id.split("::")[1:])
        found = blocks.pop(key, None) or blocks.pop(short, None) or _block_for(blocks, file)
        chunk, is_error = found if found is not None else ("", False)
        report.failures.append(_py_failure(node_id, file, message, chunk, m.group(1) == "ERROR" or is_error))
    for name, (chunk, is_error) in blocks.items():  # no summary line (e.g. -rN): use the block alone
        report.failures.append(_py_failure(name, None, "", chunk, is_error))
    report.failed = _count(r"(\d+) failed", t)
    report.passed = _count(r"(\d+) passed", t)
    report.skipped = _count(r"(\d+) skipped", t)
    errors = _count(r"(\d+) errors?\b", t)
    if errors:
        report.failed = (report.failed or 0) + errors
    return report


def _block_for(blocks: dict[str, tuple[str, bool]], file: str) -> tuple[str, bool] | None:
    for name in list(blocks):
        if name.startswith(("ERROR collecting " + file, "ERROR at setup of", "ERROR at teardown of")):
            return blocks.pop(name)
    return None


def _py_failure(node_id: str, file: str | None, message: str, chunk: str, is_error: bool) -> Failure:
    locs = list(_PY_LOC.finditer(chunk))
    line = None
    if locs:
        loc = next((x for x in reversed(locs) if file and x.group(1).endswith(file)), locs[-1])
        file = file or loc.group(1)
        line = int(loc.group(2))
        message = message or loc.group(3)
    e_lines = [ln[1:].strip() for ln in chunk.splitlines() if ln.startswith("E ")]
    if e_lines and (not message or message.endswith("...")):
        message = e_lines[0]
    kind: FailureType
    if is_error:
        kind = "error"
    elif "Timeout" in message or "Failed: Timeout" in chunk:
        kind = "timeout"
    elif message.startswith(("AssertionError", "assert ")) or any(ln.startswith("assert") for ln in e_lines):
        kind = "assertion"
    else:
        kind = "exception"
    return Failure(node_id, file, line, kind, message, _trace(chunk.splitlines()))


# --- jest -----------------------------------------------------------------------------------------

_JEST_FILE = re.compile(r"^\s*FAIL\s+(\S+)", re.M)
_JEST_HEAD = re.compile(r"^  ● (.+)$", re.M)
_JEST_AT = re.compile(r"at (?:.*? \()?(.+?):(\d+):\d+\)?$", re.M)


def parse_jest(text: str) -> Report:
    t = strip_ansi(text)
    report = Report("jest")
    files = [(m.start(), m.group(1)) for m in _JEST_FILE.finditer(t)]
    heads = list(_JEST_HEAD.finditer(t))
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(t)
        nxt = re.search(r"^(?:\s*(?:FAIL|PASS)\s+\S|Test Suites:|Tests:)", t[head.end() : end], re.M)
        chunk = t[head.end() : head.end() + nxt.start()] if nxt else t[head.end() : end]
        file = next((name for pos, name in reversed(files) if pos < head.start()), None)
        name = head.group(1).strip()
        lines = [ln.strip() for ln in chunk.splitlines() if ln.strip()]
        message = lines[0] if lines else ""
        line = None
        for at in _JEST_AT.finditer(chunk):
            if file is None or at.group(1).endswith(file.split("/")[-1]):
                line = int(at.group(2))
                if file is None:
                    file = at.group(1)
                break
        kind: FailureType = "error" if name.endswith("Test suite failed to run") else _kind(message)
        report.failures.append(Failure(name, file, line, kind, message, _trace(chunk.splitlines())))
    m = re.search(r"^Tests:\s+(.*)$", t, re.M)
    if m:
        report.failed = _count(r"(\d+) failed", m.group(1)) or 0
        report.passed = _count(r"(\d+) passed", m.group(1)) or 0
        report.skipped = _count(r"(\d+) skipped", m.group(1))
    return report


# --- vitest ---------------------------------------------------------------------------------------

_VI_HEAD = re.compile(r"^\s*FAIL\s+(\S+?) > (.+)$", re.M)
_VI_LOC = re.compile(r"^\s*❯ (\S+?):(\d+):\d+", re.M)


def parse_vitest(text: str) -> Report:
    t = strip_ansi(text)
    report = Report("vitest")
    heads = list(_VI_HEAD.finditer(t))
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(t)
        chunk = t[head.end() : end]
        stop = re.search(r"^⎯{3,}|^\s*(Test Files|Tests)\s+\d", chunk, re.M)
        chunk = chunk[: stop.start()] if stop else chunk
        file = head.group(1)
        lines = [ln.strip() for ln in chunk.splitlines() if ln.strip()]
        message = lines[0] if lines else ""
        line = None
        for loc in _VI_LOC.finditer(chunk):
            if loc.group(1).endswith(file.split("/")[-1]):
                line = int(loc.group(2))
                break
        name = head.group(2).strip()
        report.failures.append(
            Failure(f"{file} > {name}", file, line, _kind(message), message, _trace(chunk.splitlines()))
        )
    m = re.search(r"^\s*Tests\s+(.*)$", t, re.M)
    if m:
        report.failed = _count(r"(\d+) failed", m.group(1)) or 0
        report.passed = _count(r"(\d+) passed", m.group(1)) or 0
        report.skipped = _count(r"(\d+) skipped", m.group(1))
    return report


# --- playwright -----------------------------------------------------------------------------------

_PW_HEAD = re.compile(r"^\s*\d+\) (?:\[([^\]]+)\] › )?(\S+?):(\d+):\d+ › (.+?)\s*─*\s*$", re.M)


def parse_playwright(text: str) -> Report:
    t = strip_ansi(text)
    report = Report("playwright")
    heads = list(_PW_HEAD.finditer(t))
    seen: set[tuple[str, str, str]] = set()
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(t)
        chunk = t[head.end() : end]
        stop = re.search(r"^\s*\d+ (failed|passed|flaky|skipped)\b", chunk, re.M)
        chunk = chunk[: stop.start()] if stop else chunk
        project, file, line, name = head.group(1), head.group(2), int(head.group(3)), head.group(4).strip()
        key = (project or "", file, name)
        if key in seen:  # the retry sections repeat the header
            continue
        seen.add(key)
        lines = [ln.strip() for ln in chunk.splitlines() if ln.strip() and not ln.strip().startswith("Retry #")]
        message = next(
            (ln for ln in lines if ln.startswith(("Error", "TimeoutError", "Test timeout"))), lines[0] if lines else ""
        )
        at = re.search(rf"{re.escape(file.split('/')[-1])}:(\d+):\d+", chunk)
        full_name = f"[{project}] {name}" if project else name
        report.failures.append(
            Failure(
                full_name, file, int(at.group(1)) if at else line, _kind(message), message, _trace(chunk.splitlines())
            )
        )
    report.failed = _count(r"(?m)^\s*(\d+) failed", t)
    report.passed = _count(r"(?m)^\s*(\d+) passed", t)
    report.skipped = _count(r"(?m)^\s*(\d+) skipped", t)
    return report


PARSERS = {"pytest": parse_pytest, "jest": parse_jest, "vitest": parse_vitest, "playwright": parse_playwright}


def parse(text: str, framework: Framework | None = None) -> Report | None:
    """Parse ``text`` with the named parser, or the detected one; None when nothing is recognised."""
    fw = framework or detect(text)
    if fw is None:
        return None
    return PARSERS[fw](text)
