"""Configuration precedence and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpgw.config import load_project_policy, load_settings, masked_dump
from mcpgw.errors import ConfigError


def test_defaults_without_a_file(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "none.toml", environ={})
    assert s.routing.default_layer == "L0"
    assert s.routing.max_layer == "L2"
    assert s.cache.enabled


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[budgets]\ndaily_usd = 1.0\nmonthly_usd = 20.0\n[cache]\nttl_s = 10\n")
    s = load_settings(cfg, environ={"MCPGW_BUDGETS__DAILY_USD": "2.5", "COST_ALERT_THRESHOLD": "0.75"})
    assert s.budgets.daily_usd == 2.5  # env beats file
    assert s.budgets.monthly_usd == 20.0  # file beats default
    assert s.budgets.alert_threshold_usd == 0.75  # the roadmap's variable
    assert s.cache.ttl_s == 10
    s2 = load_settings(cfg, environ={"MCPGW_BUDGETS__DAILY_USD": "2.5"}, overrides={"budgets": {"daily_usd": 9}})
    assert s2.budgets.daily_usd == 9  # flags beat env


def test_bad_value_names_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[routing]\nmax_layer = "L9"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    assert str(cfg) in info.value.message
    assert "routing.max_layer" in info.value.message
    assert "L9" in info.value.message


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[cache]\nttl = 5\n")
    with pytest.raises(ConfigError, match=r"cache\.ttl"):
        load_settings(cfg, environ={})


def test_syntax_error_names_line(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[cache]\nenabled = tru\n")
    with pytest.raises(ConfigError, match="line 2"):
        load_settings(cfg, environ={})


def test_secrets_are_masked(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[providers.local]\nkind = "openai_compat"\nbase_url = "http://127.0.0.1:1/v1"\napi_key = "sk-secret-123"\n'
    )
    dumped = masked_dump(load_settings(cfg, environ={}))
    assert dumped["providers"]["local"]["api_key"] == "***"
    assert "sk-secret-123" not in repr(dumped)


def test_project_policy_json_and_yaml(tmp_path: Path) -> None:
    j = tmp_path / "ai-mcp.config.json"
    j.write_text(
        '{"version": "1.0", "routing": {"defaultLayer": "L1", "maxLayer": "L2", "maxCostPerRequest": 0.1,'
        ' "filePatterns": {"**/*.sql": {"preferredModels": ["anthropic/claude-3-haiku"], "maxLayer": "L2"}}}}'
    )
    policy = load_project_policy(j)
    assert policy.routing.default_layer == "L1"
    assert policy.routing.file_patterns["**/*.sql"].preferred_models == ["anthropic/claude-3-haiku"]
    y = tmp_path / ".ai-mcp.yml"
    y.write_text('version: "1.0"\nrouting:\n  defaultLayer: L1\n  maxLayer: L2\n')
    assert load_project_policy(y).routing.max_layer == "L2"


def test_project_policy_errors(tmp_path: Path) -> None:
    j = tmp_path / "ai-mcp.config.json"
    j.write_text('{"routing": {"maxLayer": "L2",}}')
    with pytest.raises(ConfigError, match="line 1, column"):
        load_project_policy(j)
    j.write_text('{"routing": {"maxLayer": "L7"}}')
    with pytest.raises(ConfigError, match=r"routing\.maxLayer"):
        load_project_policy(j)
    y = tmp_path / ".ai-mcp.yml"
    y.write_text("routing:\n  maxLayer: [L1\n")
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        load_project_policy(y)
