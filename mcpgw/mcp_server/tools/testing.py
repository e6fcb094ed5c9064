"""``run_tests`` (pytest, vitest, jest, playwright; allow-listed commands, no shell) and
``analyze_test_failure`` (structured failures from pasted output, optional fix suggestions)."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from mcpgw.agent import triage
from mcpgw.agent.runner import cap_output, detect_runner
from mcpgw.agent.runner import run_tests as run_project_tests
from mcpgw.errors import UsageError
from mcpgw.mcp_server.tools.base import ToolContext, read_only, writes

Runner = Literal["auto", "pytest", "vitest", "jest", "playwright"]


class FailureOut(BaseModel):
    test_name: str
    file: str | None
    line: int | None
    failure_type: Literal["assertion", "timeout", "error", "exception"]
    message: str
    stack_trace: str


class RunTestsResult(BaseModel):
    runner: str
    command: list[str]
    exit_code: int | None = Field(description="The runner's exit code (None when it was killed).")
    timed_out: bool
    duration_ms: int
    passed: int | None
    failed: int | None
    skipped: int | None
    failures: list[FailureOut]
    output: str = Field(description="The runner's output (head and tail when long).")
    output_truncated: bool


class TriageSummary(BaseModel):
    total_failed: int
    failure_types: dict[str, int]
    affected_files: list[str]


class TriageResult(BaseModel):
    framework: str
    summary: TriageSummary
    failures: list[FailureOut]
    suggested_fixes: str | None = Field(None, description="The gateway's suggestions when suggest_fixes=true.")
    model: str | None = None


def _failures(report: triage.Report) -> list[FailureOut]:
    return [
        FailureOut(
            test_name=f.test_name,
            file=f.file,
            line=f.line,
            failure_type=f.failure_type,
            message=f.message,
            stack_trace=f.stack_trace,
        )
        for f in report.failures
    ]


def register(server: MCPServer, ctx: ToolContext) -> None:
    @server.tool(
        annotations=writes("Run tests", destructive=False, idempotent=True),
        description=(
            "Run the project's tests in the root and return structured results: counts and, for each failure, "
            "test name, file, line, failure type (assertion/timeout/error/exception), message and stack excerpt. "
            "runner: pytest, vitest, jest or playwright (auto-detected from package.json / Python markers). "
            "targets: test files, directories or pytest node ids under the root; keyword filters test names. "
            "Only the runner installed in the project is executed (no shell, no downloads)."
        ),
    )
    async def run_tests(
        runner: Annotated[Runner, Field(description="Test runner; 'auto' detects it.")] = "auto",
        targets: Annotated[list[str], Field(description="Test files/dirs/node ids relative to the root.")] = [],  # noqa: B006
        keyword: Annotated[str | None, Field(description="Only tests whose name matches (-k / -t / -g).")] = None,
        timeout_s: Annotated[int, Field(ge=1, le=3600, description="Kill the run after this many seconds.")] = 300,
        max_output_chars: Annotated[int, Field(ge=1000, le=200_000, description="Cap on returned output.")] = 20_000,
    ) -> RunTestsResult:
        chosen: triage.Framework = detect_runner(ctx.root) if runner == "auto" else runner
        run = await run_project_tests(
            ctx.root, chosen, list(targets), keyword, timeout_s=timeout_s, confine=ctx.sandbox.resolve
        )
        report = run.report
        shown, cut = cap_output(run.output, max_output_chars)
        return RunTestsResult(
            runner=chosen,
            command=[os.path.relpath(a, ctx.root) if a.startswith(ctx.root + os.sep) else a for a in run.command],
            exit_code=run.exit_code,
            timed_out=run.timed_out,
            duration_ms=run.duration_ms,
            passed=report.passed,
            failed=report.failed,
            skipped=report.skipped,
            failures=_failures(report),
            output=shown,
            output_truncated=cut,
        )

    @server.tool(
        annotations=read_only("Analyze test failures", open_world=True),
        description=(
            "Turn raw test output (pytest, vitest, jest or playwright; detected when not given) into structured "
            "failures: a summary (count, failure types, affected files) and per failure the test name, file, "
            "line, type, message and stack excerpt. With suggest_fixes=true the gateway's model proposes fixes, "
            "given the failures and the related files (paths under the root)."
        ),
    )
    async def analyze_test_failure(
        test_log: Annotated[str, Field(min_length=1, max_length=4_000_000, description="The raw test output.")],
        framework: Annotated[
            Literal["auto", "pytest", "vitest", "jest", "playwright"], Field(description="Which runner wrote it.")
        ] = "auto",
        files: Annotated[list[str], Field(description="Related source files under the root, for fixes.")] = [],  # noqa: B006
        suggest_fixes: Annotated[bool, Field(description="Ask the gateway's model for fixes (costs a call).")] = False,
        quality: Annotated[
            Literal["draft", "normal", "high", "production", "critical"], Field(description="Model quality tier.")
        ] = "normal",
    ) -> TriageResult:
        report = triage.parse(test_log, None if framework == "auto" else framework)
        if report is None:
            raise UsageError(
                "the log does not look like pytest, vitest, jest or playwright output",
                fix="pass framework= explicitly, or paste the runner's full console output",
            )
        result = TriageResult(
            framework=report.framework,
            summary=TriageSummary(
                total_failed=max(len(report.failures), report.failed or 0),
                failure_types=report.failure_types,
                affected_files=report.affected_files,
            ),
            failures=_failures(report),
        )
        if suggest_fixes and report.failures:
            result.suggested_fixes, result.model = await _suggest(ctx, result, files, quality)
        return result


async def _suggest(ctx: ToolContext, result: TriageResult, files: list[str], quality: str) -> tuple[str, str | None]:
    sources = []
    for path in files[:10]:
        got = ctx.sandbox.read(path, max_bytes=100_000)
        sources.append(f"--- {got.path}\n{got.content}")
    failures = json.dumps([f.model_dump() for f in result.failures[:20]], indent=1)
    prompt = (
        f"These {result.framework} tests fail. For each failure give the likely root cause and a fix as a "
        f"unified diff against the files shown (or say what to inspect if the files are not shown).\n\n"
        f"Failures:\n{failures}\n\n" + ("Files:\n" + "\n".join(sources) if sources else "")
    )
    body: dict[str, Any] = {
        "request_type": "mcp-tool",
        "task_type": "analyze",
        "quality": quality,
        "messages": [{"role": "user", "content": prompt}],
        "project_root": ctx.root,
    }
    from mcpgw.mcp_server.tools.gateway import envelope_text

    data = await ctx.link.post("/v1/chat", json=body)
    text, model = envelope_text(data)
    return text, model
