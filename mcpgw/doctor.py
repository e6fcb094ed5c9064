"""``mcpgw doctor``'s checks. Each is a small function returning :class:`Check` (pass / warn / fail, a message
and, for a problem, the fix).

Two kinds: checks the CLI makes itself (daemon reachable and its version, config, permissions, git hooks,
disk), and checks that need the daemon's view (database, providers, Ollama, embedder, team backends,
budget), which the daemon runs for ``GET /v1/doctor`` through :func:`daemon_view`. When the daemon is
down, the CLI runs the same daemon-view checks itself against a read-only database connection, so a dead
daemon is a finding, not a crash.

Only the standard library is imported at module level; each check imports what it needs.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from mcpgw import errors

if TYPE_CHECKING:
    from mcpgw.config import Settings
    from mcpgw.paths import Paths
    from mcpgw.providers.base import ProviderSettings

Status = Literal["pass", "warn", "fail"]
T = TypeVar("T")
RunDB = Callable[[Callable[[Any], T]], Awaitable[T]]

PROBE_TIMEOUT_S = 3.0
OLLAMA_PROBE_TIMEOUT_S = 1.0
DISK_FAIL_BYTES = 200 * 1024 * 1024
DISK_WARN_BYTES = 2 * 1024 * 1024 * 1024
BUDGET_WARN_FRACTION = 0.8
KEYED_KINDS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "openrouter": "OPENROUTER_API_KEY"}


@dataclass(frozen=True)
class Check:
    """One finding. ``fix`` is set for warnings and failures; ``details`` is shown with ``-v``."""

    name: str
    status: Status
    message: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self, *, verbose: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "status": self.status, "message": self.message, "fix": self.fix}
        if verbose:
            data["details"] = self.details
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Check:
        raw = data.get("status")
        status: Status = raw if raw in ("pass", "warn", "fail") else "fail"
        details = dict(data.get("details") or {})
        return cls(str(data["name"]), status, str(data.get("message", "")), data.get("fix"), details)


def summary(checks: list[Check]) -> dict[str, int]:
    return {s: sum(1 for c in checks if c.status == s) for s in ("pass", "warn", "fail")}


# ---- checks the CLI makes -----------------------------------------------------------------------------


def check_daemon(paths: Paths) -> tuple[Check, dict[str, Any] | None]:
    """Is the daemon answering on its socket? Not running is a warning: commands start it on demand."""
    from mcpgw.daemonctl import ping, read_pid

    info = ping(paths, timeout=2.0)
    if info is not None:
        return Check(
            "daemon", "pass", f"running, pid {info['pid']}, up {float(info['uptime_s']):.0f} s",
            details={"socket": str(paths.socket_path), "db_path": info.get("db_path")},
        ), info
    pid = read_pid(paths)
    if pid is not None:
        return Check(
            "daemon", "fail", f"process {pid} is alive but does not answer on {paths.socket_path}",
            fix="`mcpgw daemon restart`; if it persists, see `mcpgw daemon logs`",
        ), None
    return Check(
        "daemon", "warn", f"not running (no answer on {paths.socket_path}); checked the database directly",
        fix="`mcpgw daemon start` (commands that need it also start it on demand)",
    ), None


def check_version(info: Mapping[str, Any] | None) -> Check:
    from mcpgw._version import __version__

    if info is None:
        return Check("version", "pass", f"CLI {__version__} (daemon not running)")
    theirs = str(info.get("version"))
    if theirs != __version__:
        return Check(
            "version", "warn", f"CLI {__version__}, daemon {theirs}",
            fix="`mcpgw daemon restart` to run the daemon of this version",
        )
    return Check("version", "pass", f"CLI and daemon {__version__}")


def check_config(paths: Paths, environ: Mapping[str, str] | None = None) -> tuple[Check, Settings | None]:
    """The user config parses and validates (with the environment applied)."""
    from mcpgw.config import load_settings

    try:
        settings = load_settings(paths.config_file, environ=environ)
    except errors.ConfigError as exc:
        return Check("config", "fail", exc.message, fix=exc.fix or f"edit {paths.config_file}"), None
    where = str(paths.config_file) if paths.config_file.exists() else f"defaults (no {paths.config_file})"
    return Check("config", "pass", f"valid: {where}"), settings


def check_project_policy(cwd: Path) -> Check:
    """The project policy file (``ai-mcp.config.json`` / ``.ai-mcp.yml``) at the repository root, if any."""
    from mcpgw.config import find_project_file, load_project_policy

    found = find_project_file(cwd)
    if found is None:
        return Check("project policy", "pass", "no project policy file here (user settings apply)")
    try:
        load_project_policy(found)
    except errors.ConfigError as exc:
        return Check("project policy", "fail", exc.message, fix=exc.fix or f"edit {found}")
    return Check("project policy", "pass", f"valid: {found}")


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


def check_permissions(paths: Paths) -> Check:
    """Socket directory 0700 and socket 0600, owned by us; data/config/state directories ours and writable."""
    problems: list[str] = []
    fixes: list[str] = []
    uid = os.getuid()
    runtime = _mode(paths.runtime_dir)
    if runtime is not None:
        if runtime & 0o077:
            problems.append(f"{paths.runtime_dir} is {runtime:o} (expected 700)")
            fixes.append(f"chmod 700 {paths.runtime_dir}")
        if paths.runtime_dir.stat().st_uid != uid:
            problems.append(f"{paths.runtime_dir} is owned by uid {paths.runtime_dir.stat().st_uid}")
            fixes.append(f"remove {paths.runtime_dir} and restart the daemon")
    sock = _mode(paths.socket_path)
    if sock is not None and sock & 0o077:
        problems.append(f"{paths.socket_path} is {sock:o} (expected 600)")
        fixes.append("`mcpgw daemon restart` recreates the socket with mode 600")
    for directory in (paths.config_dir, paths.data_dir, paths.state_dir):
        mode = _mode(directory)
        if mode is None:
            continue
        if not os.access(directory, os.W_OK | os.X_OK):
            problems.append(f"{directory} is not writable")
            fixes.append(f"chown $USER {directory} && chmod u+rwx {directory}")
        elif mode & 0o002:
            problems.append(f"{directory} is writable by everyone ({mode:o})")
            fixes.append(f"chmod o-w {directory}")
    if problems:
        return Check("permissions", "fail", "; ".join(problems), fix="; ".join(dict.fromkeys(fixes)))
    db_mode = _mode(paths.db_path)
    if db_mode is not None and db_mode & 0o044:
        return Check(
            "permissions", "warn", f"{paths.db_path} is readable by other users ({db_mode:o}); it holds prompts",
            fix=f"chmod 600 {paths.db_path}",
        )
    details = {"runtime_dir": f"{runtime:o}" if runtime is not None else None, "socket": f"{sock:o}" if sock else None}
    return Check("permissions", "pass", "socket and directories are private to you", details=details)


def check_git_hooks(cwd: Path) -> Check:
    """mcpgw's pre-commit/pre-push hooks in the repository around ``cwd`` (honours core.hooksPath)."""
    from mcpgw import hooks

    try:
        repo = hooks.repo_root(cwd)
        statuses = hooks.list_hooks(repo)
    except (errors.UsageError, OSError):
        return Check("git hooks", "pass", "not in a git repository (nothing to check)")
    installed = [s.name for s in statuses if s.installed]
    missing = [s.name for s in statuses if not s.installed]
    details = {s.name: s.path for s in statuses}
    if not missing:
        return Check("git hooks", "pass", f"{', '.join(installed)} installed in {repo}", details=details)
    other = [s.name for s in statuses if s.foreign]
    note = f" ({', '.join(other)}: another tool's hook, kept as .legacy on install)" if other else ""
    return Check(
        "git hooks", "warn", f"{', '.join(missing)} not installed in {repo}{note}",
        fix="`mcpgw hooks install` to review changes before commit/push", details=details,
    )


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


