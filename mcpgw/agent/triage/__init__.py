"""Test-failure triage: parsers for pytest, vitest, jest and playwright output, and the analysis of a run."""

from mcpgw.agent.triage.analysis import (
    FailureAnalysis,
    TestTriageResult,
    TriageSummary,
    analyze,
    root_cause,
    triage,
)
from mcpgw.agent.triage.parsers import (
    FRAMEWORKS,
    PARSERS,
    Failure,
    FailureType,
    Framework,
    Report,
    detect,
    parse,
    strip_ansi,
)

__all__ = [
    "FRAMEWORKS",
    "PARSERS",
    "Failure",
    "FailureAnalysis",
    "FailureType",
    "Framework",
    "Report",
    "TestTriageResult",
    "TriageSummary",
    "analyze",
    "detect",
    "parse",
    "root_cause",
    "strip_ansi",
    "triage",
]
