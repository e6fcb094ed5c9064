"""Where mcpgw keeps things. ``MCPGW_HOME`` relocates all of it into one directory (tests rely on this);
otherwise the XDG locations via platformdirs, and the socket in ``$XDG_RUNTIME_DIR/mcpgw``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mcpgw.errors import ConfigError

APP = "mcpgw"
# AF_UNIX paths are limited to 108 bytes including the terminating NUL on Linux.
MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    state_dir: Path
    cache_dir: Path
    runtime_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "mcpgw.db"

    @property
    def socket_path(self) -> Path:
        return self.runtime_dir / "daemon.sock"

    @property
    def pid_file(self) -> Path:
        return self.runtime_dir / "daemon.pid"

    @property
    def lock_file(self) -> Path:
        return self.runtime_dir / "daemon.lock"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "daemon.log"

    def ensure(self) -> None:
        """Create the directories; the runtime directory (socket) is private to the user."""
        for d in (self.config_dir, self.data_dir, self.state_dir, self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.runtime_dir, 0o700)


def resolve_paths(environ: Mapping[str, str] | None = None) -> Paths:
    env = os.environ if environ is None else environ
    home = env.get("MCPGW_HOME")
    if home:
        root = Path(home).expanduser().absolute()
        paths = Paths(root / "config", root / "data", root / "state", root / "cache", root / "run")
    else:
        import platformdirs

        state = Path(platformdirs.user_state_dir(APP))
        runtime_base = env.get("XDG_RUNTIME_DIR")
        runtime = Path(runtime_base) / APP if runtime_base else state / "run"
        paths = Paths(
            Path(platformdirs.user_config_dir(APP)),
            Path(platformdirs.user_data_dir(APP)),
            state,
            Path(platformdirs.user_cache_dir(APP)),
            runtime,
        )
    if len(os.fsencode(paths.socket_path)) > MAX_SOCKET_PATH:
        raise ConfigError(
            f"the socket path {paths.socket_path} is longer than the {MAX_SOCKET_PATH} bytes a Unix socket allows",
            fix="set MCPGW_HOME (or XDG_RUNTIME_DIR) to a shorter directory",
        )
    return paths
