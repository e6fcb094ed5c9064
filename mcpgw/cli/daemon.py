"""``mcpgw daemon start|stop|status|restart|logs|run``."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from mcpgw.cli import context
from mcpgw.cli.output import info, print_json

app = typer.Typer(help="Manage the background daemon (one per user, on a Unix socket).", no_args_is_help=True)

TcpOpt = Annotated[
    str | None, typer.Option("--tcp", help="Also listen on HOST:PORT (OpenAI-compatible, needs an API key).")
]
RemoteOpt = Annotated[bool, typer.Option("--allow-remote", help="Allow --tcp on a non-loopback address.")]


def _args(tcp: str | None, allow_remote: bool) -> list[str]:
    args: list[str] = []
    if tcp:
        args += ["--tcp", tcp]
    if allow_remote:
        args.append("--allow-remote")
    return args


@app.command("start")
def daemon_start(tcp: TcpOpt = None, allow_remote: RemoteOpt = False) -> None:
    """Start the daemon in the background (no-op when it is already running)."""
    from mcpgw.daemonctl import ping, start_daemon

    paths = context.paths()
    if ping(paths) is not None:
        info(f"mcpgw daemon already running on {paths.socket_path}")
        return
    data = start_daemon(paths, extra_args=_args(tcp, allow_remote))
    info(f"mcpgw daemon {data['version']} started (pid {data['pid']}) on {paths.socket_path}")


@app.command("stop")
def daemon_stop() -> None:
    """Stop the daemon: in-flight requests finish, pending writes are flushed, the socket is removed."""
    from mcpgw.daemonctl import stop_daemon

    if stop_daemon(context.paths()):
        info("mcpgw daemon stopped")
    else:
        info("mcpgw daemon is not running")


@app.command("restart")
def daemon_restart(tcp: TcpOpt = None, allow_remote: RemoteOpt = False) -> None:
    """Stop the daemon if it runs, then start it."""
    from mcpgw.daemonctl import start_daemon, stop_daemon

    paths = context.paths()
    stop_daemon(paths)
    data = start_daemon(paths, extra_args=_args(tcp, allow_remote))
    info(f"mcpgw daemon {data['version']} started (pid {data['pid']})")


@app.command("status")
def daemon_status(json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Is the daemon running? Exit 1 when it is not."""
    from mcpgw.daemonctl import ping

    paths = context.paths()
    data = ping(paths)
    status = {
        "running": data is not None,
        "pid": data["pid"] if data else None,
        "version": data["version"] if data else None,
        "socket": str(paths.socket_path),
        "db_path": data["db_path"] if data else str(paths.db_path),
        "uptime_s": data["uptime_s"] if data else None,
    }
    if json:
        print_json(status)
    elif data:
        print(
            f"running  pid {status['pid']}  version {status['version']}  up {_human(float(data['uptime_s']))}\n"
            f"socket   {status['socket']}\ndatabase {status['db_path']}"
        )
    else:
        print(f"not running (socket {status['socket']})")
    if not data:
        raise typer.Exit(1)


def _human(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


@app.command("logs")
def daemon_logs(
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many lines from the end.")] = 50,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines.")] = False,
) -> None:
    """Print the daemon's log (in the state directory)."""
    log_file = context.paths().log_file
    if not log_file.exists():
        info(f"no log yet at {log_file}")
        return
    with log_file.open("r", errors="replace") as fh:
        for line in fh.readlines()[-lines:]:
            print(line, end="")
        while follow:
            line = fh.readline()
            if line:
                print(line, end="", flush=True)
            else:
                time.sleep(0.2)


@app.command("run")
def daemon_run(tcp: TcpOpt = None, allow_remote: RemoteOpt = False) -> None:
    """Run the daemon in the foreground (Ctrl-C or SIGTERM stops it)."""
    from mcpgw.config import load_settings
    from mcpgw.daemon.server import serve

    overrides: dict[str, dict[str, object]] = {}
    if tcp:
        overrides["server"] = {"tcp": tcp}
    if allow_remote:
        overrides.setdefault("server", {})["allow_remote"] = True
    paths = context.paths()
    serve(paths, load_settings(paths.config_file, overrides=overrides), foreground=True)