def check_disk(paths: Paths) -> Check:
    """Free space where the database lives."""
    target = paths.data_dir
    while not target.exists() and target != target.parent:
        target = target.parent
    usage = shutil.disk_usage(target)
    free = _human_bytes(usage.free)
    if usage.free < DISK_FAIL_BYTES:
        return Check(
            "disk space", "fail", f"only {free} free on the volume of {paths.data_dir}",
            fix="free some space: the database and its write-ahead log need room to grow",
        )
    if usage.free < DISK_WARN_BYTES:
        return Check(
            "disk space", "warn", f"{free} free on the volume of {paths.data_dir}",
            fix="free some space soon (`mcpgw history rm --before 90d` trims old history)",
        )
    return Check("disk space", "pass", f"{free} free", details={"volume": str(target), "total": usage.total})


def local_checks(paths: Paths, cwd: Path, environ: Mapping[str, str] | None = None) -> tuple[list[Check], Any, Any]:
    """The CLI-side checks; returns them with the daemon's version info and the settings (None if invalid)."""
    daemon_check, info = check_daemon(paths)
    config_check, settings = check_config(paths, environ)
    checks = [daemon_check, check_version(info), config_check, check_project_policy(cwd)]
    return checks, info, settings


def host_checks(paths: Paths, cwd: Path) -> list[Check]:
    return [check_permissions(paths), check_git_hooks(cwd), check_disk(paths)]


