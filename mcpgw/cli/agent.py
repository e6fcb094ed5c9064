"""``mcpgw tests fix``, ``mcpgw refactor`` and ``mcpgw spec-first``: the agent modes from the terminal.

The loops run here, next to the user's code (tests run in their project); model calls go through the
daemon's ``/v1/code-agent``; files change only through :mod:`mcpgw.patch` with the daemon's undo
journal, so ``mcpgw apply --undo`` reverts any of them. Diffs go to stdout (pipeable to
``mcpgw apply -i``), progress and summaries to stderr, ``--json`` prints the whole result.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mcpgw.cli import context
from mcpgw.cli.chat import AskOptions, BudgetOpt, LayerOpt, ModelOpt, QualityOpt
from mcpgw.cli.output import info, print_json

if TYPE_CHECKING:
    from mcpgw.agent.edits import Ask
    from mcpgw.agent.metrics import CodeMetrics
    from mcpgw.agent.modes.fix import FixResult
    from mcpgw.agent.modes.refactor import RefactorResult
    from mcpgw.agent.modes.spec_first import SpecResult
    from mcpgw.agent.triage import TestTriageResult

tests_app = typer.Typer(help="Run the project's tests and fix what fails.", no_args_is_help=True)

YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Apply without asking (and accept escalation to a dearer layer).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the whole result as JSON.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Stop a test run after this many seconds.")]


@dataclass
class AgentOptions:
    """What every agent command shares: the model flags, --yes and --json, and the project root."""

    root: Path
    ask: AskOptions = field(default_factory=AskOptions)
    yes: bool = False
    json: bool = False
    timeout_s: float = 300


def gateway_ask(client: Any, opts: AgentOptions) -> Ask:
    """One ``/v1/code-agent`` call per use, through ``chat.ask`` (escalation prompts, history, cost footer)."""
    from mcpgw.cli.chat import ask

    opts.ask.check()
    opts.ask.yes = opts.yes
    quiet = AskOptions(**{**opts.ask.__dict__, "json": False})

    def go(body: dict[str, Any]) -> dict[str, Any]:
        full = {**opts.ask.body(), "stream": False, "project_root": str(opts.root), **body}
        return ask(client, "/v1/code-agent", full, quiet, render=False)

    return go


def project_root() -> Path:
    from mcpgw.cli.apply import repo_root

    return repo_root(Path.cwd())


def _confirm(opts: AgentOptions, question: str) -> bool:
    """--yes, or the user's answer on a terminal; False (with a hint) when there is no terminal to ask on."""
    if opts.yes:
        return True
    if opts.json or not (sys.stdin.isatty() and sys.stdout.isatty()):
        info("not applied: no terminal to confirm on; pass --yes, or pipe the diff to `mcpgw apply -i`")
        return False
    return typer.confirm(question, default=False)


def _root_relative(root: Path, arg: str) -> str:
    """A path given on the command line (relative to the cwd) as a path relative to the project root."""
    from mcpgw.agent.edits import rel_path

    path, sep, rest = arg.partition("::")
    return rel_path(root, Path.cwd() / path) + sep + rest


def _model_opts(layer: str | None, model: str | None, quality: str, budget: float | None) -> AskOptions:
    return AskOptions(layer=layer, model=model, quality=quality, budget=budget, stream=False)


# --- tests fix ------------------------------------------------------------------------------------


def show_triage(result: TestTriageResult) -> None:
    s = result.summary
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(s.failure_types.items()))
    info(f"{s.total_failed} failing test(s) ({kinds}) in {', '.join(s.affected_files) or '?'}")
    for f in result.failures:
        where = f":{f.line}" if f.line else ""
        info(f"  ✗ {f.test_name}{where} — {f.message}")
        if f.root_cause:
            info(f"    likely cause: {f.root_cause}")


