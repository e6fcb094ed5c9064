"""Serving the daemon: one per user (lock file), a private Unix socket with a peer-uid check, an optional
TCP listener, graceful SIGTERM (drain in-flight requests, flush writes, remove the socket), rotated logs."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import logging
import logging.handlers
import os
import signal
import socket
import struct
import sys
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mcpgw._version import __version__
from mcpgw.config import Settings
from mcpgw.daemon.events import EventBus
from mcpgw.errors import ConfigError, DaemonError
from mcpgw.paths import Paths

log = logging.getLogger("mcpgw.daemon")

_PEERCRED = struct.Struct("3i")  # struct ucred {pid_t pid; uid_t uid; gid_t gid;}


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED), or None if unknown."""
    if sock.family != socket.AF_UNIX or not hasattr(socket, "SO_PEERCRED"):
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    _pid, uid, _gid = _PEERCRED.unpack(creds)
    return int(uid)


class PeerCheckedProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, refusing Unix-socket peers that are not this user (or root)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family == socket.AF_UNIX:
            uid = peer_uid(sock)
            if uid is not None and uid not in (os.getuid(), 0):
                log.warning("refused a connection from uid %s on the socket", uid)
                transport.close()
                return
        super().connection_made(transport)


class DaemonServer(uvicorn.Server):
    """uvicorn's server, ending live event streams as soon as a stop is asked for (they would hold up
    the drain of in-flight requests until the graceful-shutdown timeout)."""

    def __init__(self, config: uvicorn.Config, events: EventBus) -> None:
        super().__init__(config)
        self.events = events

    def handle_exit(self, sig: int, frame: Any) -> None:
        log.info("signal %d: draining in-flight requests", sig)
        self.events.close()
        super().handle_exit(sig, frame)


def setup_logging(paths: Paths, settings: Settings, *, foreground: bool) -> None:
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        paths.log_file, maxBytes=settings.server.log_max_bytes, backupCount=settings.server.log_backups
    )
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(fmt)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if foreground and sys.stderr.isatty():
        console = logging.StreamHandler()
        console.setFormatter(fmt)
        root.addHandler(console)
    root.setLevel(settings.server.log_level.upper())
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


class InstanceLock:
    """One daemon per user: an exclusive ``flock`` on the lock file, held for the daemon's life.

    The kernel drops the lock when the process dies (even on ``kill -9``), so a lock we can take means any
    socket or pid file left behind is stale and can be removed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise DaemonError(
                "another mcpgw daemon is already running for this user",
                fix="use `mcpgw daemon status`, or `mcpgw daemon restart`",
            ) from exc
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def bind_unix_socket(path: Path) -> socket.socket:
    """Bind the socket with mode 0600 from the start (umask), in a 0700 directory."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # stale: we hold the instance lock, so no live daemon owns it
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(512)
    sock.setblocking(False)
    return sock


def bind_tcp_socket(address: str, *, allow_remote: bool) -> socket.socket:
    host, _, port_text = address.rpartition(":")
    host = host.strip("[]")
    try:
        ip = ipaddress.ip_address(host if host != "localhost" else "127.0.0.1")
    except ValueError as exc:
        raise ConfigError(f"TCP address {address!r}: {host!r} is not an IP address") from exc
    if not ip.is_loopback:
        if not allow_remote:
            raise ConfigError(
                f"refusing to listen on the non-loopback address {address}",
                fix="pass --allow-remote (or set server.allow_remote = true) if you really mean it",
            )
        log.warning("listening on a non-loopback address %s: every request needs an API key", address)
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((str(ip), int(port_text)))
    except OSError as exc:
        sock.close()
        raise DaemonError(f"cannot listen on {address}: {exc.strerror}", fix="choose another port") from exc
    sock.listen(512)
    sock.setblocking(False)
    return sock


def serve(paths: Paths, settings: Settings, *, foreground: bool = True) -> None:
    """Run the daemon until SIGTERM/SIGINT. Raises DaemonError when another one is running."""
    from mcpgw.daemon.app import create_app

    paths.ensure()
    setup_logging(paths, settings, foreground=foreground)
    lock = InstanceLock(paths.lock_file)
    lock.acquire()
    sockets: list[socket.socket] = []
    try:
        sockets.append(bind_unix_socket(paths.socket_path))
        if settings.server.tcp:
            sockets.append(bind_tcp_socket(settings.server.tcp, allow_remote=settings.server.allow_remote))
        paths.pid_file.write_text(f"{os.getpid()}\n")
        events = EventBus()
        app = create_app(paths, settings, events=events)
        config = uvicorn.Config(
            app,
            http=PeerCheckedProtocol,
            loop="uvloop" if _has_uvloop() else "asyncio",
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=30,
            timeout_keep_alive=30,
        )
        server = DaemonServer(config, events)
        # uvicorn drains on SIGTERM, then re-raises the signal with the handler that was in place before it
        # started; make that handler a clean SystemExit so the cleanup below runs.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        log.info("mcpgw daemon %s serving on %s (pid %d)", __version__, paths.socket_path, os.getpid())
        server.run(sockets=sockets)
        if not server.started:
            raise DaemonError("the daemon failed to start; see `mcpgw daemon logs`")
    finally:
        for sock in sockets:
            sock.close()
        with contextlib.suppress(FileNotFoundError):
            paths.socket_path.unlink()
        with contextlib.suppress(FileNotFoundError):
            paths.pid_file.unlink()
        lock.release()
        log.info("mcpgw daemon stopped")


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> Any:
    """Entry for ``python -m mcpgw.daemon.server`` (what ``mcpgw daemon start`` spawns)."""
    from mcpgw.config import load_settings
    from mcpgw.paths import resolve_paths

    args = list(sys.argv[1:] if argv is None else argv)
    overrides: dict[str, Any] = {}
    if "--tcp" in args:
        overrides.setdefault("server", {})["tcp"] = args[args.index("--tcp") + 1]
    if "--allow-remote" in args:
        overrides.setdefault("server", {})["allow_remote"] = True
    try:
        paths = resolve_paths()
        settings = load_settings(paths.config_file, overrides=overrides)
        serve(paths, settings, foreground="--foreground" in args)
    except (DaemonError, ConfigError) as exc:
        print(f"mcpgw daemon: {exc.message}" + (f"\nFix: {exc.fix}" if exc.fix else ""), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