# ---- checks from the daemon's view ----------------------------------------------------------------------


def database_checks(conn: Any) -> list[Check]:
    """Integrity, migrations current, sqlite-vec and FTS5 usable, on an open connection."""
    import sqlean

    from mcpgw.store.migrations import MIGRATIONS

    out: list[Check] = []
    try:
        rows = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlean.Error as exc:
        rows = [str(exc)]
    if rows == ["ok"]:
        out.append(Check("database integrity", "pass", "quick_check ok"))
    else:
        out.append(Check(
            "database integrity", "fail", "; ".join(rows[:3]),
            fix="stop the daemon, keep a copy (`mcpgw db backup`), then restore a backup or move the file aside",
        ))
    try:
        applied = {int(r[0]): str(r[1]) for r in conn.execute("SELECT version, name FROM _migrations")}
    except sqlean.Error:
        applied = {}
    known = {m.version: m.name for m in MIGRATIONS}
    pending = [f"{v:04d}_{n}" for v, n in sorted(known.items()) if v not in applied]
    unknown = [f"{v:04d}_{n}" for v, n in sorted(applied.items()) if v not in known]
    if unknown:
        out.append(Check(
            "migrations", "fail", f"the database has migrations this mcpgw does not know: {', '.join(unknown)}",
            fix="upgrade mcpgw to the version that created this database",
        ))
    elif pending:
        out.append(Check(
            "migrations", "warn", f"{len(pending)} pending: {', '.join(pending)}",
            fix="`mcpgw daemon restart` applies them (the daemon migrates on start)",
        ))
    else:
        latest = max(known) if known else 0
        out.append(Check("migrations", "pass", f"current (schema {latest:04d})", details={"applied": len(applied)}))
    try:
        version = conn.execute("SELECT vec_version()").fetchone()[0]
        out.append(Check("sqlite-vec", "pass", f"loaded ({version})"))
    except sqlean.Error as exc:
        out.append(Check("sqlite-vec", "fail", f"not loadable: {exc}", fix="reinstall mcpgw (pip install sqlite-vec)"))
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.mcpgw_doctor_fts USING fts5(body)")
        conn.execute("DROP TABLE temp.mcpgw_doctor_fts")
        out.append(Check("fts5", "pass", "available"))
    except sqlean.Error as exc:
        out.append(Check("fts5", "fail", f"unavailable: {exc}", fix="reinstall mcpgw (sqlean.py ships FTS5)"))
    return out