def run_tests_fix(
    client: Any, opts: AgentOptions, targets: list[str], runner: str | None, output: str | None, rerun: bool = True
) -> FixResult | None:
    """Triage, propose fixes, show them, apply on confirmation, re-run. Returns None when nothing was planned."""
    from mcpgw.agent.modes.fix import FixOptions, apply_fix, plan_fix
    from mcpgw.agent.modes.refactor import TestsFailed
    from mcpgw.agent.runner import detect_runner, parse_runner
    from mcpgw.patch import DaemonJournal

    chosen = parse_runner(runner) if runner else None
    if output is None and chosen is None:
        chosen = detect_runner(str(opts.root))
    fix = FixOptions(opts.root, [_root_relative(opts.root, t) for t in targets], chosen, output,
                     timeout_s=opts.timeout_s)  # fmt: skip
    plan = plan_fix(fix, gateway_ask(client, opts), chosen or "pytest")
    if not plan.triage.failures:
        passed = plan.triage.passed
        info(f"all tests pass{f' ({passed} passed)' if passed else ''}; nothing to fix")
        if opts.json:
            print_json(plan.to_json())
        return None
    show_triage(plan.triage)
    if not opts.json:
        sys.stdout.write(plan.diff)
    if plan.change is None:
        info("the model proposed no change")
        if opts.json:
            print_json(plan.to_json())
        return None
    files = len(plan.patches)
    if not _confirm(opts, f"Apply the fix to {files} file{'s' if files != 1 else ''}?"):
        if opts.json:
            print_json(plan.to_json())
        return None
    result = apply_fix(plan, DaemonJournal(client), rerun=rerun)
    if opts.json:
        print_json(result.to_json())
    assert result.applied is not None
    undo = f"mcpgw apply --undo {result.applied.id[:12]}"
    info(f"applied fixes to {', '.join(p.path for p in plan.patches)}; undo with: {undo}")
    if result.rerun is not None:
        info(f"re-run: {result.rerun.summary()}")
        if not result.rerun.green:
            raise TestsFailed("some tests still fail after the fixes", fix=f"run `mcpgw tests fix` again, or {undo}")
    elif output is not None:
        info("re-run your tests to check the fixes")
    return result


@tests_app.command("fix")
def tests_fix(
    test_files: Annotated[
        list[str] | None, typer.Argument(help="Test files, directories or node ids to run (default: all).")
    ] = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read test output from stdin instead of running.")] = False,
    runner: Annotated[
        str | None, typer.Option("--runner", help="pytest | vitest | jest | playwright (default: detected).")
    ] = None,
    rerun: Annotated[bool, typer.Option("--rerun/--no-rerun", help="Run the tests again after applying.")] = True,
    yes: YesOpt = False, json: JsonOpt = False, timeout: TimeoutOpt = 300,
    layer: LayerOpt = None, model: ModelOpt = None, quality: QualityOpt = "normal", budget: BudgetOpt = None,
) -> None:  # fmt: skip
    """Run the tests, triage the failures, and apply the gateway's fixes (journaled: `mcpgw apply --undo`)."""
    from mcpgw.errors import UsageError

    output = None
    if stdin:
        if test_files:
            raise UsageError("--stdin reads test output; it takes no test files", fix="drop the file arguments")
        if sys.stdin.isatty():
            raise UsageError("--stdin needs test output piped in", fix="pytest 2>&1 | mcpgw tests fix --stdin")
        output = sys.stdin.read()
    opts = AgentOptions(project_root(), _model_opts(layer, model, quality, budget), yes, json, timeout)
    with context.client() as client:
        run_tests_fix(client, opts, list(test_files or []), runner, output, rerun)


# --- refactor -------------------------------------------------------------------------------------


def describe_metrics(label: str, m: CodeMetrics, limit: int) -> str:
    worst = max(m.functions, key=lambda f: f.complexity, default=None)
    over = len([f for f in m.functions if f.complexity > limit])
    top = f" ({worst.name})" if worst else ""
    return (
        f"{label}: max complexity {m.max_complexity}{top}, {over} function(s) over {limit}, "
        f"{len(m.long_functions())} long, {len(m.duplicates)} duplicate block(s), {m.nloc} lines of code"
    )


def run_refactor(
    client: Any, opts: AgentOptions, file: str, max_complexity: int, check: bool, tests: bool
) -> RefactorResult | None:
    """Measure, ask, show the diff and metrics; unless --check, apply when confirmed and the tests still pass."""
    from mcpgw.agent.modes.refactor import RefactorOptions, RefactorResult, apply_refactor, plan_refactor
    from mcpgw.patch import DaemonJournal

    ropts = RefactorOptions(opts.root, _root_relative(opts.root, file), max_complexity, tests, timeout_s=opts.timeout_s)
    plan = plan_refactor(ropts, gateway_ask(client, opts), check_only=check)
    info(describe_metrics("before", plan.before, max_complexity))
    if plan.after is None:
        info(f"nothing to refactor: every function is at or below complexity {max_complexity}, no duplicates")
    else:
        info(describe_metrics("after ", plan.after, max_complexity))
    if plan.runner is None and plan.after is not None and not check:
        info("no tests detected (or --no-tests): behaviour is not verified")
    if plan.change is None:
        if plan.after is not None:
            info("the model proposed no change")
        if opts.json:
            print_json(plan.to_json())
        return None
    if not opts.json:
        sys.stdout.write(plan.diff)
    if check or not _confirm(opts, f"Apply the refactor of {ropts.path}?"):
        if opts.json:
            print_json(RefactorResult(plan).to_json())
        return None
    result = apply_refactor(plan, DaemonJournal(client))
    if opts.json:
        print_json(result.to_json())
    if result.tests is not None:
        info(f"tests after the refactor: {result.tests.summary()}")
    assert result.applied is not None
    info(f"applied; undo with: mcpgw apply --undo {result.applied.id[:12]}")
    return result


