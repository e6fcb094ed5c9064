"""The layering rule (ARCHITECTURE §4): cli, tui and mcp_server are clients — they import mcpgw.client and shared
models, never the store, the providers or the gateway internals; the daemon and the MCP server never import
Textual. Checked statically over every import statement, including the ones inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "mcpgw"
CLIENT_PACKAGES = ("cli", "tui", "mcp_server")
FORBIDDEN_FOR_CLIENTS = ("mcpgw.store", "mcpgw.providers", "mcpgw.gateway", "mcpgw.daemon.app", "mcpgw.daemon.routes")
# (`mcpgw daemon run` serves the daemon in the foreground through mcpgw.daemon.server, which is allowed.)


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def files(package: str) -> list[Path]:
    return sorted((PKG / package).rglob("*.py"))


@pytest.mark.parametrize("package", CLIENT_PACKAGES)
def test_clients_go_through_the_daemon(package: str) -> None:
    bad = []
    for path in files(package):
        rel = str(path.relative_to(PKG))
        for name in imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_FOR_CLIENTS):
                bad.append(f"{rel}: {name}")
    assert bad == []


@pytest.mark.parametrize("package", ["daemon", "gateway", "store", "providers", "mcp_server", "search", "repomap"])
def test_server_side_never_imports_textual(package: str) -> None:
    bad = [
        f"{path.relative_to(PKG)}: {name}"
        for path in files(package)
        for name in imports(path)
        if name == "textual" or name.startswith("textual.")
    ]
    assert bad == []