def budget_check(conn: Any, settings: Settings, now: datetime | None = None) -> Check:
    """Today's and this month's spend (UTC, from ``llm_calls``) against the configured budgets."""
    import sqlean

    now = now or datetime.now(UTC)
    day, month = now.strftime("%Y-%m-%d"), now.strftime("%Y-%m-01")
    try:
        row = conn.execute(
            "SELECT COALESCE(SUM(CASE WHEN created_at >= ? THEN cost END), 0), COALESCE(SUM(cost), 0) "
            "FROM llm_calls WHERE created_at >= ?",
            (day, month),
        ).fetchone()
    except sqlean.Error as exc:
        return Check("budget", "warn", f"spend unknown: {exc}", fix="`mcpgw daemon restart` to migrate the database")
    spent_day, spent_month = float(row[0]), float(row[1])
    parts: list[str] = []
    worst: Status = "pass"
    for label, spent, limit in (
        ("today", spent_day, settings.budgets.daily_usd),
        ("this month", spent_month, settings.budgets.monthly_usd),
    ):
        if limit is None:
            parts.append(f"${spent:.4f} {label}")
            continue
        share = spent / limit if limit else (1.0 if spent else 0.0)
        parts.append(f"${spent:.4f} of ${limit:.2f} {label} ({share:.0%})")
        if share >= 1.0:
            worst = "fail"
        elif share >= BUDGET_WARN_FRACTION and worst == "pass":
            worst = "warn"
    details = {"spent_today_usd": spent_day, "spent_month_usd": spent_month}
    if settings.budgets.daily_usd is None and settings.budgets.monthly_usd is None:
        return Check("budget", "pass", f"no budget set; spent {', '.join(parts)}", details=details)
    fix = None
    if worst == "fail":
        fix = "paid requests are refused until the period resets; raise [budgets] in config.toml to continue"
    elif worst == "warn":
        fix = "close to the limit: use --layer L0 (free models) or raise [budgets] in config.toml"
    return Check("budget", worst, "; ".join(parts), fix=fix, details=details)


def provider_specs(settings: Settings, environ: Mapping[str, str]) -> tuple[list[ProviderSettings], list[Check]]:
    """The providers the daemon would use: ``[providers.*]`` from config, then the conventional env variables."""
    from pydantic import SecretStr, ValidationError

    from mcpgw.providers.base import DEFAULT_BASE_URLS, ProviderSettings, settings_from_env

    specs: list[ProviderSettings] = []
    problems: list[Check] = []
    for name, entry in settings.providers.items():
        if not entry.enabled:
            continue
        key = entry.api_key
        if key is None and entry.api_key_env and environ.get(entry.api_key_env):
            key = SecretStr(environ[entry.api_key_env])
        url = entry.base_url or DEFAULT_BASE_URLS.get(entry.kind)
        if url is None:
            problems.append(Check(
                f"provider {name}", "fail", f"kind {entry.kind} needs a base_url",
                fix=f'set base_url under [providers.{name}] in config.toml, e.g. "http://127.0.0.1:1234/v1"',
            ))
            continue
        try:
            specs.append(ProviderSettings(
                name=name, kind=entry.kind, base_url=url, api_key=key, headers=entry.headers,
                models=entry.models,
            ))
        except ValidationError as exc:
            problems.append(Check(
                f"provider {name}", "fail", str(exc.errors()[0]["msg"]), fix=f"fix [providers.{name}] in config.toml"
            ))
    taken = {s.name for s in specs} | set(settings.providers)
    specs += [s for s in settings_from_env(environ) if s.name not in taken]
    return specs, problems


