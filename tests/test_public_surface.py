"""Each package's public surface is its ``__all__`` (kept sorted by ruff's RUF022), and every name in it exists
(CONVENTIONS §1)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "mcpgw", "mcpgw.gateway", "mcpgw.knowledge", "mcpgw.patch", "mcpgw.profiles", "mcpgw.providers",
    "mcpgw.repomap", "mcpgw.search", "mcpgw.store", "mcpgw.agent.triage",
]  # fmt: skip


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_resolvable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(set(exported)) == len(exported)
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == []
