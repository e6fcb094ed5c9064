"""Gateway overhead benchmark: a fast fake upstream, called directly and through mcpgw (and LiteLLM's proxy).

    python scripts/bench_gateway.py [--seconds 3] [--concurrency 1 8 32] [--litellm-python /path/to/venv/bin/python]
                                    [--targets direct mcpgw litellm] [--py-spy profile.txt]

What it does, all on loopback:

1. starts a fake OpenAI upstream (raw asyncio + uvloop, canned answers) in its own process;
2. starts a real mcpgw daemon (private MCPGW_HOME) with its keyed TCP listener, routing ``mcpgw/auto`` to the
   fake; creates a developer key over the Unix socket; the response cache is off so every request goes upstream;
3. optionally starts LiteLLM's proxy (one worker, ``LITELLM_LOCAL_MODEL_COST_MAP=True``, a master key) on the
   same fake, from a separate virtual environment (LiteLLM is never a dependency of mcpgw);
4. drives each target with a raw-asyncio HTTP/1.1 keep-alive client at every concurrency for ``--seconds``,
   after a warm-up, and prints req/s, p50/p99 latency, the latency added over the direct call, streaming time
   to first byte, the server's CPU milliseconds per request (from /proc) and its RSS;
5. with ``--py-spy FILE``, samples the mcpgw daemon with py-spy (installed in the dev venv) while its load
   runs, writes the raw folded stacks to FILE and prints the functions with the most self and total samples.

The client is deliberately cheap (no httpx) so it does not dominate the machine it shares with the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
MASTER_KEY = "sk-bench-master-key"
TEXT = "Hello! This is a short answer from the fake upstream for the gateway benchmark."

# ---- the fake upstream (runs in a child process: `bench_gateway.py --serve-upstream PORT`) ------------------


def _canned() -> tuple[bytes, bytes]:
    completion = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 18, "total_tokens": 30},
    }
    body = json.dumps(completion).encode()
    plain = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)) + body
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-4o-mini"}
    events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    events += [
        {**base, "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
        for word in TEXT.split()
    ]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({**base, "choices": [], "usage": completion["usage"]})
    frames = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in frames) + b"0\r\n\r\n"
    stream = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n" + chunked
    return plain, stream


async def _serve_upstream(port: int) -> None:
    plain, stream = _canned()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                streaming = b'"stream":true' in body or b'"stream": true' in body
                writer.write(stream if streaming else plain)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=2048)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


# ---- the load client -----------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    host: str
    port: int
    path: str
    model: str
    headers: dict[str, str] = field(default_factory=dict)
    pid: int | None = None  # the server process whose CPU and RSS are measured

    def request(self, *, stream: bool, n: int) -> bytes:
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": f"benchmark request {n}"}],
                "stream": stream,
            }
        ).encode()
        head = [f"POST {self.path} HTTP/1.1", f"host: {self.host}:{self.port}", "content-type: application/json"]
        head += [f"{k}: {v}" for k, v in self.headers.items()]
        head.append(f"content-length: {len(body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, float | None]:
    """Read one response; returns (status, monotonic time of the first body byte)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    first: float | None = None
    if b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            if first is None:
                first = time.perf_counter()
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, first
            await reader.readexactly(size + 2)
    start = lower.find(b"content-length:")
    length = int(lower[start + 15 : lower.find(b"\r\n", start)]) if start >= 0 else 0
    if length:
        await reader.readexactly(length)
    return status, time.perf_counter()


async def _worker(
    target: Target,
    stream: bool,
    stop_at: float,
    warm_until: float,
    lat: list[float],
    ttfb: list[float],
    errs: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    n = 0
    try:
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            writer.write(target.request(stream=stream, n=n))
            n += 1
            status, first = await _read_response(reader)
            t1 = time.perf_counter()
            if t0 < warm_until:
                continue
            if status != 200:
                errs.append(status)
                continue
            lat.append(t1 - t0)
            if first is not None:
                ttfb.append(first - t0)
    finally:
        writer.close()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _rss_mb(pid: int) -> tuple[float, float]:
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


@dataclass
class Result:
    target: str
    concurrency: int
    stream: bool
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    ttfb_p50_ms: float
    cpu_ms_per_req: float | None
    rss_mb: float | None


async def run_load(target: Target, concurrency: int, seconds: float, *, stream: bool, warmup: float) -> Result:
    lat: list[float] = []
    ttfb: list[float] = []
    errs: list[int] = []
    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + seconds
    cpu0 = _cpu_s(target.pid) if target.pid else 0.0
    await asyncio.sleep(0)
    tasks = [
        asyncio.create_task(_worker(target, stream, stop_at, warm_until, lat, ttfb, errs)) for _ in range(concurrency)
    ]
    await asyncio.sleep(max(0.0, warm_until - time.perf_counter()))
    cpu_warm = _cpu_s(target.pid) if target.pid else cpu0
    await asyncio.gather(*tasks)
    cpu1 = _cpu_s(target.pid) if target.pid else 0.0
    measured = len(lat)  # only requests started after the warm-up are recorded
    cpu_ms = (cpu1 - cpu_warm) * 1000 / measured if target.pid and measured else None
    rss = _rss_mb(target.pid)[0] if target.pid else None
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0] * 1000] * 99 if lat else [0.0] * 99
    return Result(
        target=target.name,
        concurrency=concurrency,
        stream=stream,
        requests=len(lat),
        errors=len(errs),
        rps=len(lat) / seconds,
        p50_ms=statistics.median(lat) * 1000 if lat else 0.0,
        p99_ms=q[98] * 1000 if len(lat) >= 2 else 0.0,
        ttfb_p50_ms=statistics.median(ttfb) * 1000 if ttfb else 0.0,
        cpu_ms_per_req=cpu_ms,
        rss_mb=rss,
    )