async def probe_provider(spec: ProviderSettings, timeout: float = PROBE_TIMEOUT_S) -> Check:
    """Key present, endpoint reachable, models listed (configured models among them), one short try."""
    import asyncio

    from mcpgw.providers.base import DEFAULT_BASE_URLS, ProviderError
    from mcpgw.providers.registry import make_provider

    name = f"provider {spec.name}"
    env_var = KEYED_KINDS.get(spec.kind)
    needs_key = env_var is not None and (spec.kind != "openai" or spec.base_url == DEFAULT_BASE_URLS["openai"])
    if needs_key and spec.api_key is None:
        return Check(
            name, "fail", f"no API key for {spec.base_url}",
            fix=f"export {env_var}=…, or set api_key_env under [providers.{spec.name}] in config.toml",
        )
    quick = spec.model_copy(update={"timeout_s": timeout, "connect_timeout_s": timeout, "max_retries": 0})
    provider = make_provider(quick)
    started = time.perf_counter()
    try:
        models = await asyncio.wait_for(provider.list_models(), timeout + 1.0)
    except ProviderError as exc:
        return Check(
            name, "fail", f"{spec.base_url}: {exc.upstream_message}",
            fix=exc.fix or f"check the key and that {spec.base_url} is reachable from this machine",
        )
    except TimeoutError:
        return Check(name, "fail", f"{spec.base_url}: no answer in {timeout:.0f} s", fix="check the network/base_url")
    finally:
        await provider.aclose()
    ms = (time.perf_counter() - started) * 1000
    details = {"base_url": spec.base_url, "latency_ms": round(ms, 1), "models": len(models)}
    missing = [m for m in spec.models if m not in models and f"{m}:latest" not in models]
    if missing:
        return Check(
            name, "warn", f"reachable in {ms:.0f} ms, but does not list {', '.join(missing)}",
            fix=f"fix the models under [providers.{spec.name}] (it lists {len(models)} models)", details=details,
        )
    if not models:
        return Check(name, "warn", f"reachable in {ms:.0f} ms, but lists no models",
                     fix="pull or enable a model on that server", details=details)
    return Check(name, "pass", f"reachable in {ms:.0f} ms, {len(models)} models", details=details)


async def provider_checks(specs: list[ProviderSettings], problems: list[Check]) -> list[Check]:
    """Every provider probed in parallel."""
    import asyncio

    if not specs and not problems:
        return [Check(
            "providers", "warn", "no provider configured: only cached answers are possible",
            fix="export OPENAI_API_KEY / ANTHROPIC_API_KEY / OPENROUTER_API_KEY or OLLAMA_HOST, "
            "or add [providers.NAME] to config.toml",
        )]
    return [*problems, *await asyncio.gather(*(probe_provider(s) for s in specs))]


async def _get_json(url: str, timeout: float) -> Any:
    import httpx

    async with httpx.AsyncClient(timeout=timeout) as client:
        response = await client.get(url)
        response.raise_for_status()
        return response.json()


async def ollama_check(specs: list[ProviderSettings], environ: Mapping[str, str]) -> Check | None:
    """A local Ollama server, when it is not already a configured provider (then its provider line says it)."""
    import httpx

    from mcpgw.providers.base import _ollama_url

    if any(s.kind == "ollama" for s in specs):
        return None
    url = _ollama_url(environ.get("OLLAMA_HOST") or "127.0.0.1:11434")
    try:
        data = await _get_json(f"{url}/api/version", OLLAMA_PROBE_TIMEOUT_S)
    except (httpx.HTTPError, ValueError):
        return Check(
            "ollama", "warn", f"not reachable at {url}: no free local models",
            fix="install Ollama (https://ollama.com), run `ollama serve`, then export OLLAMA_HOST=127.0.0.1:11434",
        )
    version = data.get("version") if isinstance(data, dict) else None
    return Check(
        "ollama", "warn", f"running at {url} (version {version}) but not configured",
        fix=f"export OLLAMA_HOST={url} so L0 requests can use local models",
    )


