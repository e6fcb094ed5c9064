"""Output conventions shared by every command: data to stdout, messages to stderr, ``--json`` as JSON,
``NO_COLOR`` honoured (rich does), no spinners when stdout is not a terminal."""

from __future__ import annotations

import sys
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@cache
def out() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@cache
def err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def info(message: str) -> None:
    err().print(message, markup=False)


def fail_line(message: str, fix: str | None = None) -> None:
    err().print(f"[bold red]Error:[/] {escape(message)}")
    if fix:
        err().print(f"[yellow]Fix:[/] {escape(fix)}")


def escape(text: str) -> str:
    from rich.markup import escape as _escape

    return _escape(text)


def interactive() -> bool:
    return sys.stdout.isatty()


def coloured() -> bool:
    """Whether stdout gets colours, decided as rich decides it but without importing rich (a renderer with
    nothing to colour can then skip rich and pygments: ~60 ms of a one-shot command)."""
    import os

    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty() and os.environ.get("TERM", "") not in ("dumb", "unknown")
