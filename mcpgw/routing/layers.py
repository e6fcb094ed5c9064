"""Layers L0 (free/local) → L3 (premium): the starting layer, the ceiling, and the candidate models per layer.

Starting layer: a ``--layer`` pin wins; else the quality level (draft → L0, normal → the configured default,
high → L1, production/critical → L2), never below the project's ``defaultLayer``; capped by the ceiling.
Ceiling: the lowest of the config's ``max_layer``, the project policy's ``maxLayer``, a matching file
pattern's ``maxLayer`` and the task override's ``maxLayer`` (a pinned layer above it is an error).
Candidates of a layer, in order: the project's preferred models for the request's files, the task's
preferred models, then the layer's list; ``ollama/*`` expands to the local models Ollama reports. Only
models that a configured provider serves and that are not cooling down are kept.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcpgw.config import LAYERS, FilePatternRule, Layer, ProjectPolicy, RoutingSettings

if TYPE_CHECKING:
    from mcpgw.providers.base import Provider
    from mcpgw.providers.health import ModelHealth
    from mcpgw.providers.registry import ProviderRegistry

QUALITY_START: dict[str, Layer | None] = {
    "draft": "L0",
    "normal": None,  # the configured default
    "high": "L1",
    "production": "L2",
    "critical": "L2",
}


RISK_START: dict[str, Layer] = {"low": "L0", "normal": "L1", "high": "L2", "prod-critical": "L3"}


def effective_risk(risk: str | None, criticality: dict[str, bool] | None) -> str | None:
    """The request's risk, raised by its criticality flags: data loss or security → at least high; production
    and user-facing together → prod-critical."""
    flags = criticality or {}
    level = risk
    order = ["low", "normal", "high", "prod-critical"]

    def at_least(name: str) -> None:
        nonlocal level
        if level is None or order.index(level) < order.index(name):
            level = name

    if flags.get("dataLoss") or flags.get("securitySensitive"):
        at_least("high")
    if flags.get("affectsProduction") and flags.get("userFacing"):
        at_least("prod-critical")
    elif flags.get("affectsProduction"):
        at_least("high")
    return level


def index(layer: str) -> int:
    return LAYERS.index(layer)  # type: ignore[arg-type]


def higher(a: Layer, b: Layer) -> Layer:
    return a if index(a) >= index(b) else b


def file_rule(policy: ProjectPolicy, files: list[str]) -> FilePatternRule | None:
    """The first file pattern of the policy that matches any of the request's files."""
    for pattern, rule in policy.routing.file_patterns.items():
        for path in files:
            if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.removeprefix("**/")):
                return rule
    return None


def ceiling(
    routing: RoutingSettings,
    policy: ProjectPolicy,
    rule: FilePatternRule | None,
    task: str,
    quality: str,
    risk: str | None = None,
) -> tuple[Layer, str]:
    layer: Layer = routing.max_layer
    reason = "config max_layer"
    if risk is not None and index(RISK_START[risk]) > index(layer):
        # an explicit risk level lifts the configured default ceiling; the project's limits below still apply
        layer, reason = RISK_START[risk], f"risk '{risk}'"
    override = policy.routing.task_overrides.get(task) or policy.routing.task_overrides.get(quality)
    for candidate, why in (
        (policy.routing.max_layer, "project maxLayer"),
        (rule.max_layer if rule else None, "file pattern maxLayer"),
        (override.max_layer if override else None, f"task override '{task}' maxLayer"),
    ):
        if candidate is not None and index(candidate) < index(layer):
            layer, reason = candidate, why
    # A task override may also raise the ceiling (the roadmap's "production": {"maxLayer": "L3"}).
    if override and override.max_layer and index(override.max_layer) > index(layer) and not rule:
        layer, reason = override.max_layer, f"task override '{task}' maxLayer"
    return layer, reason


def start(
    routing: RoutingSettings,
    policy: ProjectPolicy,
    quality: str,
    pinned: Layer | None,
    top: Layer,
    risk: str | None = None,
) -> tuple[Layer, str]:
    if pinned is not None:
        return pinned, "layer pinned by the request"
    if risk is not None:
        chosen: Layer = RISK_START[risk]
        if index(chosen) > index(top):
            return top, f"risk '{risk}', capped by the ceiling {top}"
        return chosen, f"risk '{risk}'"
    by_quality = QUALITY_START.get(quality)
    base = policy.routing.default_layer or routing.default_layer
    if by_quality is None:
        chosen, why = base, ("project defaultLayer" if policy.routing.default_layer else "default layer")
    else:
        chosen, why = higher(by_quality, base), f"quality '{quality}'"
    if index(chosen) > index(top):
        return top, f"{why}, capped by the ceiling {top}"
    return chosen, why


@dataclass(frozen=True)
class Candidate:
    layer: Layer
    ref: str
    provider: Provider
    model: str  # the upstream's name
    source: str  # "file pattern", "task", "layer"

    @property
    def provider_name(self) -> str:
        return self.provider.name


def layer_refs(
    routing: RoutingSettings, layer: Layer, task: str, rule: FilePatternRule | None, first: bool
) -> list[tuple[str, str]]:
    refs: list[tuple[str, str]] = []
    if rule and first:
        refs += [(r, "file pattern") for r in rule.preferred_models]
    refs += [(r, "task") for r in routing.task_models.get(task, {}).get(layer, [])]
    refs += [(r, "layer") for r in routing.layers.get(layer, [])]
    return refs


def candidates(
    refs: list[tuple[str, str]],
    layer: Layer,
    registry: ProviderRegistry,
    health: ModelHealth,
    local_models: dict[str, list[str]],
) -> list[Candidate]:
    """Resolve refs to providers; expand ``name/*``; drop duplicates, unserved and cooling-down models."""
    out: list[Candidate] = []
    seen: set[str] = set()
    for ref, source in refs:
        expanded = [ref]
        if ref.endswith("/*"):
            name = ref[:-2]
            expanded = [f"{name}/{m}" for m in local_models.get(name, [])]
        for item in expanded:
            resolved = registry.resolve(item)
            if resolved is None:
                continue
            key = f"{resolved.provider.name}/{resolved.model}"
            if key in seen or not health.available(resolved.provider.name, resolved.model):
                continue
            seen.add(key)
            out.append(Candidate(layer, item, resolved.provider, resolved.model, source))
    return out


def all_refs(routing: RoutingSettings) -> list[str]:
    refs: list[str] = []
    for layer in LAYERS:
        refs += routing.layers.get(layer, [])
    for per_layer in routing.task_models.values():
        for items in per_layer.values():
            refs += items
    return list(dict.fromkeys(refs))
