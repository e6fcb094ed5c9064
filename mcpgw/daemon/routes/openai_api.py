"""The OpenAI-compatible API: ``POST /v1/chat/completions``, ``GET /v1/models``, ``POST /v1/embeddings``.

Chat requests become a :class:`~mcpgw.gateway.request.GatewayRequest` and run through the same pipeline
as the CLI (budgets, cache, routing, traces). The model id picks the route: ``mcpgw/auto`` lets the router
choose, ``mcpgw/L0`` … ``mcpgw/L3`` pin a layer, any other id pins that model. mcpgw-specific options go
in an optional ``"mcpgw"`` object in the body (the SDKs' ``extra_body``): ``task_type``, ``quality``,
``budget_usd``, ``conversation_id``, ``cache``, ``cross_check``, ``confirm`` …

Answers are exactly OpenAI's shapes; errors are OpenAI error objects with the gateway's status codes.
Every answer carries ``x-mcpgw-trace-id``, ``x-mcpgw-layer`` and ``x-mcpgw-cost`` (for a stream, the
cost is only known at the end: the header holds the pre-call estimate of 0 and the final usage chunk,
when asked for with ``stream_options.include_usage``, carries ``mcpgw_cost_usd``).

The handlers take the raw ``Request`` and answer raw bytes (orjson): no pydantic round trip for bodies
that are only passed through, which keeps the per-request overhead small.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from mcpgw.config import LAYERS
from mcpgw.daemon.state import DaemonState
from mcpgw.errors import GatewayError, MCPGWError, UsageError
from mcpgw.gateway.request import GatewayRequest, GatewayResult
from mcpgw.ids import new_id
from mcpgw.security.auth import scoped_project

if TYPE_CHECKING:
    from mcpgw.gateway.core import Gateway

log = logging.getLogger(__name__)
router = APIRouter()

AUTO_MODEL = "mcpgw/auto"
VIRTUAL_MODELS: dict[str, str | None] = {AUTO_MODEL: None, **{f"mcpgw/{layer}": layer for layer in LAYERS}}
#: Body keys that are not passed upstream: the route and mcpgw's own options.
_OWN_KEYS = frozenset({"model", "messages", "stream", "user", "mcpgw"})
#: What the ``"mcpgw"`` extension object may set on the GatewayRequest.
_EXTENSION_KEYS = frozenset(
    {
        "task_type",
        "quality",
        "budget_usd",
        "conversation_id",
        "persist",
        "project_root",
        "project_id",
        "files",
        "cache",
        "cross_check",
        "auto_escalate",
        "confirm",
        "request_type",
    }
)
_JSON = "application/json"
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_DONE = b"data: [DONE]\n\n"
_CREATED = int(time.time())
_TAKES_TRACE_ID = "trace_id" in GatewayRequest.model_fields


# ---- errors ------------------------------------------------------------------------------------

_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    422: "invalid_request_error",
    429: "insufficient_quota",
}


def error_object(status: int, message: str, *, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error object: ``{"error": {"message", "type", "param", "code"}}``."""
    kind = _ERROR_TYPES.get(status, "api_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _error_code(exc: MCPGWError) -> str:
    return exc.type.replace("-", "_") if exc.type != "about:blank" else "internal_error"


def error_response(exc: MCPGWError, *, param: str | None = None) -> Response:
    """An mcpgw error as an OpenAI error response (the message includes the fix, when there is one)."""
    message = f"{exc.message} (fix: {exc.fix})" if exc.fix else exc.message
    body = error_object(exc.status, message, code=_error_code(exc), param=param)
    for key in ("retry_after", "reset_at", "confirmation"):
        if key in exc.details:
            body["error"][key] = exc.details[key]
    headers = {}
    if exc.details.get("retry_after") is not None:
        headers["retry-after"] = str(int(float(exc.details["retry_after"]) + 0.999))
    return Response(orjson.dumps(body), status_code=exc.status, media_type=_JSON, headers=headers)


class _BadRequest(UsageError):
    """A request body that is not a valid OpenAI request; ``param`` names the offending field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


# ---- request translation -----------------------------------------------------------------------


def _gateway(request: Request) -> Gateway:
    state: DaemonState = request.app.state.daemon
    gateway = state.services.get("gateway")
    if gateway is None:
        raise GatewayError("the gateway is not running in this daemon", fix="restart it: `mcpgw daemon restart`")
    return gateway  # type: ignore[no-any-return]


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _BadRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise _BadRequest("the body must be a JSON object")
    return body


def to_gateway_request(body: dict[str, Any], *, request: Request | None = None) -> GatewayRequest:
    """Translate an OpenAI chat.completions body into a GatewayRequest (400 on anything invalid)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _BadRequest("you must provide a model (e.g. 'mcpgw/auto')", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _BadRequest("'messages' must be a non-empty array", "messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise _BadRequest(f"messages[{i}] must be an object with a 'role'", f"messages[{i}]")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _BadRequest("'stream' must be a boolean", "stream")
    extension = body.get("mcpgw") or {}
    if not isinstance(extension, dict):
        raise _BadRequest("'mcpgw' must be an object", "mcpgw")
    unknown = sorted(set(extension) - _EXTENSION_KEYS)
    if unknown:
        raise _BadRequest(f"unknown mcpgw option(s): {', '.join(unknown)}", f"mcpgw.{unknown[0]}")
    fields: dict[str, Any] = {"request_type": "openai", **extension}
    if model in VIRTUAL_MODELS:
        fields["layer"] = VIRTUAL_MODELS[model]
    else:
        fields["model"] = model
    user = body.get("user")
    if isinstance(user, str) and user:
        fields["user_id"] = user
    if request is not None:
        fields["project_id"] = scoped_project(request, fields.get("project_id"))
    fields["messages"] = messages
    fields["stream"] = stream
    fields["openai"] = {k: v for k, v in body.items() if k not in _OWN_KEYS}
    if _TAKES_TRACE_ID:
        fields["trace_id"] = new_id()  # known before the stream starts, so it can go in the headers
    try:
        return GatewayRequest(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        param = f"mcpgw.{where}" if where in extension else where
        raise _BadRequest(f"{param}: {first['msg']}", param) from exc


def _headers(result: GatewayResult) -> dict[str, str]:
    return {
        "x-mcpgw-trace-id": result.context.trace_id,
        "x-mcpgw-layer": result.routing.layer or "",
        "x-mcpgw-cost": f"{result.performance.cost_usd:.6f}",
    }


def completion_of(result: GatewayResult, requested_model: str) -> dict[str, Any]:
    """The chat.completion dict for a finished result (the upstream's, with usage always present)."""
    completion = dict(result.completion)
    if not completion.get("choices"):
        message = result.message or {"role": "assistant", "content": result.text}
        completion = {
            "id": f"chatcmpl-{result.context.trace_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": result.routing.model or requested_model,
            "choices": [{"index": 0, "message": message, "finish_reason": result.finish_reason or "stop"}],
        }
    completion.setdefault("object", "chat.completion")
    completion.setdefault("created", int(time.time()))
    completion.setdefault("id", f"chatcmpl-{result.context.trace_id}")
    if not completion.get("usage"):
        perf = result.performance
        completion["usage"] = {
            "prompt_tokens": perf.input_tokens,
            "completion_tokens": perf.output_tokens,
            "total_tokens": perf.input_tokens + perf.output_tokens,
        }
    return completion


def _confirmation_error(result: GatewayResult) -> Response:
    c = result.confirmation
    assert c is not None
    message = (
        f"escalation to {c.next_layer} ({c.model}, about ${c.estimated_cost_usd:.4f}) needs confirmation: "
        f'{c.reason}; resend with "mcpgw": {{"confirm": true}}'
    )
    body = error_object(409, message, code="confirmation_required")
    body["error"]["confirmation"] = c.model_dump()
    return Response(orjson.dumps(body), status_code=409, media_type=_JSON, headers=_headers(result))


# ---- chat completions --------------------------------------------------------------------------


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    """OpenAI Chat Completions through the gateway pipeline (JSON, or SSE when ``stream`` is true)."""
    try:
        body = await _json_body(request)
        req = to_gateway_request(body, request=request)
        gateway = _gateway(request)
        if req.stream:
            return await _stream(gateway, req, body)
        result = await gateway.run(req)
    except _BadRequest as exc:
        return error_response(exc, param=exc.param)
    except MCPGWError as exc:
        return error_response(exc)
    if result.status == "confirmation_required":
        return _confirmation_error(result)
    completion = completion_of(result, body["model"])
    return Response(orjson.dumps(completion), media_type=_JSON, headers=_headers(result))


def _sse(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"


def _start_layer(gateway: Gateway, req: GatewayRequest) -> str:
    """The layer a stream starts on when the request decides it (a pinned layer or model), else ''."""
    if req.layer is not None:
        return req.layer
    if req.model is not None:
        return gateway.layer_of(req.model) or ""
    return ""


def _trailer(result: GatewayResult) -> bytes:
    """An SSE comment with what is only known at the end of a stream (clients ignore comments)."""
    return (
        f": mcpgw trace_id={result.context.trace_id} layer={result.routing.layer or ''} "
        f"model={result.routing.model or ''} cost_usd={result.performance.cost_usd:.8f}\n\n"
    ).encode()


async def _stream(gateway: Gateway, req: GatewayRequest, body: dict[str, Any]) -> Response:
    """Start the gateway's stream; errors before the first chunk get a real status, later ones an SSE
    error event (what OpenAI does, and what the SDKs raise on)."""
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    items = gateway.stream(req).__aiter__()
    try:
        first = await items.__anext__()
    except StopAsyncIteration:
        raise GatewayError("the gateway ended the stream without an answer") from None
    if isinstance(first, GatewayResult):  # nothing streamed (e.g. escalation needs confirmation)
        if first.status == "confirmation_required":
            return _confirmation_error(first)
        return StreamingResponse(
            _replay(first, body["model"], include_usage),
            media_type="text/event-stream",
            headers={**_SSE_HEADERS, **_headers(first)},
        )
    headers = {
        **_SSE_HEADERS,
        "x-mcpgw-trace-id": req_trace_id(req),
        "x-mcpgw-layer": _start_layer(gateway, req),
        "x-mcpgw-cost": "0",
    }
    return StreamingResponse(_relay(first, items, include_usage), media_type="text/event-stream", headers=headers)


def req_trace_id(req: GatewayRequest) -> str:
    """The trace id the request asked the gateway to use, when the gateway takes one."""
    return str(getattr(req, "trace_id", None) or "")


def _chunk_parts(item: Any) -> tuple[dict[str, Any], bytes | None]:
    """(chunk dict, its JSON bytes when already encoded): the gateway yields StreamChunk or plain dicts."""
    if isinstance(item, dict):
        return item, None
    return item.chunk, item.raw


async def _relay(first: Any, items: AsyncIterator[Any], include_usage: bool) -> AsyncIterator[bytes]:
    """SSE frames for the gateway's chunks; the usage-only chunk only when the client asked for it."""
    usage_sent = False
    dumps = orjson.dumps
    item = first
    try:
        while True:
            if isinstance(item, GatewayResult):
                if include_usage and not usage_sent:
                    yield _sse(dumps(_usage_chunk(item)))
                yield _trailer(item)
                break
            chunk, raw = _chunk_parts(item)
            if chunk.get("choices") or chunk.get("usage") is None:
                yield _sse(raw if raw is not None else dumps(chunk))
            elif include_usage:
                usage_sent = True
                yield _sse(raw if raw is not None else dumps(chunk))
            item = await items.__anext__()
    except StopAsyncIteration:
        pass
    except MCPGWError as exc:
        yield _sse(dumps(error_object(exc.status, exc.message, code=_error_code(exc))))
        return
    finally:
        await _close(items)
    yield _DONE


async def _close(items: AsyncIterator[Any]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        await aclose()


def _usage_chunk(result: GatewayResult) -> dict[str, Any]:
    perf = result.performance
    return {
        "id": str(result.completion.get("id") or f"chatcmpl-{result.context.trace_id}"),
        "object": "chat.completion.chunk",
        "created": int(result.completion.get("created") or time.time()),
        "model": str(result.completion.get("model") or result.routing.model or ""),
        "choices": [],
        "usage": {
            "prompt_tokens": perf.input_tokens,
            "completion_tokens": perf.output_tokens,
            "total_tokens": perf.input_tokens + perf.output_tokens,
        },
    }


async def _replay(result: GatewayResult, model: str, include_usage: bool) -> AsyncIterator[bytes]:
    """A finished result (e.g. from the cache) as a stream: one role+content chunk, one finish chunk."""
    completion = completion_of(result, model)
    choice = completion["choices"][0]
    message = choice.get("message") or {}
    base = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion["model"],
    }
    delta: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("tool_calls"):
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
    yield _sse(orjson.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}))
    finish: dict[str, Any] = {"index": 0, "delta": {}, "finish_reason": choice.get("finish_reason") or "stop"}
    yield _sse(orjson.dumps({**base, "choices": [finish]}))
    if include_usage:
        yield _sse(orjson.dumps({**base, "choices": [], "usage": completion["usage"]}))
    yield _DONE


# ---- models ------------------------------------------------------------------------------------


def _model_entry(model_id: str, owner: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": _CREATED, "owned_by": owner}


def model_list(gateway: Gateway | None) -> list[dict[str, Any]]:
    """The virtual models, then every configured model a provider serves."""
    data = [_model_entry(model_id, "mcpgw") for model_id in VIRTUAL_MODELS]
    if gateway is None:
        return data
    seen = set(VIRTUAL_MODELS)
    for ref in gateway.usable_models():
        if ref in seen:
            continue
        seen.add(ref)
        resolved = gateway.registry.resolve(ref)
        data.append(_model_entry(ref, resolved.provider.name if resolved else ref.partition("/")[0]))
    return data


@router.get("/v1/models")
async def models(request: Request) -> Response:
    """OpenAI's model list: ``mcpgw/auto``, ``mcpgw/L0`` … ``mcpgw/L3``, then the configured models."""
    state: DaemonState = request.app.state.daemon
    data = model_list(state.services.get("gateway"))
    return Response(orjson.dumps({"object": "list", "data": data}), media_type=_JSON)


@router.get("/v1/models/{model_id:path}")
async def model_get(request: Request, model_id: str) -> Response:
    """One model by id (404 in OpenAI's shape when it is not listed)."""
    state: DaemonState = request.app.state.daemon
    for entry in model_list(state.services.get("gateway")):
        if entry["id"] == model_id:
            return Response(orjson.dumps(entry), media_type=_JSON)
    body = error_object(404, f"The model '{model_id}' does not exist", code="model_not_found", param="model")
    return Response(orjson.dumps(body), status_code=404, media_type=_JSON)


# ---- embeddings --------------------------------------------------------------------------------

LOCAL_EMBED_MODELS = frozenset({"mcpgw/local", "local", "all-MiniLM-L6-v2", "mcpgw/all-MiniLM-L6-v2"})
STOCK_EMBED_MODELS = frozenset({"all-MiniLM-L6-v2", "mcpgw/all-MiniLM-L6-v2"})  # not the bundled code model
_EMBED_OWN_KEYS = frozenset({"model", "input", "encoding_format", "user"})


def _embed_inputs(body: dict[str, Any]) -> list[str] | list[list[int]]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(t, str) for t in raw):
            return raw
        if all(isinstance(t, int) for t in raw):
            return [raw]
        if all(isinstance(t, list) and t and all(isinstance(i, int) for i in t) for t in raw):
            return raw
    raise _BadRequest("'input' must be a string, an array of strings, or token arrays", "input")


def _encode(vector: list[float], fmt: str) -> list[float] | str:
    if fmt == "base64":
        import array
        import base64

        return base64.b64encode(array.array("f", vector).tobytes()).decode()
    return vector


async def _local_embeddings(
    state: DaemonState, texts: list[str], *, stock: bool = False
) -> tuple[list[list[float]], str] | None:
    """Vectors from the local embedder, or the stock all-MiniLM-L6-v2 when ``stock`` (None when that
    model is not installed)."""
    from mcpgw.search.embedder import load_embedder

    search = state.settings.search

    def go() -> tuple[list[list[float]], str] | None:
        kind, model_dir = ("minilm", None) if stock else ("local", search.model_dir)
        embedder, _notice = load_embedder(kind, model_dir=model_dir, allow_download=False)
        if embedder is None:
            return None
        vectors = embedder.embed_documents(texts)
        return [row.tolist() for row in vectors], embedder.name

    return await asyncio.to_thread(go)


async def _provider_embeddings(
    gateway: Gateway, ref: str, inputs: list[str] | list[list[int]], extra: dict[str, Any]
) -> tuple[list[list[float]], str, str, int]:
    """Vectors from a provider's embeddings API: (vectors, provider name, model, prompt tokens)."""
    from mcpgw.providers._http import HTTPProvider

    resolved = gateway.registry.resolve(ref)
    if resolved is None:
        raise UsageError(
            f"unknown embedding model {ref!r}: no configured provider serves it",
            fix="use 'mcpgw/local', or a ref like 'openai/text-embedding-3-small'",
        )
    provider = resolved.provider
    if not isinstance(provider, HTTPProvider) or provider.kind == "anthropic":
        raise UsageError(
            f"provider '{provider.name}' ({provider.kind}) has no embeddings API",
            fix="use an OpenAI-compatible or Ollama provider, or 'mcpgw/local'",
        )
    if provider.kind == "ollama":
        if not all(isinstance(t, str) for t in inputs):
            raise _BadRequest("token arrays are not supported by Ollama embeddings", "input")
        data = await provider.request_json(
            "POST", "/api/embed", orjson.dumps({"model": resolved.model, "input": inputs})
        )
        vectors = data.get("embeddings") if isinstance(data, dict) else None
        tokens = int(data.get("prompt_eval_count") or 0) if isinstance(data, dict) else 0
    else:
        payload = {**extra, "model": resolved.model, "input": inputs, "encoding_format": "float"}
        data = await provider.request_json("POST", "/embeddings", orjson.dumps(payload))
        items = data.get("data") if isinstance(data, dict) else None
        vectors = [item.get("embedding") for item in sorted(items, key=lambda i: i.get("index", 0))] if items else None
        tokens = int((data.get("usage") or {}).get("prompt_tokens") or 0) if isinstance(data, dict) else 0
    if not isinstance(vectors, list) or len(vectors) != len(inputs) or not all(isinstance(v, list) for v in vectors):
        raise provider.malformed("embeddings answer without one vector per input")
    return vectors, provider.name, resolved.model, tokens


def _record_embedding(
    state: DaemonState,
    *,
    provider: str,
    model: str,
    tokens: int,
    inputs: int,
    cost: float,
    started: float,
    project_id: str | None,
    user_id: str | None,
) -> str:
    """One trace with its llm_calls row, through the write-behind queue, and a ``trace`` event."""
    from mcpgw.store.traces import enqueue_trace

    trace_id, duration = new_id(), int((time.perf_counter() - started) * 1000)
    call = {
        "provider": provider,
        "model": model,
        "layer": "L0" if provider == "local" else None,
        "task_type": "embeddings",
        "input_tokens": tokens,
        "output_tokens": 0,
        "cost": cost,
        "duration_ms": duration,
        "status": "ok",
    }
    trace = {
        "id": trace_id,
        "project_id": project_id,
        "user_id": user_id,
        "request_type": "embeddings",
        "request_payload": {"model": model, "inputs": inputs},
        "total_cost": cost,
        "total_duration_ms": duration,
    }
    try:
        enqueue_trace(state.store, trace, [call])
    except MCPGWError as exc:  # recording never fails the request it describes
        log.error("embeddings trace %s not recorded: %s", trace_id, exc)
    state.events.publish(
        "trace",
        {
            "id": trace_id,
            "request_type": "embeddings",
            "model": f"{provider}/{model}",
            "cost_usd": cost,
            "duration_ms": duration,
            "status": "ok",
        },
    )
    return trace_id


@router.post("/v1/embeddings")
async def embeddings(request: Request) -> Response:
    """OpenAI Embeddings. ``mcpgw/local`` (and ``mcpgw/auto``) use the local embedder at $0 (the bundled
    code model unless configured otherwise), ``all-MiniLM-L6-v2`` the stock model when it is installed;
    any provider ref uses that provider's API."""
    state: DaemonState = request.app.state.daemon
    started = time.perf_counter()
    try:
        body = await _json_body(request)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest("you must provide a model (e.g. 'mcpgw/local')", "model")
        fmt = body.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise _BadRequest("'encoding_format' must be 'float' or 'base64'", "encoding_format")
        inputs = _embed_inputs(body)
        user = body.get("user") if isinstance(body.get("user"), str) else None
        project_id = scoped_project(request, None)
        texts = [t for t in inputs if isinstance(t, str)]
        local = None
        if model in LOCAL_EMBED_MODELS or model == AUTO_MODEL:
            if len(texts) != len(inputs):
                raise _BadRequest("the local embedder takes text, not token arrays", "input")
            local = await _local_embeddings(state, texts, stock=model in STOCK_EMBED_MODELS)
            if local is None and model != AUTO_MODEL:
                from mcpgw.errors import NoRoute

                raise NoRoute(
                    "no local embedding model is installed",
                    fix="run `python scripts/prepare_embedding_model.py`, or use a provider's model",
                )
        if local is not None:
            from mcpgw.pricing import estimate_text_tokens

            vectors, name = local
            provider, upstream, cost = "local", name, 0.0
            tokens = sum(estimate_text_tokens(t) for t in texts)
        else:
            ref = state.settings.search.openai_model if model == AUTO_MODEL else model
            if model == AUTO_MODEL and "/" not in ref:
                ref = f"openai/{ref}"
            extra = {k: v for k, v in body.items() if k not in _EMBED_OWN_KEYS}
            gateway = _gateway(request)
            vectors, provider, upstream, tokens = await _provider_embeddings(gateway, ref, inputs, extra)
            from mcpgw.pricing import cost_usd

            resolved = gateway.registry.resolve(ref)
            base_url = resolved.provider.settings.base_url if resolved else None
            overrides = {k: v.model_dump() for k, v in state.settings.pricing.overrides.items()}
            cost = cost_usd(provider, upstream, tokens, 0, overrides, base_url=base_url)
    except _BadRequest as exc:
        return error_response(exc, param=exc.param)
    except MCPGWError as exc:
        return error_response(exc)
    trace_id = _record_embedding(
        state,
        provider=provider,
        model=upstream,
        tokens=tokens,
        inputs=len(inputs),
        cost=cost,
        started=started,
        project_id=project_id,
        user_id=user,
    )
    answer = {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": _encode(v, fmt)} for i, v in enumerate(vectors)],
        "model": model if model in VIRTUAL_MODELS or model in LOCAL_EMBED_MODELS else upstream,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    headers = {
        "x-mcpgw-trace-id": trace_id,
        "x-mcpgw-layer": "L0" if provider == "local" else "",
        "x-mcpgw-cost": f"{cost:.6f}",
        "x-mcpgw-model": upstream,  # the model that made the vectors (``model`` echoes the request)
    }
    return Response(orjson.dumps(answer), media_type=_JSON, headers=headers)
