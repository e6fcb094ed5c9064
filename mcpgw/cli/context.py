"""What every command needs: paths, settings (loaded lazily) and a daemon client."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from mcpgw.paths import Paths, resolve_paths

if TYPE_CHECKING:
    from mcpgw.client import DaemonClient
    from mcpgw.config import Settings


@cache
def paths() -> Paths:
    return resolve_paths()


def settings() -> Settings:
    from mcpgw.config import load_settings

    return load_settings(paths().config_file)


def client(*, autostart: bool = True) -> DaemonClient:
    from mcpgw.client import DaemonClient

    return DaemonClient(paths(), autostart=autostart)