def refactor(
    file: Annotated[str, typer.Argument(help="The source file to refactor.")],
    max_complexity: Annotated[
        int, typer.Option("--max-complexity", help="Refactor functions above this cyclomatic complexity.")
    ] = 10,
    check: Annotated[bool, typer.Option("--check", help="Show the diff and metrics; write nothing.")] = False,
    tests: Annotated[
        bool, typer.Option("--tests/--no-tests", help="Check behaviour with the project's tests (when detected).")
    ] = True,
    yes: YesOpt = False, json: JsonOpt = False, timeout: TimeoutOpt = 300,
    layer: LayerOpt = None, model: ModelOpt = None, quality: QualityOpt = "normal", budget: BudgetOpt = None,
) -> None:  # fmt: skip
    """Behaviour-preserving refactor of FILE's most complex functions; refused when the tests fail after it."""
    opts = AgentOptions(project_root(), _model_opts(layer, model, quality, budget), yes, json, timeout)
    with context.client() as client:
        run_refactor(client, opts, file, max_complexity, check, tests)


# --- spec-first -----------------------------------------------------------------------------------


def show_iterations(result: SpecResult) -> None:
    for it in result.iterations:
        label = "tests only" if it.phase == "tests" else f"implementation {it.number}"
        info(f"  {label:18} {it.passed} passed, {it.failed} failed")


def run_spec(
    client: Any, opts: AgentOptions, requirements: str, framework: str | None, max_iterations: int,
    out: str, name: str | None,
) -> SpecResult:  # fmt: skip
    """Confirm the files to create, then run the spec-first loop and report."""
    from mcpgw.agent.modes.refactor import TestsFailed
    from mcpgw.agent.modes.spec_first import SPEC_FRAMEWORKS, SpecOptions, check, run_spec_first
    from mcpgw.agent.runner import detect_runner
    from mcpgw.errors import UsageError
    from mcpgw.patch import DaemonJournal

    fw = framework
    if fw is None:
        try:
            detected = detect_runner(str(opts.root))
        except UsageError:
            detected = "pytest"
        fw = detected if detected in SPEC_FRAMEWORKS else "pytest"
    if fw not in SPEC_FRAMEWORKS:
        raise UsageError(f"unknown framework {fw!r}", fix=f"use one of {', '.join(SPEC_FRAMEWORKS)}")
    out_rel = _root_relative(opts.root, out)
    sopts = SpecOptions(opts.root, requirements, fw, out_rel, name, max_iterations, opts.timeout_s)
    paths = check(sopts)
    if not opts.yes:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UsageError("spec-first writes files and needs confirmation", fix="pass --yes")
        if not typer.confirm(f"Create {paths.test} and {paths.impl} (up to {max_iterations} iterations)?"):
            raise UsageError("nothing was written")
    result = run_spec_first(sopts, gateway_ask(client, opts), DaemonJournal(client), progress=info)
    if opts.json:
        print_json(result.to_json())
    show_iterations(result)
    undo = f"mcpgw apply --undo {result.journal_id[:12]}" if result.journal_id else "nothing to undo"
    if not result.green:
        raise TestsFailed(
            f"the tests still fail after {max_iterations} iteration(s); {paths.test} and {paths.impl} are kept",
            fix=f"fix them by hand or run `mcpgw tests fix {paths.test}`; remove both with: {undo}",
        )
    info(f"green after {len(result.iterations) - 1} iteration(s): {paths.test}, {paths.impl}; undo with: {undo}")
    return result


def spec_first(
    requirements: Annotated[str, typer.Argument(help="What the code must do, in plain words.")],
    framework: Annotated[
        str | None, typer.Option("--framework", help="pytest | vitest | jest (default: detected, else pytest).")
    ] = None,
    max_iterations: Annotated[int, typer.Option("--max-iterations", help="Implementations to try at most.")] = 5,
    out: Annotated[str, typer.Option("--out", help="Directory for the test and implementation files.")] = ".",
    name: Annotated[str | None, typer.Option("--name", help="Module name (default: from the requirements).")] = None,
    yes: YesOpt = False, json: JsonOpt = False, timeout: TimeoutOpt = 300,
    layer: LayerOpt = None, model: ModelOpt = None, quality: QualityOpt = "normal", budget: BudgetOpt = None,
) -> None:  # fmt: skip
    """Tests first: generate tests, then the implementation, and iterate until they pass."""
    opts = AgentOptions(project_root(), _model_opts(layer, model, quality, budget), yes, json, timeout)
    with context.client() as client:
        run_spec(client, opts, requirements, framework, max_iterations, out, name)


def register(app: typer.Typer) -> None:
    """Wire ``tests`` (group), ``refactor`` and ``spec-first``."""
    app.add_typer(tests_app, name="tests")
    app.command("refactor")(refactor)
    app.command("spec-first")(spec_first)
