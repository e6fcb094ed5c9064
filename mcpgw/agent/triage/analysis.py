"""A test run's failures as the roadmap's ``TestTriageResult``: a summary, and per failure its type, stack
trace and a likely root cause found by matching the common patterns (missing imports, null/undefined
values, wrong signatures, async mistakes, timeouts, plain assertion mismatches)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from mcpgw.agent.triage.parsers import Failure, FailureType, Framework, Report, parse
from mcpgw.errors import UsageError

# (pattern on "message + stack", root cause); the first match wins, so the specific ones come first.
_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.I | re.M), cause)
    for p, cause in (
        (r"SyntaxError|IndentationError|Unexpected token", "a syntax error: the file does not parse"),
        (
            r"ModuleNotFoundError|ImportError|Cannot find module|Failed to resolve import",
            "a missing module or import: the code (or the test) imports something that does not exist",
        ),
        (
            r"coroutine .* was never awaited|Promise \{|\.then is not a function|await",
            "an async mistake: a missing await or an unresolved promise",
        ),
        (
            r"'NoneType' object|Cannot read propert(y|ies) of (undefined|null)|is (undefined|null)\b",
            "a null/undefined value reached code that does not check for it",
        ),
        (r"NameError|ReferenceError|is not defined", "a name that is not defined (typo, or a missing import)"),
        (
            r"takes \d+ positional|missing \d+ required|unexpected keyword argument|is not a function|"
            r"is not callable",
            "a call that does not match the function's signature",
        ),
        (r"AttributeError|has no attribute", "an object without the attribute the code uses"),
        (r"KeyError|IndexError|out of range", "a missing key or an index out of range"),
        (r"TypeError", "a value of the wrong type"),
        (r"ZeroDivisionError|division by zero", "a division by zero"),
    )
)


def root_cause(failure: Failure) -> str | None:
    """The likely root cause of ``failure`` from its message and stack, or None when nothing matches."""
    if failure.failure_type == "timeout":
        return "the test ran past its timeout: a hang, a missing await or an unresolved promise"
    text = f"{failure.message}\n{failure.stack_trace}"
    for pattern, cause in _CAUSES:
        if pattern.search(text):
            return cause
    if failure.failure_type == "assertion":
        return "the code returns a different value than the test expects"
    if failure.failure_type == "error":
        return "the test could not run: its setup, a fixture or the collection of its file failed"
    return None


@dataclass(frozen=True)
class FailureAnalysis:
    """One failing test: where, what kind, the message, the stack excerpt and the likely root cause."""

    test_name: str
    file: str | None
    line: int | None
    failure_type: FailureType
    message: str
    stack_trace: str
    root_cause: str | None


@dataclass(frozen=True)
class TriageSummary:
    total_failed: int
    failure_types: dict[str, int]
    affected_files: list[str]


@dataclass(frozen=True)
class TestTriageResult:
    """The triage of one test run: a summary and every failure analysed."""

    __test__ = False  # not a pytest test class

    framework: Framework
    summary: TriageSummary
    failures: list[FailureAnalysis] = field(default_factory=list)
    passed: int | None = None
    skipped: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def analyze(report: Report) -> TestTriageResult:
    """Turn a parsed report into a :class:`TestTriageResult`."""
    failures = [
        FailureAnalysis(f.test_name, f.file, f.line, f.failure_type, f.message, f.stack_trace, root_cause(f))
        for f in report.failures
    ]
    summary = TriageSummary(
        total_failed=max(len(report.failures), report.failed or 0),
        failure_types=report.failure_types,
        affected_files=report.affected_files,
    )
    return TestTriageResult(report.framework, summary, failures, report.passed, report.skipped)


def triage(text: str, framework: Framework | None = None) -> TestTriageResult:
    """Parse raw test output (the framework detected when not given) and analyse it."""
    report = parse(text, framework)
    if report is None:
        raise UsageError(
            "the output does not look like pytest, vitest, jest or playwright output",
            fix="pass --runner explicitly, or pipe the runner's full console output (2>&1)",
        )
    return analyze(report)