# ---- servers -------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 120.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", path, headers=headers or {})
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    raise SystemExit(f"nothing answered on port {port} within {timeout:.0f} s")


def start_upstream(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve-upstream", str(port)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != b"ready":
        raise SystemExit("the fake upstream did not start")
    return proc


def start_mcpgw(home: Path, upstream_port: int, tcp_port: int) -> tuple[subprocess.Popen[bytes], str]:
    """A daemon in ``home`` with one provider (the fake) on every layer; returns (process, developer key)."""
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"""
[server]
log_level = "warning"

[providers.bench]
kind = "openai_compat"
base_url = "http://127.0.0.1:{upstream_port}/v1"
api_key = "sk-upstream"
models = ["gpt-4o-mini"]

[routing]
default_layer = "L0"
max_layer = "L1"
cross_check_quality = []

[routing.layers]
L0 = ["bench/gpt-4o-mini"]
L1 = ["bench/gpt-4o-mini"]
L2 = []
L3 = []

[routing.task_models]

[cache]
enabled = false
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "OLLAMA_HOST"}
    env["MCPGW_HOME"] = str(home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcpgw.daemon.server", "--tcp", f"127.0.0.1:{tcp_port}"],
        env=env,
        cwd=str(ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(tcp_port, "/v1/version")
    sys.path.insert(0, str(ROOT))
    from mcpgw.paths import resolve_paths

    paths = resolve_paths({"MCPGW_HOME": str(home)})
    import httpx

    with httpx.Client(transport=httpx.HTTPTransport(uds=str(paths.socket_path)), base_url="http://mcpgw") as c:
        key = c.post("/v1/keys", json={"role": "developer", "name": "bench"}).json()["key"]
    return proc, str(key)


def start_litellm(python: str, home: Path, upstream_port: int, port: int, workers: int) -> subprocess.Popen[bytes]:
    config = home / "litellm.yaml"
    config.write_text(
        f"""model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:{upstream_port}/v1
      api_key: sk-upstream
general_settings:
  master_key: {MASTER_KEY}
litellm_settings:
  drop_params: true
"""
    )
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    proc = subprocess.Popen(
        [python, "-c", "from litellm.proxy.proxy_cli import run_server; run_server()",
         "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", str(workers)],
        env=env,
        cwd=str(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_http(port, "/health/liveliness", timeout=180)
    return proc


def start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` (folded stacks, no idle frames) until stopped with SIGINT."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--format", "raw", "--rate", "250", "--nonblocking", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_py_spy(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def summarize_profile(path: Path, top: int = 25) -> None:
    """Print the hottest frames of a py-spy raw profile: by self samples, and by total (inclusive) samples."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + count
    if not samples:
        print(f"\nprofile {path}: no samples")
        return
    for title, table in (("self", own), ("total", total)):
        print(f"\nprofile {path} — top {top} by {title} samples ({samples} samples):")
        for frame, count in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"{100 * count / samples:6.1f}%  {frame}")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---- report --------------------------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def report(results: list[Result]) -> dict[str, Any]:
    direct = {(r.concurrency, r.stream): r for r in results if r.target == "direct"}
    print(
        f"\n{'target':<9}{'conc':>5}{'mode':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'+p50 ms':>9}"
        f"{'ttfb ms':>9}{'cpu ms/req':>11}{'rss MB':>8}{'errors':>7}"
    )
    for r in results:
        base = direct.get((r.concurrency, r.stream))
        added = r.p50_ms - base.p50_ms if base and r.target != "direct" else None
        print(
            f"{r.target:<9}{r.concurrency:>5}{'stream' if r.stream else 'json':>8}{r.rps:>10.0f}{r.p50_ms:>9.2f}"
            f"{r.p99_ms:>9.2f}{_fmt(added):>9}{(_fmt(r.ttfb_p50_ms) if r.stream else '-'):>9}"
            f"{_fmt(r.cpu_ms_per_req):>11}{_fmt(r.rss_mb, '.0f'):>8}{r.errors:>7}"
        )
    summary: dict[str, Any] = {}
    gw = {(r.concurrency, r.stream): r for r in results if r.target == "mcpgw"}
    ll = {(r.concurrency, r.stream): r for r in results if r.target == "litellm"}
    if (1, False) in gw and (1, False) in direct:
        summary["added_p50_ms_c1"] = round(gw[1, False].p50_ms - direct[1, False].p50_ms, 3)
    if (1, True) in gw and (1, True) in direct:
        summary["added_ttfb_p50_ms_c1"] = round(gw[1, True].ttfb_p50_ms - direct[1, True].ttfb_p50_ms, 3)
    cpu = [r.cpu_ms_per_req for r in gw.values() if r.cpu_ms_per_req is not None and not r.stream]
    if cpu:
        summary["mcpgw_cpu_ms_per_req_max"] = round(max(cpu), 3)
    rss = [r.rss_mb for r in gw.values() if r.rss_mb is not None]
    if rss:
        summary["mcpgw_rss_mb_max"] = round(max(rss), 1)
    ratios = {c: gw[c, False].rps / ll[c, False].rps for c, s in ll if not s and (c, False) in gw and ll[c, False].rps}
    if ratios:
        summary["throughput_vs_litellm"] = {str(c): round(v, 1) for c, v in sorted(ratios.items())}
    print("\nsummary: " + json.dumps(summary))
    return summary


