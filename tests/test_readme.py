"""The README's command reference is generated from --help and must match the program."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_command_reference_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_cli_reference.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text[text.index("## Quick start"):][:800]
    assert "./scripts/run" in quick and "./scripts/test" in quick
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()
