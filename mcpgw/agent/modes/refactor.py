"""``mcpgw refactor FILE``: measure, ask the gateway for a behaviour-preserving refactor of the worst
functions, show the diff and the metrics after, and apply it only when the project's tests still pass.

Behaviour is checked in place: the tests must pass before (otherwise there is nothing to compare
against), the refactor is written through the journal, the tests run again, and a failure undoes the
write before the error is raised — the file ends as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpgw.agent.edits import Ask, Changeset, answer_code, file_diff, read_text
from mcpgw.agent.metrics import CodeMetrics, measure
from mcpgw.agent.runner import TestRun, cap_output, detect_runner, run_tests_sync
from mcpgw.agent.triage import Framework
from mcpgw.errors import MCPGWError, UsageError
from mcpgw.patch import Journal, JournalEntry, undo


class TestsFailed(MCPGWError):
    """The project's tests fail where the mode needs them to pass; nothing was changed."""

    __test__ = False  # not a pytest test class
    type = "tests-failed"


@dataclass(frozen=True)
class RefactorOptions:
    root: Path
    path: str  # relative to root
    max_complexity: int = 10
    run_tests: bool = True
    runner: Framework | None = None
    timeout_s: float = 300


@dataclass
class RefactorPlan:
    options: RefactorOptions
    before: CodeMetrics
    original: str
    runner: Framework | None = None
    baseline: TestRun | None = None
    after: CodeMetrics | None = None
    diff: str = ""
    model: str | None = None
    change: Changeset | None = None

    def to_json(self) -> dict[str, Any]:
        worst = self.before.worst(self.options.max_complexity)
        return {
            "path": self.options.path,
            "before": self.before.to_json(),
            "after": self.after.to_json() if self.after else None,
            "targets": [f.name for f in worst],
            "diff": self.diff,
            "model": self.model,
            "runner": self.runner,
        }


@dataclass
class RefactorResult:
    plan: RefactorPlan
    applied: JournalEntry | None = None
    tests: TestRun | None = None

    def to_json(self) -> dict[str, Any]:
        tests = None if self.tests is None else {"exit_code": self.tests.exit_code, "summary": self.tests.summary()}
        return {**self.plan.to_json(), "applied": self.applied.id if self.applied else None, "tests": tests}


def refactor_request(plan: RefactorPlan) -> dict[str, Any]:
    opts, before = plan.options, plan.before
    goals = [
        f"- {f.name} (lines {f.start_line}-{f.end_line}): cyclomatic complexity {f.complexity}, {f.nloc} lines"
        for f in before.worst(opts.max_complexity)
    ]
    goals += [
        f"- a block of {d.size} lines duplicated at lines {', '.join(map(str, d.lines))}" for d in before.duplicates
    ]
    task = (
        f"Refactor {opts.path} to reduce complexity (target: every function at or below cyclomatic complexity "
        f"{opts.max_complexity}) and remove duplication. Work on:\n" + "\n".join(goals) + "\n\n"
        "Preserve behaviour exactly: the same public names and signatures, return values, side effects and "
        "exceptions. Extract helpers, flatten nesting, use early returns; do not change anything else."
    )
    return {"task": task, "mode": "diff", "path": opts.path, "content": plan.original, "project_root": str(opts.root)}


def _runner(opts: RefactorOptions) -> Framework | None:
    if not opts.run_tests:
        return None
    if opts.runner is not None:
        return opts.runner
    try:
        return detect_runner(str(opts.root))
    except UsageError:
        return None


def _tests_fail(run: TestRun, when: str, fix: str) -> TestsFailed:
    names = ", ".join(f.test_name for f in run.report.failures[:5])
    tail, _ = cap_output(run.output, 1500)
    return TestsFailed(f"the tests fail {when} ({run.summary()}{': ' + names if names else ''})\n{tail}", fix=fix)


def plan_refactor(opts: RefactorOptions, ask: Ask, *, check_only: bool = False) -> RefactorPlan:
    """Measure; when something is over the limits, check the tests pass, then ask for the refactor."""
    if opts.max_complexity < 1:
        raise UsageError("--max-complexity must be at least 1")
    original = read_text(opts.root, opts.path)
    plan = RefactorPlan(opts, measure(opts.path, original), original)
    if not plan.before.worst(opts.max_complexity) and not plan.before.duplicates:
        return plan
    plan.runner = None if check_only else _runner(opts)
    if plan.runner is not None:
        plan.baseline = run_tests_sync(str(opts.root), plan.runner, timeout_s=opts.timeout_s)
        if not plan.baseline.green:
            raise _tests_fail(
                plan.baseline, "before the refactor, so behaviour cannot be checked",
                "fix them first (mcpgw tests fix), or pass --no-tests to refactor without the check",
            )  # fmt: skip
    envelope = ask(refactor_request(plan))
    new = answer_code(envelope, original)
    plan.model = (envelope.get("routing") or {}).get("model")
    plan.after = measure(opts.path, new)
    plan.diff = file_diff(opts.path, original, new)
    if plan.diff:
        plan.change = Changeset(opts.root)
        plan.change.set(opts.path, original, new)
    return plan


def apply_refactor(plan: RefactorPlan, journal: Journal) -> RefactorResult:
    """Write the refactor (journaled); when the tests fail after it, undo it and raise :class:`TestsFailed`."""
    result = RefactorResult(plan)
    if plan.change is None:
        return result
    entry = plan.change.apply(journal, source=f"mcpgw refactor {plan.options.path}")
    if plan.runner is not None:
        opts = plan.options
        result.tests = run_tests_sync(str(opts.root), plan.runner, timeout_s=opts.timeout_s)
        if not result.tests.green:
            undo(journal, opts.root, entry.id)
            raise _tests_fail(
                result.tests, "after the refactor; it was undone and nothing changed",
                "try again (a different model: --model), or refactor by hand",
            )  # fmt: skip
    result.applied = entry
    return result
