"""Formats shared by the CLI and the TUI."""

from __future__ import annotations


def usd(value: float) -> str:
    """Money as people read it: 4 decimals, and more for tiny amounts so that they do not read as zero
    (``$0.000006`` rather than ``$0.0000``)."""
    if value == 0 or abs(value) >= 0.01:
        return f"${value:,.4f}"
    if abs(value) < 0.000001:
        return f"${value:.2e}"
    whole, _, decimals = f"{value:.6f}".partition(".")
    return f"${whole}.{decimals.rstrip('0').ljust(4, '0')}"
