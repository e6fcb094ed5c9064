"""The ``mcpgw`` console entry point. ``mcpgw --version`` answers before the command tree is imported."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from mcpgw._version import __version__

        print(f"mcpgw {__version__}")
        return
    from mcpgw.cli.app import main as run

    run()
