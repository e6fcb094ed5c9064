"""``mcpgw spec-first "REQUIREMENTS"``: tests first, then the implementation, then run → fix until green.

The gateway writes a test file from the requirements; it is written and run (expected to fail, the
implementation does not exist yet); then the implementation is generated and the loop runs the tests
and asks for a fixed implementation until they pass or ``max_iterations`` implementations were tried.
Every write goes through one :class:`~mcpgw.agent.edits.Workspace`, so a single ``mcpgw apply --undo``
removes everything the run created.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mcpgw.agent.edits import Ask, Workspace, answer_code, rel_path
from mcpgw.agent.runner import TestRun, build_command, cap_output, run_tests_sync
from mcpgw.errors import UsageError
from mcpgw.patch import Journal

SpecFramework = Literal["pytest", "vitest", "jest"]
SPEC_FRAMEWORKS: tuple[SpecFramework, ...] = ("pytest", "vitest", "jest")
_STOP = frozenset(
    ("a", "an", "the", "add", "with", "and", "or", "of", "for", "to", "in", "on", "that", "which", "by", "from",
     "create", "implement", "write", "make", "build", "support", "function", "module", "should", "must", "it",
     "is", "are", "be", "returns", "return")
)  # fmt: skip
MAX_OUTPUT_CHARS = 6000


@dataclass(frozen=True)
class SpecOptions:
    root: Path
    requirements: str
    framework: SpecFramework = "pytest"
    out_dir: str = "."  # relative to root
    name: str | None = None
    max_iterations: int = 5
    timeout_s: float = 300


@dataclass(frozen=True)
class Iteration:
    """One run of the tests: after writing the tests (``tests``) or an implementation (``implementation``)."""

    number: int
    phase: Literal["tests", "implementation"]
    passed: int
    failed: int
    exit_code: int | None
    summary: str


@dataclass
class SpecResult:
    test_file: str
    impl_file: str
    iterations: list[Iteration] = field(default_factory=list)
    green: bool = False
    journal_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "test_file": self.test_file,
            "impl_file": self.impl_file,
            "green": self.green,
            "iterations": [i.__dict__ for i in self.iterations],
            "journal_id": self.journal_id,
        }


def module_name(requirements: str) -> str:
    """A short snake_case name from the requirements' meaningful words (``Add JWT auth`` → ``jwt_auth``)."""
    words = [w for w in re.findall(r"[a-z][a-z0-9]*", requirements.lower()) if w not in _STOP]
    name = "_".join(words[:3])
    return name or "feature"


@dataclass(frozen=True)
class SpecPaths:
    test: str
    impl: str
    import_hint: str


def spec_paths(opts: SpecOptions) -> SpecPaths:
    """Where the test and implementation files go, and how the test imports the implementation."""
    name = opts.name or module_name(opts.requirements)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise UsageError(f"--name {name!r} is not a valid module name", fix="use letters, digits and _")
    out = rel_path(opts.root, opts.root / opts.out_dir)
    prefix = "" if out == "." else f"{out}/"
    if opts.framework == "pytest":
        package = (opts.root / out / "__init__.py").exists()
        dotted = f"{out.replace('/', '.')}.{name}" if package and out != "." else name
        return SpecPaths(f"{prefix}test_{name}.py", f"{prefix}{name}.py", f"from {dotted} import ...")
    return SpecPaths(f"{prefix}{name}.test.js", f"{prefix}{name}.js", f"import {{ ... }} from './{name}.js'")


def _run(opts: SpecOptions, paths: SpecPaths) -> TestRun:
    return run_tests_sync(str(opts.root), opts.framework, [paths.test], timeout_s=opts.timeout_s)


def _failures(run: TestRun) -> str:
    lines = [f"- {f.test_name}: {f.message}\n{f.stack_trace}" for f in run.report.failures[:10]]
    text = "\n".join(lines) if lines else run.output
    shown, _ = cap_output(text, MAX_OUTPUT_CHARS)
    return shown


def _iteration(number: int, phase: Literal["tests", "implementation"], run: TestRun) -> Iteration:
    r = run.report
    failed = max(r.failed or 0, len(r.failures)) or (0 if run.exit_code == 0 else 1)
    return Iteration(number, phase, r.passed or 0, failed, run.exit_code, run.summary())


def check(opts: SpecOptions) -> SpecPaths:
    """Validate the options before anything is spent or written."""
    if not opts.requirements.strip():
        raise UsageError("the requirements are empty", fix='mcpgw spec-first "what the code must do"')
    if not 1 <= opts.max_iterations <= 20:
        raise UsageError("--max-iterations must be between 1 and 20")
    if opts.framework not in SPEC_FRAMEWORKS:
        raise UsageError(f"unknown framework {opts.framework!r}", fix=f"use one of {', '.join(SPEC_FRAMEWORKS)}")
    paths = spec_paths(opts)
    for rel in (paths.test, paths.impl):
        if (opts.root / rel).exists():
            raise UsageError(f"{rel} already exists", fix="pass --name NAME or --out DIR for new files")
    build_command(str(opts.root), opts.framework, [])  # the runner must be installed
    return paths


def run_spec_first(
    opts: SpecOptions, ask: Ask, journal: Journal, progress: Callable[[str], None] = lambda _: None
) -> SpecResult:
    """Generate tests, run them, generate the implementation, iterate until green or the limit."""
    paths = check(opts)
    ws = Workspace(opts.root, journal, source=f"mcpgw spec-first: {opts.requirements[:60]}")
    result = SpecResult(paths.test, paths.impl)
    lang = "Python" if opts.framework == "pytest" else "JavaScript"
    context = {"language": lang, "framework": opts.framework, "requirements": [opts.requirements]}
    base = {"mode": "generate", "project_root": str(opts.root), "context": context}
    progress(f"writing tests: {paths.test}")
    tests = answer_code(ask({**base, "task": (
        f"Write {opts.framework} tests, BDD style (one test per behaviour, descriptive names), for these "
        f"requirements:\n{opts.requirements}\n\nThe tests go in {paths.test}. The implementation will be in "
        f"{paths.impl}; import it with `{paths.import_hint}`. Answer with the complete test file only."
    )}))  # fmt: skip
    entry = ws.write({paths.test: tests})
    run = _run(opts, paths)
    result.iterations.append(_iteration(0, "tests", run))
    progress(f"tests written; without an implementation: {run.summary()}")
    for number in range(1, opts.max_iterations + 1):
        current = ws.text(paths.impl)
        files = [{"path": paths.test, "content": tests}]
        if current is None:
            body = {**base, "files": files, "task": (
                f"Write {paths.impl} so that the tests in {paths.test} pass. Requirements:\n{opts.requirements}\n\n"
                f"Current test output:\n{_failures(run)}\n\nAnswer with the complete file only."
            )}  # fmt: skip
        else:
            body = {**base, "mode": "diff", "path": paths.impl, "content": current, "files": files, "task": (
                f"The tests in {paths.test} still fail:\n{_failures(run)}\n\nFix {paths.impl} so that they pass. "
                "The tests are the specification: do not weaken them, fix the implementation."
            )}  # fmt: skip
        progress(f"iteration {number}: asking for the implementation")
        impl = answer_code(ask(body), current)
        entry = ws.write({paths.impl: impl})
        run = _run(opts, paths)
        result.iterations.append(_iteration(number, "implementation", run))
        progress(f"iteration {number}: {run.summary()}")
        if run.green:
            result.green = True
            break
    result.journal_id = entry.id if entry else None
    return result
