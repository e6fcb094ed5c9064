"""Test-output parsers for the MCP tools; they live in :mod:`mcpgw.agent.triage` (shared with the CLI)."""

from mcpgw.agent.triage.parsers import (
    FRAMEWORKS,
    PARSERS,
    Failure,
    FailureType,
    Framework,
    Report,
    detect,
    parse,
    parse_jest,
    parse_playwright,
    parse_pytest,
    parse_vitest,
    strip_ansi,
)

__all__ = [
    "FRAMEWORKS",
    "PARSERS",
    "Failure",
    "FailureType",
    "Framework",
    "Report",
    "detect",
    "parse",
    "parse_jest",
    "parse_playwright",
    "parse_pytest",
    "parse_vitest",
    "strip_ansi",
]
