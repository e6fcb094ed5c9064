"""The Gateway: owns the providers, budgets, cache and conversations, and runs requests through the
pipeline. ``STAGES`` below is the whole pipeline, in order; a feature is a stage, not a flag."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mcpgw.config import LAYERS, Layer, Settings
from mcpgw.errors import BudgetExceeded, GatewayError, MCPGWError, UpstreamError
from mcpgw.gateway.budget import BudgetBook, Reservation, SharedBook
from mcpgw.gateway.cache import CacheEntry, ResponseCache
from mcpgw.gateway.context import Ctx
from mcpgw.gateway.conversations import Conversations
from mcpgw.gateway.projects import ProjectResolver
from mcpgw.gateway.request import (
    ContextInfo,
    GatewayRequest,
    GatewayResult,
    Performance,
    Routing,
)
from mcpgw.gateway.stages import (
    account,
    cache,
    context,
    execute,
    guard_in,
    guard_out,
    quota,
    record,
    resolve,
    route,
)
from mcpgw.ids import new_id
from mcpgw.pricing import cost as price_call
from mcpgw.pricing import max_cost_usd
from mcpgw.providers.base import (
    ChatResult,
    ProviderError,
    ProviderSettings,
    StreamAccumulator,
    StreamChunk,
    settings_from_env,
)
from mcpgw.providers.health import ModelHealth
from mcpgw.providers.registry import ProviderRegistry
from mcpgw.routing import layers as L
from mcpgw.store import Store
from mcpgw.store.traces import now_iso

if TYPE_CHECKING:
    from mcpgw.daemon.events import EventBus
    from mcpgw.daemon.state import DaemonState
    from mcpgw.routing.layers import Candidate

log = logging.getLogger(__name__)

Stage = Callable[[Ctx], Awaitable[None]]
#: The pipeline. Streaming runs the stages up to ``execute``, streams, then the rest.
STAGES: tuple[tuple[str, Stage], ...] = (
    ("resolve", resolve.run),
    ("context", context.run),
    ("guard-in", guard_in.run),
    ("quota", quota.run),
    ("route", route.run),
    ("cache", cache.run),
    ("execute", execute.run),
    ("guard-out", guard_out.run),
    ("account", account.run),
    ("record", record.run),
)
_PRE_STREAM = ("resolve", "context", "guard-in", "quota", "route", "cache")
_PRICED_BY_NAME = frozenset({"openai", "anthropic", "openrouter"})
SUMMARY_PROMPT = (
    "Summarise the conversation below for a model that will continue it: keep decisions, facts, names, code "
    "identifiers and open questions; drop pleasantries. At most 200 words."
)


def provider_settings(settings: Settings, environ: dict[str, str] | None = None) -> list[ProviderSettings]:
    """Providers from the environment, overridden and extended by ``[providers.NAME]`` in config.toml."""
    env = dict(os.environ if environ is None else environ)
    merged: dict[str, ProviderSettings] = {p.name: p for p in settings_from_env(env)}
    from mcpgw.providers.base import DEFAULT_BASE_URLS

    for name, entry in settings.providers.items():
        key = entry.api_key
        if key is None and entry.api_key_env and env.get(entry.api_key_env):
            from pydantic import SecretStr

            key = SecretStr(env[entry.api_key_env])
        base = entry.base_url or DEFAULT_BASE_URLS.get(entry.kind)
        if base is None:
            from mcpgw.errors import ConfigError

            raise ConfigError(f"providers.{name}: base_url is required for kind {entry.kind!r}")
        merged[name] = ProviderSettings(
            name=name, kind=entry.kind, base_url=base, api_key=key, timeout_s=entry.timeout_s,
            max_retries=entry.max_retries, headers=entry.headers, models=entry.models, enabled=entry.enabled,
        )  # fmt: skip
    return list(merged.values())


class Gateway:
    def __init__(
        self, settings: Settings, store: Store, events: EventBus, registry: ProviderRegistry, health: ModelHealth
    ) -> None:
        self.settings = settings
        self.store = store
        self.events = events
        self.registry = registry
        self.health = health
        self.budget = BudgetBook()
        self.shared_budget: SharedBook | None = None  # set by the team sync hook when Redis is configured
        self.cache = ResponseCache(store, ttl_s=settings.cache.ttl_s, max_entries=settings.cache.max_entries)
        self.conversations = Conversations(store)
        self.projects = ProjectResolver(store)
        self.local_models: dict[str, list[str]] = {}
        self.overrides = {k: v.model_dump() for k, v in settings.pricing.overrides.items()}
        self.requests_total = 0
        self.in_flight = 0
        self._ref_layer: dict[str, Layer] = {}
        for layer in LAYERS:
            for ref in settings.routing.layers.get(layer, []):
                self._ref_layer.setdefault(ref, layer)

    # ---- lifecycle ----

    async def start(self) -> None:
        await self.cache.load()
        await self._load_spend()
        await self.discover_local_models()

    async def _load_spend(self) -> None:
        now = dt.datetime.now(dt.UTC)
        day = now.strftime("%Y-%m-%dT00:00:00")
        month = now.strftime("%Y-%m-01T00:00:00")
        row = await self.store.read_one(
            "SELECT COALESCE(SUM(CASE WHEN created_at >= ? THEN cost END), 0), COALESCE(SUM(cost), 0) "
            "FROM llm_calls WHERE created_at >= ? AND cached = 0",
            (day, month),
        )
        self.budget.load("global", float(row[0]) if row else 0.0, float(row[1]) if row else 0.0)
        rows = await self.store.read(
            "SELECT project_id, COALESCE(SUM(CASE WHEN created_at >= ? THEN cost END), 0), COALESCE(SUM(cost), 0) "
            "FROM llm_calls WHERE created_at >= ? AND cached = 0 AND project_id IS NOT NULL GROUP BY project_id",
            (day, month),
        )
        for r in rows:
            self.budget.load(f"project:{r[0]}", float(r[1]), float(r[2]))

    async def discover_local_models(self) -> None:
        """Ask local providers (Ollama) which models they have, for ``ollama/*`` in the layer lists."""
        for provider in self.registry:
            if provider.kind != "ollama":
                continue
            try:
                self.local_models[provider.name] = await asyncio.wait_for(provider.list_models(), timeout=3)
            except (ProviderError, TimeoutError) as exc:
                log.warning("could not list %s models: %s", provider.name, exc)
                self.local_models[provider.name] = list(provider.settings.models)

    async def aclose(self) -> None:
        await self.registry.aclose()

    # ---- running requests ----

    def new_ctx(self, req: GatewayRequest) -> Ctx:
        return Ctx(gw=self, req=req, trace_id=req.trace_id or new_id())

    def _begin(self, req: GatewayRequest) -> Ctx:
        """A new request's context, counted as in flight (the caller decrements ``in_flight`` when done)."""
        self.requests_total += 1
        self.in_flight += 1
        return self.new_ctx(req)

    async def run(self, req: GatewayRequest) -> GatewayResult:
        ctx = self._begin(req)
        try:
            await self._start_conversation(ctx)
            for name, stage in STAGES:
                if name == "record":
                    break
                if name == "guard-out":
                    self._settle_text(ctx)
                await stage(ctx)
            self._remember(ctx)
        except (MCPGWError, asyncio.CancelledError) as exc:
            ctx.error = exc
            await self._finish(ctx)
            raise
        finally:
            self.in_flight -= 1
        await record.run(ctx)
        return self.result(ctx)

    async def stream(self, req: GatewayRequest) -> AsyncIterator[StreamChunk | GatewayResult]:
        """Yield OpenAI chunks as they arrive, then the final GatewayResult."""
        ctx = self._begin(req)
        try:
            await self._start_conversation(ctx)
            for name, stage in STAGES:
                if name in _PRE_STREAM:
                    await stage(ctx)
            if ctx.from_cache:
                for chunk in synth_chunks(ctx.chat.response if ctx.chat else {}, ctx.text):
                    yield chunk
            elif execute.cross_check_wanted(ctx):
                await execute.run(ctx)
                self._settle_text(ctx)
                if ctx.chat is not None:
                    for chunk in synth_chunks(ctx.chat.response, ctx.text):
                        yield chunk
            else:
                await execute.attempt_layers(ctx, stream=True)
                if ctx.stream_iter is not None:
                    async for chunk in self._drain_stream(ctx):
                        yield chunk
            self._settle_text(ctx)
            await guard_out.run(ctx)
            await account.run(ctx)
            self._remember(ctx)
        except (MCPGWError, asyncio.CancelledError, GeneratorExit) as exc:
            ctx.error = exc if isinstance(exc, MCPGWError) else UpstreamError("the client went away mid-stream")
            await self._finish(ctx)
            raise
        finally:
            self.in_flight -= 1
        await record.run(ctx)
        yield self.result(ctx)

    async def _drain_stream(self, ctx: Ctx) -> AsyncIterator[StreamChunk]:
        assert ctx.final is not None and ctx.stream_call is not None
        cand, call = ctx.final, ctx.stream_call
        acc = StreamAccumulator(cand.provider.name, cand.model)
        try:
            first: StreamChunk = ctx.stream_first
            acc.add(first.chunk)
            yield first
            async for chunk in ctx.stream_iter:
                acc.add(chunk.chunk)
                yield chunk
        except ProviderError as exc:
            self._call_failed(ctx, call, cand, exc)
            raise
        ctx.chat = self._call_succeeded(ctx, call, cand, acc.result(ctx.messages))

    async def _finish(self, ctx: Ctx) -> None:
        """After a failure: close an open upstream stream, release reservations, account, record the trace."""
        if ctx.stream_iter is not None and hasattr(ctx.stream_iter, "aclose"):
            with contextlib.suppress(ProviderError, RuntimeError):
                await ctx.stream_iter.aclose()  # release the upstream connection now, not at garbage collection
        if ctx.stream_call is not None and ctx.stream_call.get("_reservation") is not None:
            self._release(ctx.stream_call["_reservation"], 0.0)
        try:
            await account.run(ctx)
        finally:
            await record.run(ctx)

    async def _start_conversation(self, ctx: Ctx) -> None:
        req = ctx.req
        if req.persist and not req.conversation_id:
            first = next((m.get("content") for m in req.messages if m.get("role") == "user"), None)
            ctx.conversation_id = await self.conversations.create(
                project_id=req.project_id, user_id=req.user_id, title=first if isinstance(first, str) else None
            )

    def _settle_text(self, ctx: Ctx) -> None:
        if ctx.chat is not None and not ctx.text:
            ctx.text = ctx.chat.text

    def _remember(self, ctx: Ctx) -> None:
        """Put a fresh, successful, final answer in the cache."""
        if ctx.from_cache or ctx.cache_key is None or ctx.chat is None or ctx.final is None:
            return
        if ctx.confirmation is not None or ctx.chat.finish_reason not in ("stop", "tool_calls", "end_turn", None):
            return
        response = final_response(ctx.chat.response, ctx.chat.text, ctx.text)
        now = time.time()
        self.cache.put(
            CacheEntry(
                ctx.cache_key,
                response,
                ctx.final.provider.name,
                ctx.final.model,
                ctx.final_layer,
                ctx.chat.input_tokens,
                ctx.chat.output_tokens,
                ctx.cost,
                now,
                now + self.settings.cache.ttl_s,
            )
        )

    # ---- model calls (used by the execute stage) ----

    def price_args(self, cand: Candidate) -> tuple[str, str | None]:
        kind = cand.provider.kind
        return kind, (None if kind in _PRICED_BY_NAME else cand.provider.settings.base_url)

    def estimate_cost(self, cand: Candidate, messages: list[dict[str, Any]], params: dict[str, Any]) -> float:
        kind, base_url = self.price_args(cand)
        max_tokens = params.get("max_tokens") or params.get("max_completion_tokens")
        return max_cost_usd(kind, cand.model, messages, max_tokens, self.overrides, base_url=base_url)

    async def _reserve(
        self, ctx: Ctx, cand: Candidate, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> Reservation:
        estimate = self.estimate_cost(cand, messages, params)
        if estimate > 0 and ctx.per_request_max is not None and estimate > ctx.per_request_max:
            raise BudgetExceeded(
                f"{cand.ref} may cost up to ${estimate:.6f} for this request, over the per-request budget "
                f"${ctx.per_request_max:.7g}; refused before any call",
                fix="raise --budget, lower max_tokens, or use a free layer (--layer L0)",
                remaining_usd=ctx.per_request_max,
                estimate_usd=round(estimate, 8),
            )
        limits = ctx.limits or {"global": _no_limits()}
        reservation = self.budget.reserve(estimate, limits)
        if self.shared_budget is not None and reservation.amount > 0:
            try:
                reservation.shared = await self.shared_budget.reserve(estimate, limits)
            except BudgetExceeded:
                self.budget.settle(reservation, 0.0)
                raise
        return reservation

    def _release(self, reservation: Reservation, actual: float) -> None:
        """Settle a reservation in the local book and, when it holds one, in the team's."""
        self.budget.settle(reservation, actual)
        if reservation.shared is not None and self.shared_budget is not None:
            self.shared_budget.settle(reservation.shared, actual)
            reservation.shared = None

    def _open_call(self, ctx: Ctx, cand: Candidate, purpose: str, reservation: Reservation) -> dict[str, Any]:
        return {
            "id": new_id(),
            "provider": cand.provider.name,
            "model": cand.model,
            "layer": cand.layer,
            "task_type": ctx.req.task_type,
            "status": "ok",
            "cached": 0,
            "created_at": now_iso(),
            "_purpose": purpose,
            "_start": time.time(),
            "_t0": time.perf_counter(),
            "_reservation": reservation,
        }

    def _close_call(
        self, ctx: Ctx, call: dict[str, Any], cand: Candidate, result: ChatResult | None, error: GatewayError | None
    ) -> None:
        call["duration_ms"] = int((time.perf_counter() - call.pop("_t0")) * 1000)
        call["_end"] = time.time()
        reservation: Reservation = call.pop("_reservation")
        if result is not None:
            kind, base_url = self.price_args(cand)
            priced = price_call(
                kind, cand.model, result.input_tokens, result.output_tokens, self.overrides,
                base_url=base_url, usage_reported=result.usage_reported,
            )  # fmt: skip
            call.update(input_tokens=result.input_tokens, output_tokens=result.output_tokens, cost=priced.usd)
            call["_estimated"] = priced.estimated
        else:
            call.update(input_tokens=0, output_tokens=0, cost=0.0, status="error")
            call["error"] = error.message if error else "failed"
        self._release(reservation, call["cost"])
        ctx.calls.append(call)

    def _call_failed(self, ctx: Ctx, call: dict[str, Any], cand: Candidate, exc: ProviderError) -> None:
        """Count the failure towards the model's cooldown (the provider's, when unreachable); close the call."""
        self.health.record_failure(
            cand.provider.name, cand.model, error=exc.upstream_message, retry_after=exc.retry_after,
            provider_wide=exc.reason == "connect",
        )  # fmt: skip
        self._close_call(ctx, call, cand, None, exc)

    def _call_succeeded(self, ctx: Ctx, call: dict[str, Any], cand: Candidate, result: ChatResult) -> ChatResult:
        self.health.record_success(cand.provider.name, cand.model)
        self._close_call(ctx, call, cand, result, None)
        return result

    async def call_model(
        self, ctx: Ctx, cand: Candidate, messages: list[dict[str, Any]], params: dict[str, Any], *, purpose: str
    ) -> ChatResult:
        reservation = await self._reserve(ctx, cand, messages, params)
        call = self._open_call(ctx, cand, purpose, reservation)
        body = dict(params)
        body["messages"] = messages
        try:
            result = await cand.provider.chat(cand.model, body)
        except ProviderError as exc:
            self._call_failed(ctx, call, cand, exc)
            raise
        return self._call_succeeded(ctx, call, cand, result)

    async def open_stream(self, ctx: Ctx, cand: Candidate) -> bool:
        """Open ``cand``'s stream and wait for its first chunk; False (recorded) when it fails before that."""
        reservation = await self._reserve(ctx, cand, ctx.messages, ctx.req.openai)
        call = self._open_call(ctx, cand, "answer", reservation)
        iterator = cand.provider.stream_chunks(cand.model, ctx.body).__aiter__()
        try:
            first = await iterator.__anext__()
        except StopAsyncIteration:
            first = StreamChunk.of({"choices": []})
        except ProviderError as exc:
            self._call_failed(ctx, call, cand, exc)
            ctx.decide(cand.layer, f"{cand.ref} failed: {exc.upstream_message}", cand.ref)
            return False
        ctx.stream_iter, ctx.stream_first, ctx.stream_call = iterator, first, call
        return True

    def cached_result(self, ctx: Ctx, entry: CacheEntry) -> None:
        ctx.chat = ChatResult(
            response=entry.response, provider=entry.provider, model=entry.model, text=ctx.text,
            finish_reason=(entry.response.get("choices") or [{}])[0].get("finish_reason"),
            tool_calls=((entry.response.get("choices") or [{}])[0].get("message") or {}).get("tool_calls") or [],
            input_tokens=entry.input_tokens, output_tokens=entry.output_tokens, usage_reported=True,
        )  # fmt: skip
        ctx.calls.append(
            {
                "id": new_id(), "provider": entry.provider, "model": entry.model, "layer": entry.layer,
                "task_type": ctx.req.task_type, "input_tokens": entry.input_tokens,
                "output_tokens": entry.output_tokens, "cost": 0.0, "duration_ms": 0, "status": "ok", "cached": 1,
                "created_at": now_iso(), "_purpose": "cache",
            }
        )  # fmt: skip

    # ---- compression ----

    async def compress(self, ctx: Ctx, conversation_id: str, keep_recent: int) -> str | None:
        """Summarise a conversation's older turns with the cheapest usable model and store the summary."""
        fold, until = await self.conversations.messages_before(conversation_id, keep_recent)
        if not fold:
            return None
        summary = await self.summarise(ctx, fold)
        await self.conversations.save_summary(conversation_id, summary, until)
        ctx.decide("-", f"compressed {len(fold)} earlier messages into a summary", "")
        return summary

    async def summarise(self, ctx: Ctx, messages: list[dict[str, Any]]) -> str:
        transcript = "\n".join(f"{m.get('role')}: {m.get('content')}" for m in messages)
        prompt = [{"role": "system", "content": SUMMARY_PROMPT}, {"role": "user", "content": transcript}]
        last: GatewayError | None = None
        for layer in LAYERS:
            refs = L.layer_refs(self.settings.routing, layer, "chat", None, first=False)
            for cand in L.candidates(refs, layer, self.registry, self.health, self.local_models):
                try:
                    result = await self.call_model(ctx, cand, prompt, {"temperature": 0}, purpose="compress")
                except (ProviderError, BudgetExceeded) as exc:
                    last = exc
                    continue
                return result.text.strip()
        raise UpstreamError(f"could not summarise the conversation: {last.message if last else 'no model'}")

    # ---- budgets ----

    def check_thresholds(self, ctx: Ctx) -> None:
        budgets = self.settings.budgets
        for name, limit in (ctx.limits or {}).items():
            marks: dict[str, float] = {}
            if name == "global" and budgets.alert_threshold_usd is not None:
                marks[f"${budgets.alert_threshold_usd:g} daily threshold"] = budgets.alert_threshold_usd
            if limit.daily_usd:
                for pct in budgets.alert_percent:
                    marks[f"{pct:g}% of the daily budget"] = limit.daily_usd * pct / 100
            for label in self.budget.crossed(name, marks):
                spent, _ = self.budget.spent(name)
                data = {
                    "type": "threshold_exceeded", "scope": name, "threshold": label,
                    "current_cost": round(spent, 6), "expected_cost": marks[label],
                    "affected_projects": [name.removeprefix("project:")] if name != "global" else [],
                }  # fmt: skip
                log.warning("cost alert: %s spent $%.6f today, over the %s", name, spent, label)
                self.events.publish("cost_alert", data)  # stored alerts come from the guardrail job

    # ---- introspection ----

    def usable_models(self) -> list[str]:
        return [ref for ref in L.all_refs(self.settings.routing) if self.registry.resolve(ref) is not None]

    def layer_of(self, ref: str) -> Layer | None:
        return self._ref_layer.get(ref)

    def result(self, ctx: Ctx) -> GatewayResult:
        chat, final = ctx.chat, ctx.final
        status = "confirmation_required" if ctx.confirmation is not None else "ok"
        message: dict[str, Any] = {}
        completion: dict[str, Any] = {}
        if chat is not None:
            completion = final_response(chat.response, chat.text, ctx.text)
            choices = completion.get("choices") or [{}]
            message = dict(choices[0].get("message") or {})
            if ctx.text and ctx.text != chat.text:
                message["content"] = ctx.text
        answered = [c for c in ctx.calls if c.get("status") == "ok"]
        return GatewayResult(
            status=status,
            text=ctx.text,
            message=message,
            finish_reason=chat.finish_reason if chat else None,
            completion=completion,
            routing=Routing(
                layer=ctx.final_layer,
                model=(final.ref if final else (f"{chat.provider}/{chat.model}" if chat else None)),
                provider=(final.provider.name if final else (chat.provider if chat else None)),
                decisions=ctx.decisions,
            ),
            context=ContextInfo(
                conversation_id=ctx.conversation_id,
                trace_id=ctx.trace_id,
                project_id=ctx.req.project_id,
                compressed=ctx.compressed,
            ),
            performance=Performance(
                duration_ms=int((time.perf_counter() - ctx.started) * 1000),
                input_tokens=sum(int(c.get("input_tokens") or 0) for c in answered),
                output_tokens=sum(int(c.get("output_tokens") or 0) for c in answered),
                cost_usd=round(ctx.cost, 8),
                from_cache=ctx.from_cache,
                cost_estimated=ctx.cost_estimated,
            ),
            cross_check=ctx.cross_check,
            confirmation=ctx.confirmation,
        )

    def stats(self) -> dict[str, Any]:
        return {
            "requests_total": self.requests_total,
            "in_flight": self.in_flight,
            "cache": self.cache.stats(),
            "budgets": self.budget.snapshot({"global": _global_limits(self.settings)}),
            "health": self.health.snapshot(),
            "providers": self.registry.describe(),
            "local_models": self.local_models,
        }


def _no_limits() -> Any:
    from mcpgw.gateway.budget import Limits

    return Limits()


def _global_limits(settings: Settings) -> Any:
    from mcpgw.gateway.budget import Limits

    return Limits(settings.budgets.daily_usd, settings.budgets.monthly_usd)


def final_response(response: dict[str, Any], upstream_text: str, final_text: str) -> dict[str, Any]:
    """The completion as returned: the upstream's, with the message text replaced when the pipeline changed
    it (a cross-check revision, a redacted secret)."""
    if not final_text or final_text == upstream_text or not response.get("choices"):
        return response
    choice = dict(response["choices"][0])
    choice["message"] = {**choice.get("message", {}), "content": final_text}
    return {**response, "choices": [choice, *response["choices"][1:]]}


def synth_chunks(response: dict[str, Any], text: str) -> list[StreamChunk]:
    """OpenAI chunks for an answer we already have (a cache hit, a cross-checked answer)."""
    base = {
        "id": response.get("id") or f"chatcmpl-{new_id()[:24]}",
        "object": "chat.completion.chunk",
        "created": response.get("created") or int(time.time()),
        "model": response.get("model") or "",
    }
    choice = (response.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    delta: dict[str, Any] = {"role": "assistant", "content": text}
    if message.get("tool_calls"):
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
    chunks = [
        StreamChunk.of({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}),
        StreamChunk.of(
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice.get("finish_reason") or "stop"}]}
        ),
    ]
    if response.get("usage"):
        chunks.append(StreamChunk.of({**base, "choices": [], "usage": response["usage"]}))
    return chunks


async def start(state: DaemonState) -> Callable[[], Awaitable[None]]:
    """Daemon startup hook: build the providers and the gateway; returns the shutdown hook."""
    registry = ProviderRegistry(provider_settings(state.settings))
    gateway = Gateway(state.settings, state.store, state.events, registry, ModelHealth())
    await gateway.start()
    state.services["gateway"] = gateway
    state.services["providers"] = registry
    log.info("gateway ready: providers %s", ", ".join(registry.names()) or "(none)")

    async def stop() -> None:
        await gateway.aclose()

    return stop
