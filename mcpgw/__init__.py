"""mcpgw: a local-first AI gateway for developers."""

from mcpgw._version import __version__

__all__ = ["__version__"]
