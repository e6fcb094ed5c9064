"""Editor configuration for the MCP server: the snippet each client expects, merged into its config
file (any existing file is backed up first and written atomically), or printed.

    claude-desktop  claude_desktop_config.json   {"mcpServers": {"mcpgw": {command, args}}}
    vscode          <root>/.vscode/mcp.json      {"servers": {"mcpgw": {type: "stdio", command, args}}}
    cursor          <root>/.cursor/mcp.json      {"mcpServers": {"mcpgw": {command, args}}}
    claude-code     <root>/.mcp.json             {"mcpServers": {"mcpgw": {type: "stdio", command, args}}}
                    (or `claude mcp add mcpgw -- <command> <args…>`)
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mcpgw.errors import ConfigError, UsageError

ClientName = Literal["claude-desktop", "vscode", "cursor", "claude-code"]
CLIENTS: tuple[ClientName, ...] = ("claude-desktop", "vscode", "cursor", "claude-code")
SERVER_NAME = "mcpgw"


@dataclass(frozen=True)
class InstallResult:
    client: ClientName
    path: Path | None
    snippet: dict[str, Any]
    backup: Path | None
    written: bool
    command_line: str


def server_command(root: Path) -> tuple[str, list[str]]:
    """The command an editor runs: the ``mcpgw`` script next to this Python, else ``python -m mcpgw``."""
    script = Path(sys.executable).parent / "mcpgw"
    args = ["mcp", "serve", "--root", str(root)]
    if script.is_file() and os.access(script, os.X_OK):
        return str(script), args
    return sys.executable, ["-m", "mcpgw", *args]


def claude_desktop_config_path(home: Path | None = None) -> Path:
    home = home or Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", home / "AppData" / "Roaming")) / "Claude" / "claude_desktop_config.json"
    base = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return base / "Claude" / "claude_desktop_config.json"


def default_path(client: ClientName, root: Path) -> Path:
    if client == "claude-desktop":
        return claude_desktop_config_path()
    if client == "vscode":
        return root / ".vscode" / "mcp.json"
    if client == "cursor":
        return root / ".cursor" / "mcp.json"
    return root / ".mcp.json"


def snippet(client: ClientName, root: Path) -> dict[str, Any]:
    """The config fragment for ``client`` (the part under its servers key)."""
    command, args = server_command(root)
    entry: dict[str, Any] = {"command": command, "args": args}
    if client in ("vscode", "claude-code"):
        entry = {"type": "stdio", **entry}
    key = "servers" if client == "vscode" else "mcpServers"
    return {key: {SERVER_NAME: entry}}


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except ValueError as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc}); it was left untouched",
            fix="fix or move the file, or use --print and add the snippet by hand",
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} does not hold a JSON object; it was left untouched", fix="fix or move the file")
    return data


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install(client: str, root: Path, *, path: Path | None = None, print_only: bool = False) -> InstallResult:
    """Merge the mcpgw entry into the client's config (backing up an existing file), or just build it."""
    if client not in CLIENTS:
        raise UsageError(f"unknown client {client!r}", fix=f"use one of: {', '.join(CLIENTS)}")
    name: ClientName = client  # type: ignore[assignment]
    root = root.expanduser().resolve()
    if not root.is_dir():
        raise UsageError(f"the root {root} is not a directory", fix="pass --root DIR")
    frag = snippet(name, root)
    command, args = server_command(root)
    command_line = shlex.join(["claude", "mcp", "add", SERVER_NAME, "--", command, *args])
    target = (path or default_path(name, root)).expanduser()
    if print_only:
        return InstallResult(name, None, frag, None, False, command_line)
    data = _load(target)
    key = next(iter(frag))
    servers = data.setdefault(key, {})
    if not isinstance(servers, dict):
        raise ConfigError(f"{target}: {key!r} is not an object; it was left untouched", fix="fix the file")
    servers.update(frag[key])
    backup = None
    if target.exists():
        backup = target.with_name(f"{target.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while backup.exists():
            backup = target.with_name(f"{target.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
            n += 1
        backup.write_bytes(target.read_bytes())
    _write_atomic(target, json.dumps(data, indent=2) + "\n")
    return InstallResult(name, target, frag, backup, True, command_line)
