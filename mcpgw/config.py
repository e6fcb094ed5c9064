"""Configuration: one pydantic model per section, merged with this precedence (low → high):

built-in defaults → ``config.toml`` in the config dir → project policy file at the git root
(``ai-mcp.config.json`` / ``.ai-mcp.yml``) → environment (``MCPGW_SECTION__KEY``, provider variables, the
roadmap's ``COST_*`` variables) → CLI flags.

An invalid file is a :class:`~mcpgw.errors.ConfigError` naming the file, the key or line, and what was
expected. Secrets are ``SecretStr`` and are masked by :func:`masked_dump`.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from mcpgw.errors import ConfigError

Layer = Literal["L0", "L1", "L2", "L3"]
LAYERS: tuple[Layer, ...] = ("L0", "L1", "L2", "L3")
Quality = Literal["draft", "normal", "high", "production", "critical"]
TaskType = Literal["chat", "code", "analyze", "createProject", "review"]
PROJECT_FILES = ("ai-mcp.config.json", ".ai-mcp.yml", ".ai-mcp.yaml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ServerSettings(_Section):
    tcp: str | None = Field(None, description="host:port of the optional keyed TCP listener; off when unset")
    allow_remote: bool = Field(False, description="allow the TCP listener to bind a non-loopback address")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_max_bytes: int = 5_000_000
    log_backups: int = 3

    @field_validator("tcp")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8787")
        return value


class ProviderEntry(_Section):
    """A provider as written in config.toml: ``[providers.NAME]``."""

    kind: Literal["openai", "openrouter", "anthropic", "ollama", "openai_compat"]
    base_url: str | None = None
    api_key: SecretStr | None = None
    api_key_env: str | None = Field(None, description="read the key from this environment variable")
    models: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = 60.0
    max_retries: int = 2
    enabled: bool = True


class RoutingSettings(_Section):
    layers: dict[Layer, list[str]] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "L0": [
                "openrouter/meta-llama/llama-3.3-70b-instruct:free",
                "openrouter/x-ai/grok-4.1-fast:free",
                "ollama/*",
            ],
            "L1": ["openai/gpt-4o-mini", "openai/gpt-4.1-mini"],
            "L2": ["anthropic/claude-3-haiku", "openai/gpt-4o", "anthropic/claude-haiku-4-5"],
            "L3": ["anthropic/claude-3.5-sonnet", "anthropic/claude-sonnet-4-5"],
        },
        description="model references per layer, tried in order; 'ollama/*' means every local Ollama model",
    )
    task_models: dict[str, dict[Layer, list[str]]] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "code": {"L0": ["openrouter/qwen/qwen-2.5-coder-32b-instruct:free"], "L2": ["anthropic/claude-3-haiku"]},
            "analyze": {"L2": ["openai/gpt-4o"]},
        },
        description="task-specific preferences, tried before the layer's general list",
    )
    default_layer: Layer = "L0"
    max_layer: Layer = "L2"
    auto_escalate: bool = True
    cross_check_quality: list[Quality] = Field(
        default_factory=lambda: ["high", "production", "critical"]  # type: ignore[arg-type]
    )
    request_timeout_s: float = 120.0


class BudgetSettings(_Section):
    daily_usd: float | None = Field(None, ge=0)
    monthly_usd: float | None = Field(None, ge=0)
    per_request_max_usd: float | None = Field(None, ge=0)
    projects: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="per project id/name: {daily_usd, monthly_usd}"
    )
    alert_threshold_usd: float | None = Field(None, ge=0, description="COST_ALERT_THRESHOLD: daily spend alert")
    alert_percent: list[float] = Field(default_factory=lambda: [50.0, 80.0, 100.0])


class CacheSettings(_Section):
    enabled: bool = True
    ttl_s: int = Field(3600, ge=0)
    max_entries: int = Field(10_000, ge=0)


class PriceOverride(_Section):
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class PricingSettings(_Section):
    overrides: dict[str, PriceOverride] = Field(default_factory=dict)


class SearchSettings(_Section):
    # local: the bundled code model (or model_dir); minilm: stock all-MiniLM-L6-v2 (cache or hub)
    embedder: Literal["local", "minilm", "ollama", "openai", "none"] = "local"
    model_dir: str | None = None
    ollama_model: str = "nomic-embed-text"
    openai_model: str = "text-embedding-3-small"
    max_file_bytes: int = Field(1_000_000, gt=0)
    # tokens of a chunk the local model reads: 128 indexes ~1.5x faster for a little quality (see README)
    max_tokens: int = Field(256, ge=32, le=512)
    watch: bool = True
    # hybrid search re-reads its best candidates with the bundled cross-encoder: better ranked, ~30 ms slower
    rerank: bool = False


class GuardrailSettings(_Section):
    enabled: bool = True
    interval_minutes: float = Field(5.0, gt=0)
    window_minutes: float = Field(15.0, gt=0)
    threshold_multiplier: float = Field(3.0, gt=1)
    webhook_url: str | None = None


class ContextSettings(_Section):
    max_history_tokens: int = Field(6000, gt=0, description="compress older turns beyond this")


class TeamSettings(_Section):
    postgres_url: SecretStr | None = None
    redis_url: SecretStr | None = None
    push_interval_s: float = 5.0
    pg_schema: str = Field("mcpgw", description="Postgres schema of the team tables")
    key_prefix: str = Field("mcpgw:", description="prefix of every Redis key (several teams on one server)")


class Settings(_Section):
    server: ServerSettings = Field(default_factory=ServerSettings)
    providers: dict[str, ProviderEntry] = Field(default_factory=dict)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    guardrail: GuardrailSettings = Field(default_factory=GuardrailSettings)
    context: ContextSettings = Field(default_factory=ContextSettings)
    team: TeamSettings | None = None


# ---- the project policy file (the roadmap's ai-mcp.config.json) ----


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FilePatternRule(_Policy):
    preferred_models: list[str] = Field(default_factory=list, alias="preferredModels")
    max_layer: Layer | None = Field(None, alias="maxLayer")
    task_type: TaskType | None = Field(None, alias="taskType")


class TaskOverride(_Policy):
    max_layer: Layer | None = Field(None, alias="maxLayer")
    cross_check: bool | None = Field(None, alias="crossCheck")


class RoutingPolicy(_Policy):
    default_layer: Layer | None = Field(None, alias="defaultLayer")
    max_layer: Layer | None = Field(None, alias="maxLayer")
    max_cost_per_request: float | None = Field(None, ge=0, alias="maxCostPerRequest")
    max_context_tokens: int | None = Field(None, gt=0, alias="maxContextTokens")
    file_patterns: dict[str, FilePatternRule] = Field(default_factory=dict, alias="filePatterns")
    task_overrides: dict[str, TaskOverride] = Field(default_factory=dict, alias="taskOverrides")


class FeatureFlags(_Policy):
    enable_cross_check: bool | None = Field(None, alias="enableCrossCheck")
    enable_auto_escalate: bool | None = Field(None, alias="enableAutoEscalate")
    enable_cache: bool | None = Field(None, alias="enableCache")


class SecurityPolicy(_Policy):
    scan_prompts: bool = Field(True, alias="scanPrompts")
    scan_outputs: bool = Field(True, alias="scanOutputs")
    secret_patterns: list[str] = Field(default_factory=list, alias="secretPatterns")
    blocked_keywords: list[str] = Field(default_factory=list, alias="blockedKeywords")
    redact_secrets: bool = Field(True, alias="redactSecrets")


class BudgetPolicy(_Policy):
    daily_usd: float | None = Field(None, ge=0, alias="dailyUsd")
    monthly_usd: float | None = Field(None, ge=0, alias="monthlyUsd")


class ProjectPolicy(_Policy):
    version: str = "1.0"
    name: str | None = None
    routing: RoutingPolicy = Field(default_factory=RoutingPolicy)
    features: FeatureFlags = Field(default_factory=FeatureFlags)
    security: SecurityPolicy = Field(default_factory=SecurityPolicy)
    budgets: BudgetPolicy = Field(default_factory=BudgetPolicy)
    repo_map: dict[str, Any] = Field(default_factory=dict, alias="repoMap")
    hooks: dict[str, Any] = Field(default_factory=dict)


# ---- loading ----


def _describe(exc: ValidationError, source: str) -> ConfigError:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    got = first.get("input")
    got_text = "" if isinstance(got, dict | list) else f" (got {got!r})"
    more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
    return ConfigError(
        f"{source}: key '{key}': {first['msg']}{got_text}{more}",
        fix=f"edit {source} (see `mcpgw config show` for the effective values)",
    )


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", fix=f"fix the syntax in {path}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc


def find_project_file(start: Path) -> Path | None:
    """The project policy file at the git root above ``start`` (or in ``start`` outside a repo)."""
    root = find_git_root(start) or start
    for name in PROJECT_FILES:
        candidate = root / name
        if candidate.is_file():
            return candidate
    return None


def find_git_root(start: Path) -> Path | None:
    current = start.absolute()
    for candidate in (current, *current.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def load_project_policy(path: Path) -> ProjectPolicy:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                fix=f"fix the syntax in {path}",
            ) from exc
    else:
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{path}: invalid YAML{where}: {exc}", fix=f"fix the syntax in {path}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected an object at the top level, got {type(data).__name__}")
    try:
        return ProjectPolicy.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, str(path)) from exc


_LEGACY_ENV: dict[str, tuple[str, str]] = {
    "COST_ALERT_THRESHOLD": ("budgets", "alert_threshold_usd"),
    "COST_ANOMALY_WINDOW_MINUTES": ("guardrail", "window_minutes"),
    "COST_ANOMALY_THRESHOLD_MULTIPLIER": ("guardrail", "threshold_multiplier"),
    "COST_GUARDRAIL_WEBHOOK_URL": ("guardrail", "webhook_url"),
    "MCPGW_TCP": ("server", "tcp"),
}
_SECTIONS = set(Settings.model_fields)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``MCPGW_SECTION__KEY=value`` (values parsed as JSON when they parse, else strings)."""
    out: dict[str, Any] = {}
    items: list[tuple[list[str], str]] = []
    for var, (section, key) in _LEGACY_ENV.items():
        if environ.get(var):
            items.append(([section, key], environ[var]))
    for var, raw in environ.items():
        if not var.startswith("MCPGW_") or "__" not in var:
            continue
        path = [p.lower() for p in var[len("MCPGW_") :].split("__")]
        if path[0] in _SECTIONS:
            items.append((path, raw))
    for path, raw in items:
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(
    config_file: Path,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """The effective user settings: defaults → config.toml → environment → ``overrides`` (flags)."""
    env = os.environ if environ is None else environ
    data = read_toml(config_file)
    try:
        Settings.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, str(config_file)) from exc
    data = _deep_merge(data, _env_overrides(env))
    if overrides:
        data = _deep_merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, "environment (MCPGW_* / COST_* variables)") from exc


