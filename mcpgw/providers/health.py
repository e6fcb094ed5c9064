"""Which provider/model pairs are usable right now: consecutive-failure cooldowns for the router.

The router asks :meth:`ModelHealth.available` before trying a candidate, and reports every outcome
with :meth:`record_success` / :meth:`record_failure`. After ``threshold`` consecutive failures a
model is cooled down for ``base_s · 2^(n - threshold)`` seconds, capped at ``cap_s``; an upstream's
``Retry-After`` (a 429) cools it at once for at least that long. Connection-level failures
(``provider_wide``) cool the whole provider the same way. A success clears the count.
State lives in memory: it is about the next minutes, not worth persisting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class _State:
    failures: int = 0
    cooldown_until: float = 0.0
    successes: int = 0
    total_failures: int = 0
    last_error: str | None = None
    last_ok: float | None = None  # wall-clock seconds
    last_failure: float | None = None


class ModelHealth:
    """In-memory health and cooldown tracker; ``clock`` (monotonic seconds) is injectable for tests."""

    def __init__(
        self,
        *,
        threshold: int = 2,
        base_s: float = 15.0,
        cap_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1 or base_s <= 0 or cap_s < base_s:
            raise ValueError("threshold >= 1 and 0 < base_s <= cap_s are required")
        self.threshold = threshold
        self.base_s = base_s
        self.cap_s = cap_s
        self._clock = clock
        self._models: dict[tuple[str, str], _State] = {}
        self._providers: dict[str, _State] = {}

    def available(self, provider: str, model: str) -> bool:
        """False while the model or its whole provider is cooling down."""
        now = self._clock()
        p = self._providers.get(provider)
        if p is not None and p.cooldown_until > now:
            return False
        m = self._models.get((provider, model))
        return m is None or m.cooldown_until <= now

    def cooldown_remaining(self, provider: str, model: str) -> float:
        """Seconds until :meth:`available` turns true again (0 when it already is)."""
        now = self._clock()
        until = max(
            (s.cooldown_until for s in (self._providers.get(provider), self._models.get((provider, model))) if s),
            default=0.0,
        )
        return max(0.0, until - now)

    def record_success(self, provider: str, model: str) -> None:
        wall = time.time()
        for state in (self._model(provider, model), self._provider(provider)):
            state.failures = 0
            state.cooldown_until = 0.0
            state.successes += 1
            state.last_ok = wall

    def record_failure(
        self,
        provider: str,
        model: str,
        *,
        error: str | None = None,
        retry_after: float | None = None,
        provider_wide: bool = False,
    ) -> float:
        """Count a failure; returns the cooldown (seconds) now in force for the model, 0 if none."""
        targets = [self._model(provider, model)]
        if provider_wide:
            targets.append(self._provider(provider))
        now = self._clock()
        wall = time.time()
        applied = 0.0
        for state in targets:
            state.failures += 1
            state.total_failures += 1
            state.last_error = error
            state.last_failure = wall
            cooldown = 0.0
            if state.failures >= self.threshold:
                cooldown = min(self.cap_s, self.base_s * 2 ** (state.failures - self.threshold))
            if retry_after is not None:
                cooldown = max(cooldown, min(retry_after, self.cap_s))
            if cooldown:
                state.cooldown_until = max(state.cooldown_until, now + cooldown)
            applied = max(applied, state.cooldown_until - now)
        return max(0.0, applied)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state for ``/health``: per provider and per model."""
        now = self._clock()

        def view(state: _State) -> dict[str, Any]:
            return {
                "available": state.cooldown_until <= now,
                "cooldown_s": round(max(0.0, state.cooldown_until - now), 1),
                "consecutive_failures": state.failures,
                "successes": state.successes,
                "failures": state.total_failures,
                "last_error": state.last_error,
                "last_ok": state.last_ok,
                "last_failure": state.last_failure,
            }

        return {
            "providers": {name: view(s) for name, s in sorted(self._providers.items())},
            "models": {f"{p}/{m}": view(s) for (p, m), s in sorted(self._models.items())},
        }

    def _model(self, provider: str, model: str) -> _State:
        state = self._models.get((provider, model))
        if state is None:
            state = self._models[(provider, model)] = _State()
        return state

    def _provider(self, provider: str) -> _State:
        state = self._providers.get(provider)
        if state is None:
            state = self._providers[provider] = _State()
        return state
