"""``mcpgw tests fix``: run the tests (or read their output), triage the failures, ask the gateway for the
fixed file behind each group of failures, then apply every fix at once (journaled) and re-run.

Each failure is pinned to the file most likely at fault: the deepest non-test file in its stack trace,
else the first non-test module its test file imports, else the test file itself. Failures that share a
file are sent together, so one answer rewrites that file once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpgw.agent.edits import Ask, Changeset, answer_code, file_diff, read_text
from mcpgw.agent.related import imported_files, is_test_file, trace_files
from mcpgw.agent.runner import TestRun, cap_output, run_tests_sync
from mcpgw.agent.triage import FailureAnalysis, Framework, TestTriageResult, analyze, triage
from mcpgw.errors import UsageError
from mcpgw.patch import Journal, JournalEntry

MAX_CONTEXT_CHARS = 60_000
MAX_FILE_CHARS = 20_000


@dataclass(frozen=True)
class FixOptions:
    """What to fix: tests run under ``root`` (``targets`` narrow them), or ``output`` already captured."""

    root: Path
    targets: list[str] = field(default_factory=list)
    runner: Framework | None = None
    output: str | None = None
    max_files: int = 5
    timeout_s: float = 300


@dataclass
class FilePatch:
    """The fix proposed for one file, and the failing tests it answers."""

    path: str
    tests: list[str]
    diff: str
    model: str | None
    cost_usd: float


@dataclass
class FixPlan:
    """Everything decided before writing: the run, its triage, and the patches."""

    options: FixOptions
    runner: Framework
    run: TestRun | None
    triage: TestTriageResult
    patches: list[FilePatch] = field(default_factory=list)
    change: Changeset | None = None

    @property
    def diff(self) -> str:
        return "".join(p.diff for p in self.patches)

    def to_json(self) -> dict[str, Any]:
        return {
            "runner": self.runner,
            "run": _run_json(self.run),
            "triage": self.triage.to_json(),
            "patches": [p.__dict__ for p in self.patches],
        }


@dataclass
class FixResult:
    plan: FixPlan
    applied: JournalEntry | None = None
    rerun: TestRun | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.plan.to_json(),
            "applied": self.applied.id if self.applied else None,
            "rerun": _run_json(self.rerun),
        }


def _run_json(run: TestRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    r = run.report
    return {"exit_code": run.exit_code, "timed_out": run.timed_out, "passed": r.passed, "failed": r.failed,
            "duration_ms": run.duration_ms, "summary": run.summary()}  # fmt: skip


def _check_targets(root: Path, targets: list[str]) -> None:
    for target in targets:
        if not (root / target.split("::", 1)[0]).exists():
            raise UsageError(f"{target}: no such test file or directory under {root}", fix="pass existing test files")


def collect(opts: FixOptions, runner: Framework) -> tuple[TestRun | None, TestTriageResult]:
    """Run the tests (or parse the given output) and triage them; clear errors when there is nothing to fix."""
    if opts.output is not None:
        if not opts.output.strip():
            raise UsageError(
                "no test output on stdin", fix="pipe the runner's output: pytest 2>&1 | mcpgw tests fix --stdin"
            )
        return None, triage(opts.output, opts.runner)
    _check_targets(opts.root, opts.targets)
    run = run_tests_sync(str(opts.root), runner, opts.targets, timeout_s=opts.timeout_s)
    if run.timed_out:
        raise UsageError(
            f"the tests ran past {opts.timeout_s:.0f} s and were stopped", fix="pass the failing test files"
        )
    if run.collected_nothing:
        raise UsageError("no tests found", fix="pass test files, or run from the project that holds the tests")
    result = analyze(run.report)
    if run.exit_code not in (0, None) and not result.failures:
        tail, _ = cap_output(run.output, 2000)
        raise UsageError(
            f"{runner} exited with {run.exit_code} but reported no test failures:\n{tail}",
            fix="fix the error above (configuration, missing dependency), then try again",
        )
    return run, result


def target_for(root: Path, failure: FailureAnalysis) -> tuple[str | None, list[str]]:
    """The file to fix for ``failure`` and the other project files that give context."""
    named = trace_files(root, f"{failure.file or ''}\n{failure.stack_trace}")
    tests = [f for f in named if is_test_file(f)]
    imports: list[str] = []
    for test in tests[:1]:
        imports = imported_files(root, test, read_text(root, test))
    sources = [f for f in named if not is_test_file(f)]
    target = sources[-1] if sources else next((f for f in imports if not is_test_file(f)), None)
    target = target or (tests[0] if tests else None)
    context = [f for f in [*tests, *sources, *imports] if f != target]
    return target, list(dict.fromkeys(context))


def _describe(f: FailureAnalysis) -> str:
    where = f"{f.file}:{f.line}" if f.file and f.line else (f.file or "?")
    lines = [f"- {f.test_name} ({f.failure_type}) at {where}: {f.message}"]
    if f.root_cause:
        lines.append(f"  likely cause: {f.root_cause}")
    if f.stack_trace:
        lines.append("  stack:\n" + "\n".join("    " + ln for ln in f.stack_trace.splitlines()))
    return "\n".join(lines)


def _context_files(root: Path, paths: list[str]) -> list[dict[str, str]]:
    files: list[dict[str, str]] = []
    budget = MAX_CONTEXT_CHARS
    for rel in paths:
        text, _ = cap_output(read_text(root, rel), MAX_FILE_CHARS)
        if len(text) > budget:
            break
        budget -= len(text)
        files.append({"path": rel, "content": text})
    return files


def fix_request(
    root: Path, target: str, content: str, failures: list[FailureAnalysis], context: list[str]
) -> dict[str, Any]:
    """The ``/v1/code-agent`` body asking for the fixed ``target``."""
    role = "test file" if is_test_file(target) else "file"
    task = (
        f"These tests fail:\n{chr(10).join(_describe(f) for f in failures[:10])}\n\n"
        f"Fix the {role} {target} so that they pass. The tests state the intended behaviour; change only what "
        "the failures need and keep everything else exactly as it is."
    )
    return {"task": task, "mode": "diff", "path": target, "content": content,
            "files": _context_files(root, context), "project_root": str(root)}  # fmt: skip


def plan_fix(opts: FixOptions, ask: Ask, runner: Framework) -> FixPlan:
    """Collect and triage the failures, then ask for one fixed file per group of failures (nothing written)."""
    run, result = collect(opts, runner)
    plan = FixPlan(opts, result.framework if run is None else runner, run, result)
    if not result.failures:
        return plan
    groups: dict[str, tuple[list[FailureAnalysis], list[str]]] = {}
    for failure in result.failures:
        target, context = target_for(opts.root, failure)
        if target is None:
            continue
        group = groups.setdefault(target, ([], []))
        group[0].append(failure)
        group[1].extend(c for c in context if c not in group[1])
    if not groups:
        raise UsageError(
            "the failures name no file of this project",
            fix="run from the project root, or pass the test files: mcpgw tests fix tests/test_x.py",
        )
    change = Changeset(opts.root)
    for target, (failures, context) in list(groups.items())[: opts.max_files]:
        original = read_text(opts.root, target)
        envelope = ask(fix_request(opts.root, target, original, failures, context))
        new = answer_code(envelope, original)
        change.set(target, original, new)
        diff = file_diff(target, original, new)
        if diff:
            perf = envelope.get("performance") or {}
            plan.patches.append(
                FilePatch(
                    target,
                    [f.test_name for f in failures],
                    diff,
                    (envelope.get("routing") or {}).get("model"),
                    float(perf.get("cost_usd") or 0),
                )
            )
    plan.change = change if change.changed else None
    return plan


def apply_fix(plan: FixPlan, journal: Journal, *, rerun: bool = True) -> FixResult:
    """Write the planned fixes (all or nothing, journaled) and, when the tests were run here, run them again."""
    result = FixResult(plan)
    if plan.change is None:
        return result
    result.applied = plan.change.apply(journal, source="mcpgw tests fix")
    if rerun and plan.run is not None:
        opts = plan.options
        result.rerun = run_tests_sync(str(opts.root), plan.runner, opts.targets, timeout_s=opts.timeout_s)
    return result