def masked_dump(model: BaseModel) -> dict[str, Any]:
    """The model as JSON-able data with every secret replaced by ``'***'`` (or None when unset)."""

    def mask(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "***" if value.get_secret_value() else None
        if isinstance(value, BaseModel):
            return {k: mask(getattr(value, k)) for k in type(value).model_fields}
        if isinstance(value, dict):
            return {k: mask(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [mask(v) for v in value]
        return value

    result = mask(model)
    assert isinstance(result, dict)
    return result


CONFIG_TEMPLATE = """\
# mcpgw user configuration. Every key is optional; `mcpgw config show` prints the effective values.
# Precedence: defaults < this file < project policy file (ai-mcp.config.json) < MCPGW_* env < flags.

[server]
# tcp = "127.0.0.1:8787"      # optional OpenAI-compatible TCP listener (needs an API key: mcpgw keys create)

[routing]
default_layer = "L0"
max_layer = "L2"
auto_escalate = true

[budgets]
# daily_usd = 5.0
# monthly_usd = 50.0
# per_request_max_usd = 0.50

[cache]
enabled = true
ttl_s = 3600

# Providers are also picked up from OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENROUTER_API_KEY, OLLAMA_HOST.
# [providers.lmstudio]
# kind = "openai_compat"
# base_url = "http://127.0.0.1:1234/v1"
# models = ["qwen2.5-coder-7b-instruct"]
"""
