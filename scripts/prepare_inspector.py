"""Install the pinned MCP Inspector CLI into a cache directory outside the repository (idempotent).

The Inspector's v2 line needs Node >= 22.19; CI machines have Node 20, so we pin the last v1 release,
which runs on Node 20 (npm only warns about its engines field). Installed with `npm install --prefix`
from the npm registry into ``$MCPGW_NODE_CACHE`` (default ``~/.cache/mcpgw-node``)/inspector-<version>;
a ``.complete`` marker makes re-runs instant. Prints the path of the ``mcp-inspector`` binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = "@modelcontextprotocol/inspector"
VERSION = "1.0.3"


def install_dir() -> Path:
    base = os.environ.get("MCPGW_NODE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mcpgw-node"
    )
    return Path(base) / f"inspector-{VERSION}"


def binary() -> Path:
    return install_dir() / "node_modules" / ".bin" / "mcp-inspector"


def main() -> int:
    target = install_dir()
    if (target / ".complete").exists() and binary().exists():
        print(binary())
        return 0
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        print("prepare_inspector: node and npm are needed (Node >= 20)", file=sys.stderr)
        return 1
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "package.json").write_text('{"name": "mcpgw-inspector", "private": true}\n')
    print(f"prepare_inspector: installing {PACKAGE}@{VERSION} into {target} …", file=sys.stderr)
    result = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(staging),
         f"{PACKAGE}@{VERSION}"],
        stdout=sys.stderr,
    )  # fmt: skip
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        print(f"prepare_inspector: npm install failed (exit {result.returncode})", file=sys.stderr)
        return result.returncode
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    (target / ".complete").write_text(VERSION + "\n")
    print(binary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