async def embedder_check(settings: Settings, environ: Mapping[str, str]) -> Check:
    """Can semantic search embed? Otherwise search is keyword-only (a warning, not a failure)."""
    import importlib.util

    import httpx

    kind = settings.search.embedder
    keyword_only = "search runs keyword-only"
    if kind == "none":
        return Check("embedder", "warn", f'off (search.embedder = "none"): {keyword_only}',
                     fix='set search.embedder = "local" in config.toml for semantic search')
    if kind == "openai":
        if environ.get("OPENAI_API_KEY"):
            return Check("embedder", "pass", f"OpenAI {settings.search.openai_model} (key present)")
        return Check("embedder", "warn", f"OpenAI embeddings without OPENAI_API_KEY: {keyword_only}",
                     fix='export OPENAI_API_KEY=…, or set search.embedder = "local"')
    if kind == "ollama":
        from mcpgw.providers.base import _ollama_url

        url = _ollama_url(environ.get("OLLAMA_HOST") or "127.0.0.1:11434")
        model = settings.search.ollama_model
        try:
            data = await _get_json(f"{url}/api/tags", OLLAMA_PROBE_TIMEOUT_S)
        except (httpx.HTTPError, ValueError):
            return Check("embedder", "warn", f"Ollama not reachable at {url}: {keyword_only}",
                         fix="start Ollama (`ollama serve`), or set search.embedder = \"local\"")
        names = {str(m.get("name")) for m in (data.get("models") or []) if isinstance(m, dict)}
        if model in names or f"{model}:latest" in names:
            return Check("embedder", "pass", f"Ollama {model} at {url}")
        return Check("embedder", "warn", f"Ollama has no {model}: {keyword_only}", fix=f"ollama pull {model}")
    missing = [m for m in ("onnxruntime", "tokenizers") if importlib.util.find_spec(m) is None]
    if missing:
        return Check("embedder", "warn", f"{', '.join(missing)} not installed: {keyword_only}",
                     fix=f"pip install {' '.join(missing)}")
    from mcpgw.search.embedder import PREPARE_HINT, resolve_model_dir

    lookup = resolve_model_dir(settings.search.model_dir, allow_download=False, stock=kind == "minilm")
    if lookup.path is None:
        return Check("embedder", "warn", f"no local embedding model (looked in {', '.join(lookup.tried)}): "
                     f"{keyword_only}", fix=PREPARE_HINT.split(";")[0], details={"tried": list(lookup.tried)})
    return Check("embedder", "pass", f"local {lookup.path.name} at {lookup.path}")


