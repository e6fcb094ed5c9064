"""Git hooks: install/uninstall/list the templates in ``hooks-templates/``, and run the checks they call.

Installing respects ``core.hooksPath`` (``git rev-parse --git-path hooks``), moves a foreign hook to
``<hook>.legacy`` (the template runs it first) and puts it back on uninstall. The templates call
``python -m mcpgw.hooks run <hook>``: this module imports only the standard library until there is a
file to review, so a commit with no matching files costs one git call and a Python start.

Settings come from the ``hooks`` key of the project policy file (``ai-mcp.config.json`` /
``.ai-mcp.yml``)::

    "hooks": {"patterns": ["*.py", "src/**/*.ts"], "blocking": false, "failOpen": true,
              "layer": "L0", "budgetUsd": 0.05, "maxFileBytes": 200000,
              "prePush": {"enabled": true, "blocking": false}}

Reviews go to the daemon's ``POST /v1/code-agent``; the hooks never start the daemon. When it is not
running, or no provider can answer, the hook passes with a one-line notice (``failOpen: false`` makes
that block instead). ``MCPGW_SKIP=1`` (and git's ``--no-verify``) skip the hooks.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mcpgw.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from mcpgw.client import DaemonClient

HOOKS = ("pre-commit", "pre-push")
MARKER = "mcpgw-managed-hook"
EXIT_BLOCKED = 3  # the templates turn this (and only this) into a failed hook
PROJECT_FILES = ("ai-mcp.config.json", ".ai-mcp.yml", ".ai-mcp.yaml")
DEFAULT_PATTERNS = (
    "*.py", "*.pyi", "*.js", "*.jsx", "*.mjs", "*.cjs", "*.ts", "*.tsx", "*.go", "*.rs", "*.java", "*.kt",
    "*.c", "*.h", "*.cc", "*.cpp", "*.hpp", "*.cs", "*.rb", "*.php", "*.swift", "*.scala", "*.sh", "*.sql",
)  # fmt: skip
ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class HookSettings:
    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    blocking: bool = False
    fail_open: bool = True
    layer: str = "L0"
    budget_usd: float = 0.05
    max_file_bytes: int = 200_000
    pre_push_enabled: bool = True
    pre_push_blocking: bool = False


def _git(repo: Path, *args: str, check: bool = True) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise UsageError("git is not installed or not on PATH") from exc
    if check and out.returncode != 0:
        raise UsageError(f"git {' '.join(args)} failed: {out.stderr.strip()}", fix="run this inside a git repository")
    return out.stdout


def repo_root(cwd: Path) -> Path:
    out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise UsageError(f"{cwd} is not inside a git repository", fix="cd into the repository first")
    return Path(out.stdout.strip())


def load_settings(repo: Path) -> HookSettings:
    """The ``hooks`` section of the project policy file, checked; defaults when there is none."""
    data: Any = {}
    for name in PROJECT_FILES:
        path = repo / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        doc = _parse_json(path, text) if name.endswith(".json") else _parse_yaml(path, text)
        data = doc.get("hooks", {}) if isinstance(doc, dict) else {}
        source = str(path)
        break
    else:
        return HookSettings()
    return _parse_settings(data, source)


def _parse_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}", fix=f"fix {path}") from exc


def _parse_yaml(path: Path, text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}", fix=f"fix the syntax in {path}") from exc


def _parse_settings(data: Any, source: str) -> HookSettings:
    def bad(key: str, expected: str) -> ConfigError:
        return ConfigError(f"{source}: key 'hooks.{key}': expected {expected}", fix=f"edit {source}")

    if not isinstance(data, dict):
        raise bad("", "an object")
    known = {"patterns", "blocking", "failOpen", "layer", "budgetUsd", "maxFileBytes", "prePush"}
    for key in data:
        if key not in known:
            raise ConfigError(f"{source}: unknown key 'hooks.{key}'", fix=f"known keys: {', '.join(sorted(known))}")
    kwargs: dict[str, Any] = {}
    if "patterns" in data:
        pats = data["patterns"]
        if not isinstance(pats, list) or not all(isinstance(p, str) for p in pats):
            raise bad("patterns", "a list of glob strings")
        kwargs["patterns"] = tuple(pats)
    for key, attr in (("blocking", "blocking"), ("failOpen", "fail_open")):
        if key in data:
            if not isinstance(data[key], bool):
                raise bad(key, "true or false")
            kwargs[attr] = data[key]
    if "layer" in data:
        if data["layer"] not in ("L0", "L1", "L2", "L3"):
            raise bad("layer", "one of L0, L1, L2, L3")
        kwargs["layer"] = data["layer"]
    if "budgetUsd" in data:
        value = data["budgetUsd"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise bad("budgetUsd", "a number ≥ 0")
        kwargs["budget_usd"] = float(value)
    if "maxFileBytes" in data:
        value = data["maxFileBytes"]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise bad("maxFileBytes", "a positive integer")
        kwargs["max_file_bytes"] = value
    push = data.get("prePush", {})
    if not isinstance(push, dict):
        raise bad("prePush", "an object")
    for key, attr in (("enabled", "pre_push_enabled"), ("blocking", "pre_push_blocking")):
        if key in push:
            if not isinstance(push[key], bool):
                raise bad(f"prePush.{key}", "true or false")
            kwargs[attr] = push[key]
    return HookSettings(**kwargs)


def matches(path: str, patterns: Iterable[str]) -> bool:
    """Whether ``path`` matches a pattern (a pattern without '/' also matches the file name alone)."""
    name = path.rsplit("/", 1)[-1]
    for pat in patterns:
        if fnmatch.fnmatchcase(path, pat) or ("/" not in pat and fnmatch.fnmatchcase(name, pat)):
            return True
        if "**/" in pat and fnmatch.fnmatchcase(path, pat.replace("**/", "")):
            return True
    return False


# ---- install / uninstall / list ----


def hooks_dir(repo: Path) -> Path:
    """Where git looks for hooks here: ``core.hooksPath`` if set, else ``.git/hooks``."""
    rel = _git(repo, "rev-parse", "--git-path", "hooks").strip()
    return (repo / rel).resolve()


def templates_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "hooks-templates", here.parent / "hooks-templates"):
        if (candidate / "pre-commit").is_file():
            return candidate
    raise UsageError(
        "the hook templates (hooks-templates/) are missing from this mcpgw installation",
        fix="reinstall mcpgw",
    )


def is_ours(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return MARKER.encode() in fh.read(4096)
    except OSError:
        return False


@dataclass(frozen=True)
class HookStatus:
    name: str
    path: str
    installed: bool
    foreign: bool
    legacy: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "installed": self.installed,
            "other_hook": self.foreign,
            "legacy": self.legacy,
        }


def list_hooks(repo: Path) -> list[HookStatus]:
    directory = hooks_dir(repo)
    out = []
    for name in HOOKS:
        path = directory / name
        ours = path.is_file() and is_ours(path)
        out.append(
            HookStatus(name, str(path), ours, path.exists() and not ours, (directory / f"{name}.legacy").exists())
        )
    return out


def render_template(name: str, python: str = sys.executable) -> str:
    text = (templates_dir() / name).read_text(encoding="utf-8")
    return text.replace("@MCPGW_PYTHON@", python.replace('"', '\\"'))


def install(repo: Path, names: Sequence[str], *, force: bool = False) -> list[str]:
    """Install hooks; a foreign hook is kept as ``<hook>.legacy`` and chained. Returns one line per hook."""
    directory = hooks_dir(repo)
    directory.mkdir(parents=True, exist_ok=True)
    messages = []
    for name in names:
        if name not in HOOKS:
            raise UsageError(f"unknown hook {name!r}", fix=f"choose from {', '.join(HOOKS)}")
        target = directory / name
        legacy = directory / f"{name}.legacy"
        note = ""
        if target.exists() and not is_ours(target):
            if legacy.exists() and not force:
                raise UsageError(
                    f"{target} exists and {legacy} is already taken",
                    fix="move one of them aside, or pass --force to replace the .legacy copy",
                )
            os.replace(target, legacy)
            note = f" (your previous hook is kept as {legacy.name} and still runs first)"
        tmp = directory / f".{name}.mcpgw-tmp"
        tmp.write_text(render_template(name), encoding="utf-8")
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
        messages.append(f"installed {name} in {directory}{note}")
    return messages


def uninstall(repo: Path, names: Sequence[str] = HOOKS) -> list[str]:
    """Remove our hooks and put any ``.legacy`` hook back; foreign hooks are left alone."""
    directory = hooks_dir(repo)
    messages = []
    for name in names:
        target = directory / name
        legacy = directory / f"{name}.legacy"
        if target.exists() and not is_ours(target):
            messages.append(f"{name}: not installed by mcpgw; left alone")
            continue
        if not target.exists() and not legacy.exists():
            messages.append(f"{name}: not installed")
            continue
        target.unlink(missing_ok=True)
        if legacy.exists():
            os.replace(legacy, target)
            messages.append(f"removed {name}; restored your previous hook")
        else:
            messages.append(f"removed {name}")
    return messages


# ---- running ----


@dataclass
class Finding:
    path: str
    line: int | None
    message: str
    severity: str = "warning"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass
class RunReport:
    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    spent_usd: float = 0.0
    notice: str | None = None
    exit_code: int = 0


def staged_files(repo: Path) -> list[str]:
    out = _git(repo, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR")
    return [p for p in out.split("\0") if p]


def pushed_files(repo: Path, stdin_text: str) -> list[tuple[str, str]]:
    """(commit, path) pairs for the files changed by a push (git's pre-push stdin), else vs. the upstream."""
    pairs: list[tuple[str, str]] = []
    ranges: list[tuple[str, str]] = []
    for line in stdin_text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[1] != ZERO_SHA:
            ranges.append((parts[3], parts[1]))
    env_from, env_to = os.environ.get("PRE_COMMIT_FROM_REF"), os.environ.get("PRE_COMMIT_TO_REF")
    if not ranges and env_from and env_to:
        ranges.append((env_from, env_to))
    if not ranges and not stdin_text.strip():
        upstream = _git(repo, "rev-parse", "--verify", "-q", "@{upstream}", check=False).strip()
        if upstream:
            ranges.append((_git(repo, "merge-base", upstream, "HEAD").strip(), "HEAD"))
    for remote, local in ranges:
        if remote == ZERO_SHA:
            out = _git(repo, "log", "--name-only", "--format=", "-z", "--diff-filter=ACMR", local, "--not", "--remotes")
        else:
            out = _git(repo, "diff", "--name-only", "-z", "--diff-filter=ACMR", f"{remote}..{local}", check=False)
        for p in out.replace("\n", "\0").split("\0"):
            if p and (local, p) not in pairs:
                pairs.append((local, p))
    return pairs


def _blob(repo: Path, spec: str) -> bytes | None:
    out = subprocess.run(["git", "show", spec], cwd=repo, capture_output=True, check=False)
    return out.stdout if out.returncode == 0 else None


def _findings(path: str, answer: Any) -> list[Finding]:
    """Findings from a ``/v1/code-agent`` answer: its ``findings`` (review mode), or the answer's lines."""
    result = answer.get("result", answer) if isinstance(answer, dict) else answer
    items = answer.get("findings") if isinstance(answer, dict) else None
    if items is None and isinstance(result, dict):
        items = result.get("findings")
    if isinstance(items, list):
        out = []
        for item in items:
            if isinstance(item, dict) and item.get("message"):
                line = item.get("line")
                out.append(
                    Finding(
                        path,
                        line if isinstance(line, int) else None,
                        str(item["message"]),
                        str(item.get("severity", "warning")),
                    )
                )
        return out
    text = result.get("text") if isinstance(result, dict) else result
    if isinstance(text, str):
        return [Finding(path, None, ln.strip()) for ln in text.splitlines() if ln.strip()]
    return []


def _cost(answer: Any) -> float:
    if not isinstance(answer, dict):
        return 0.0
    for section in ("performance", "routing"):
        part = answer.get(section)
        if isinstance(part, dict):
            for key in ("cost_usd", "cost", "total_cost"):
                if isinstance(part.get(key), int | float):
                    return float(part[key])
    return 0.0


ClientFactory = Callable[[], "DaemonClient"]


def _default_client() -> DaemonClient:
    from mcpgw.client import DaemonClient
    from mcpgw.paths import resolve_paths

    return DaemonClient(resolve_paths(), autostart=False, timeout=120.0)


def review(
    repo: Path,
    hook: str,
    targets: Sequence[tuple[str, bytes]],
    settings: HookSettings,
    client_factory: ClientFactory = _default_client,
) -> RunReport:
    """Send each file to the gateway within the per-run budget; unavailability becomes a notice."""
    from mcpgw import errors

    report = RunReport(files=[p for p, _ in targets])
    blocking = settings.blocking if hook == "pre-commit" else settings.pre_push_blocking
    mode = "review" if hook == "pre-commit" else "analyze"
    task = (
        "Review this file before commit. Report only real problems (bugs, security issues, broken logic) "
        "as findings with line numbers; say nothing about style."
        if hook == "pre-commit"
        else "Suggest the most valuable refactorings or quality improvements for this file (suggestions only)."
    )
    try:
        with client_factory() as client:
            for path, content in targets:
                left = settings.budget_usd - report.spent_usd
                if left <= 0:
                    report.notice = f"mcpgw: the {hook} budget (${settings.budget_usd:.2f}) is spent; rest skipped"
                    break
                answer = client.post(
                    "/v1/code-agent",
                    json={
                        "task": task,
                        "path": path,
                        "content": content.decode("utf-8", "replace"),
                        "mode": mode,
                        "layer": settings.layer,
                        "budget_usd": left,
                        "project_root": str(repo),
                        "request_type": "hook",
                    },
                )
                report.spent_usd += _cost(answer)
                report.findings.extend(_findings(path, answer))
    except errors.DaemonError:
        report.notice = f"mcpgw: daemon not running; {hook} review skipped (start it: mcpgw daemon start)"
    except (errors.NoRoute, errors.UpstreamError) as exc:
        report.notice = f"mcpgw: no model available ({exc.message}); {hook} review skipped"
    except errors.BudgetExceeded as exc:
        report.notice = f"mcpgw: budget exceeded ({exc.message}); {hook} review skipped"
    except errors.NotFound:
        report.notice = f"mcpgw: this daemon has no code review endpoint; {hook} review skipped"
    if report.notice and not report.findings and not settings.fail_open:
        report.exit_code = EXIT_BLOCKED
        report.notice += " — blocking because hooks.failOpen is false"
    elif blocking and any(f.severity in ("error", "warning") for f in report.findings):
        report.exit_code = EXIT_BLOCKED
    return report


def run_hook(
    hook: str,
    repo: Path,
    *,
    files: Sequence[str] = (),
    stdin_text: str = "",
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    verbose: bool = False,
    client_factory: ClientFactory = _default_client,
) -> int:
    """What an installed hook does. Exit codes: 0 pass, ``EXIT_BLOCKED`` block."""
    if hook not in HOOKS:
        raise UsageError(f"unknown hook {hook!r}", fix=f"choose from {', '.join(HOOKS)}")
    if os.environ.get("MCPGW_SKIP", "").lower() in ("1", "true", "yes"):
        if verbose:
            print("MCPGW_SKIP is set: hook skipped", file=err)
        return 0
    settings = load_settings(repo)
    targets: list[tuple[str, bytes]] = []
    if hook == "pre-commit":
        paths = list(files) if files else staged_files(repo)
        for p in paths:
            if matches(p, settings.patterns):
                data = (repo / p).read_bytes() if files else _blob(repo, f":{p}")
                if data is not None and len(data) <= settings.max_file_bytes and b"\0" not in data[:8000]:
                    targets.append((p, data))
    elif settings.pre_push_enabled:
        for commit, p in pushed_files(repo, stdin_text):
            if matches(p, settings.patterns):
                data = _blob(repo, f"{commit}:{p}")
                if data is not None and len(data) <= settings.max_file_bytes and b"\0" not in data[:8000]:
                    targets.append((p, data))
    if not targets:
        if verbose:
            print(f"{hook}: no files match the configured patterns; nothing to check", file=err)
        return 0
    report = review(repo, hook, targets, settings, client_factory)
    for finding in report.findings:
        print(finding, file=out)
    if report.notice:
        print(report.notice, file=err)
    if report.exit_code == EXIT_BLOCKED:
        if report.findings:
            print(
                f"mcpgw: {hook} blocked by {len(report.findings)} finding(s); fix them, or skip once with "
                "--no-verify (or MCPGW_SKIP=1)",
                file=err,
            )
    elif verbose or report.findings:
        print(f"mcpgw: {hook} checked {len(report.files)} file(s), {len(report.findings)} finding(s)", file=err)
    return report.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mcpgw.hooks run HOOK [FILES…]``: the fast entry the templates call."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[0] != "run":
        print("usage: python -m mcpgw.hooks run pre-commit|pre-push [FILES…]", file=sys.stderr)
        return 2
    hook, rest = args[1], args[2:]
    from mcpgw.errors import MCPGWError

    try:
        repo = repo_root(Path.cwd())
        stdin_text = sys.stdin.read() if hook == "pre-push" and not sys.stdin.isatty() else ""
        files = rest if hook == "pre-commit" else ()
        return run_hook(hook, repo, files=files, stdin_text=stdin_text)
    except MCPGWError as exc:
        print(f"mcpgw: {exc.message}" + (f" (fix: {exc.fix})" if exc.fix else ""), file=sys.stderr)
        return EXIT_BLOCKED if isinstance(exc, ConfigError) else 1


if __name__ == "__main__":
    sys.exit(main())