async def bench(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="mgb", dir="/tmp"))
    up_port, gw_port, ll_port = free_port(), free_port(), free_port()
    upstream = daemon = litellm = None
    results: list[Result] = []
    try:
        upstream = start_upstream(up_port)
        daemon, key = start_mcpgw(home, up_port, gw_port)
        all_targets = [
            Target("direct", "127.0.0.1", up_port, "/v1/chat/completions", "gpt-4o-mini", pid=None),
            Target("mcpgw", "127.0.0.1", gw_port, "/v1/chat/completions", "mcpgw/auto",
                   {"authorization": f"Bearer {key}"}, pid=daemon.pid),
        ]  # fmt: skip
        if args.litellm_python and "litellm" in args.targets:
            litellm = start_litellm(args.litellm_python, home, up_port, ll_port, args.litellm_workers)
            all_targets.append(
                Target("litellm", "127.0.0.1", ll_port, "/v1/chat/completions", "gpt-4o-mini",
                       {"authorization": f"Bearer {MASTER_KEY}"}, pid=litellm.pid),
            )  # fmt: skip
        targets = [t for t in all_targets if t.name in args.targets]
        for target in targets:
            spy = start_py_spy(daemon.pid, Path(args.py_spy)) if args.py_spy and target.name == "mcpgw" else None
            if spy is not None:
                time.sleep(1.0)  # py-spy attaches before the load starts
            for concurrency in args.concurrency:
                seconds = args.seconds if target.name != "litellm" else max(args.seconds, 2.0)
                results.append(await run_load(target, concurrency, seconds, stream=False, warmup=args.warmup))
                print(f"  {target.name} c={concurrency}: {results[-1].rps:.0f} req/s", file=sys.stderr)
            results.append(await run_load(target, 1, args.seconds, stream=True, warmup=args.warmup))
            if spy is not None:
                stop_py_spy(spy)
        if daemon is not None:
            rss, peak = _rss_mb(daemon.pid)
            print(f"\nmcpgw daemon RSS now {rss:.0f} MB, peak {peak:.0f} MB", file=sys.stderr)
        summary = report(results)
        if args.py_spy and Path(args.py_spy).exists():
            summarize_profile(Path(args.py_spy))
        if args.json:
            Path(args.json).write_text(
                json.dumps({"results": [r.__dict__ for r in results], "summary": summary}, indent=2) + "\n"
            )
    finally:
        for proc in (litellm, daemon, upstream):
            stop(proc)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per run (default 3)")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per run, not measured")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--litellm-python", help="python of a venv with litellm[proxy] installed")
    parser.add_argument("--litellm-workers", type=int, default=1)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--targets", nargs="+", default=["direct", "mcpgw", "litellm"], choices=["direct", "mcpgw", "litellm"]
    )
    parser.add_argument("--py-spy", help="profile the mcpgw daemon during its runs; raw folded stacks to this file")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        uvloop = None  # type: ignore[assignment]
    runner = uvloop.run if uvloop is not None else asyncio.run
    if args.serve_upstream:
        with contextlib.suppress(KeyboardInterrupt):
            runner(_serve_upstream(args.serve_upstream))
        return
    runner(bench(args))


if __name__ == "__main__":
    main()