def reranker_check(settings: Settings) -> Check:
    """Is hybrid search's cross-encoder there? Without it results are ranked by the fused scores alone."""
    from mcpgw.search.rerank import BUNDLED_RERANKER, has_reranker

    if not has_reranker(BUNDLED_RERANKER):
        return Check("reranker", "warn", f"missing from {BUNDLED_RERANKER}: `--rerank` is unavailable",
                     fix="reinstall mcpgw (pip install --force-reinstall mcpgw)")
    if not settings.search.rerank:
        return Check("reranker", "pass", f"{BUNDLED_RERANKER.name} available, used with `mcpgw search --rerank` "
                     "(search.rerank = true makes it the default)")
    return Check("reranker", "pass", f"{BUNDLED_RERANKER.name} re-reads the best hybrid hits (search.rerank = true)")


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def postgres_check(url: str, timeout: float = PROBE_TIMEOUT_S) -> Check:
    import asyncio

    try:
        import psycopg
    except ImportError:
        return Check("postgres", "fail", "team.postgres_url is set but psycopg is not installed",
                     fix="pip install 'mcpgw[team]'")
    shown = _safe_url(url)
    try:
        conn = await asyncio.wait_for(psycopg.AsyncConnection.connect(url, connect_timeout=int(timeout)), timeout + 1)
        async with conn:
            cur = await conn.execute("SHOW server_version")
            row = await cur.fetchone()
    except (psycopg.Error, OSError, TimeoutError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Check("postgres", "fail", f"{shown}: {first.replace(url, shown)}",
                     fix="check team.postgres_url and that the server accepts connections")
    return Check("postgres", "pass", f"{shown}: server {row[0] if row else '?'}")


async def redis_check(url: str, timeout: float = PROBE_TIMEOUT_S) -> Check:
    import asyncio

    try:
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError
    except ImportError:
        return Check(
            "redis", "fail", "team.redis_url is set but redis is not installed", fix="pip install 'mcpgw[team]'"
        )
    shown = _safe_url(url)
    client = aioredis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        await asyncio.wait_for(client.ping(), timeout + 1)
    except (RedisError, OSError, TimeoutError) as exc:
        return Check("redis", "fail", f"{shown}: {exc or type(exc).__name__}",
                     fix="check team.redis_url and that the server is running")
    finally:
        await client.aclose()
    return Check("redis", "pass", f"{shown}: PONG")


async def team_checks(settings: Settings) -> list[Check]:
    import asyncio

    team = settings.team
    if team is None or (team.postgres_url is None and team.redis_url is None):
        return [Check("team mode", "pass", "not configured (local only)")]
    probes = []
    if team.postgres_url is not None:
        probes.append(postgres_check(team.postgres_url.get_secret_value()))
    if team.redis_url is not None:
        probes.append(redis_check(team.redis_url.get_secret_value()))
    return list(await asyncio.gather(*probes))


async def daemon_view(
    run_db: RunDB[Any] | None,
    settings: Settings,
    environ: Mapping[str, str],
    *,
    providers: list[ProviderSettings] | None = None,
) -> list[Check]:
    """The checks that need the daemon's view, network probes in parallel. ``run_db`` runs a function on
    the database connection (None when there is no database yet). ``providers`` are the daemon's live
    provider settings when it has them; otherwise they are derived from config and environment."""
    import asyncio

    if providers is None:
        specs, problems = provider_specs(settings, environ)
    else:
        specs, problems = providers, []
    network = asyncio.gather(
        provider_checks(specs, problems), ollama_check(specs, environ), embedder_check(settings, environ),
        team_checks(settings),
    )
    if run_db is None:
        db_checks = [Check("database", "pass", "not created yet (the daemon creates it on first start)")]
        budget = budget_without_db(settings)
    else:
        db_checks = await run_db(database_checks)
        budget = await run_db(lambda conn: budget_check(conn, settings))
    provider_results, ollama, embedder, team = await network
    out = [*db_checks, *provider_results]
    if ollama is not None:
        out.append(ollama)
    out += [embedder, reranker_check(settings), *team, budget]
    return out


def budget_without_db(settings: Settings) -> Check:
    limits = [f"${v:.2f} {k}" for k, v in (("daily", settings.budgets.daily_usd),
                                          ("monthly", settings.budgets.monthly_usd)) if v is not None]
    return Check("budget", "pass", f"nothing spent yet; limits: {', '.join(limits) or 'none'}")


async def offline_view(paths: Paths, settings: Settings, environ: Mapping[str, str]) -> list[Check]:
    """:func:`daemon_view` without a daemon: a read-only connection to the database file, if there is one."""
    if not paths.db_path.exists():
        return await daemon_view(None, settings, environ)
    from mcpgw.store.db import connect_sync

    try:
        conn = connect_sync(paths.db_path, readonly=True)
    except errors.StoreError as exc:
        checks = await daemon_view(None, settings, environ)
        return [Check("database", "fail", exc.message, fix=exc.fix), *checks[1:]]

    async def run(fn: Callable[[Any], T]) -> T:
        return fn(conn)

    try:
        return await daemon_view(run, settings, environ)
    finally:
        conn.close()
