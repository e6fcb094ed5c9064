"""Protocol-faithful fake LLM upstreams on loopback: OpenAI, Anthropic and Ollama wire formats.

Each fake is a small raw-asyncio HTTP/1.1 keep-alive server (fast enough to be the benchmark
upstream). Use it from sync or async tests — it runs its own event loop in a background thread::

    with FakeOpenAI() as fake:
        fake.reply("Hello!", usage=False)
        fake.fail_next(429, retry_after=1)
        ...  # point a provider at fake.base_url
        assert fake.requests[-1].body["model"] == "gpt-4o-mini"

or in the foreground from another process: ``python -m tests.fakes.upstreams --kind openai --port N``.

Script API (thread-safe): ``reply`` queues one answer (optionally for one model only), ``answer_for``
sets a standing per-model answer, and the fault methods (``fail_next``, ``hang_next``,
``malformed_next``, ``truncate_stream_next``) queue a fault for the next matching request. Faults are
consumed before answers, so ``fail_next(500); reply("ok")`` fails once, then answers "ok".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, ClassVar, Literal

import orjson

Endpoint = Literal["chat", "models", "embed", "any"]
_WORDS = re.compile(r"\S+\s*|\s+")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Overloaded",
}


@dataclass
class Reply:
    """One scripted answer. ``tool_calls`` items: ``{"name": str, "arguments": dict | str, "id"?: str}``."""

    text: str = "Hello from the fake upstream."
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: bool = True
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    model: str | None = None

    def pieces(self) -> list[str]:
        """The text split the way it is streamed: one piece per word (with its trailing space)."""
        return _WORDS.findall(self.text)


@dataclass
class Fault:
    kind: Literal["fail", "hang", "malformed", "truncate"]
    status: int = 500
    retry_after: str | None = None
    message: str | None = None
    seconds: float = 0.0
    mid_stream: bool = False
    model: str | None = None
    endpoint: Endpoint = "chat"


@dataclass
class RecordedRequest:
    """A request the fake received: lower-cased header names, JSON body parsed when it is JSON."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes


@dataclass
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    frames: list[bytes] | None = None  # streamed with chunked transfer encoding when set
    truncate: bool = False
    stall_s: float = 0.0  # sleep in the middle of the body (mid-stream hang)


class _Closed(Exception):
    """The client went away; stop serving this connection."""


class FakeUpstream:
    """Base class: HTTP/1.1 server, script state, request log. Subclasses implement ``route``."""

    kind: ClassVar[str] = ""
    default_models: ClassVar[list[str]] = []

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: list[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = True,
        stream_delay_s: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.models = list(models if models is not None else self.default_models)
        self.host = host
        self.port = port
        self.record = record
        self.stream_delay_s = stream_delay_s
        self.default_reply = Reply(text=f"Hello from the fake {self.kind} upstream.")
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._replies: list[Reply] = []
        self._answers: dict[str, Reply] = {}
        self._faults: list[Fault] = []
        self._counter = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- script -------------------------------------------------------------------------------
    def reply(self, text: str | None = None, **kwargs: Any) -> Reply:
        """Queue one answer (``Reply`` fields as keywords; ``model=`` binds it to one model)."""
        item = Reply(text=self.default_reply.text if text is None else text, **kwargs)
        with self._lock:
            self._replies.append(item)
        return item

    def answer_for(self, model: str, text: str | None = None, **kwargs: Any) -> None:
        """Standing answer for every request to ``model`` once the queue has nothing for it."""
        with self._lock:
            self._answers[model] = Reply(text=self.default_reply.text if text is None else text, **kwargs)

    def fail_next(
        self,
        status: int,
        *,
        retry_after: float | str | None = None,
        message: str | None = None,
        times: int = 1,
        model: str | None = None,
        endpoint: Endpoint = "chat",
    ) -> None:
        """Answer the next ``times`` matching requests with an error ``status`` in the provider's shape."""
        ra = None if retry_after is None else str(retry_after)
        self._push(times, Fault("fail", status, ra, message, model=model, endpoint=endpoint))

    def hang_next(self, seconds: float, *, mid_stream: bool = False, times: int = 1, model: str | None = None) -> None:
        """Sleep ``seconds`` before answering (or, with ``mid_stream``, halfway through the body)."""
        self._push(times, Fault("hang", seconds=seconds, mid_stream=mid_stream, model=model))

    def malformed_next(self, *, times: int = 1, model: str | None = None) -> None:
        """Answer 200 with broken JSON (a broken event/line when streaming)."""
        self._push(times, Fault("malformed", model=model))

    def truncate_stream_next(self, *, times: int = 1, model: str | None = None) -> None:
        """Send half the body, then drop the connection (no terminating chunk)."""
        self._push(times, Fault("truncate", model=model))

    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self._answers.clear()
            self._faults.clear()
            self.requests.clear()

    def _push(self, times: int, fault: Fault) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def _take_fault(self, endpoint: Endpoint, model: str | None) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.endpoint not in (endpoint, "any"):
                    continue
                if fault.model is not None and fault.model != model:
                    continue
                return self._faults.pop(i)
        return None

    def _take_reply(self, model: str) -> Reply:
        with self._lock:
            for i, item in enumerate(self._replies):
                if item.model is None or item.model == model:
                    return self._replies.pop(i)
            return self._answers.get(model, self.default_reply)

    def _next_id(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL a client SDK is configured with (OpenAI's includes ``/v1``)."""
        return self.origin

    def start(self) -> FakeUpstream:
        """Serve in a background thread; returns once the port is bound."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._bind())
            except OSError as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"fake-{self.kind}", daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def serve_forever(self, *, announce: bool = False) -> None:
        """Serve on the current event loop (the ``python -m`` entry point); print the URL if asked."""
        await self._bind()
        assert self._server is not None
        if announce:
            print(self.base_url, flush=True)
        async with self._server:
            await self._server.serve_forever()

    async def _bind(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # -- HTTP/1.1 -------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head[:-4].split(b"\r\n")
                method, target, _version = lines[0].decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    raw = await self._read_chunked(reader)
                else:
                    length = int(headers.get("content-length") or 0)
                    raw = await reader.readexactly(length) if length else b""
                path = target.split("?", 1)[0]
                body: Any = None
                if raw and "json" in headers.get("content-type", "json"):
                    with contextlib.suppress(orjson.JSONDecodeError):
                        body = orjson.loads(raw)
                request = RecordedRequest(method, path, headers, body, raw)
                if self.record:
                    with self._lock:
                        self.requests.append(request)
                response = await self._respond(request)
                await self._write(writer, response)
                if response.truncate or headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, _Closed, ValueError):
            pass
        except asyncio.CancelledError:
            pass  # stop() cancels open connections; ending quietly avoids asyncio's callback noise
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.transport.abort()

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def _respond(self, request: RecordedRequest) -> Response:
        endpoint = self.endpoint_of(request)
        model = request.body.get("model") if isinstance(request.body, dict) else None
        fault = self._take_fault(endpoint, model) if endpoint is not None else None
        if fault is not None and fault.kind == "hang" and not fault.mid_stream:
            await asyncio.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "fail":
            response = self.error(fault.status, fault.message or f"scripted failure {fault.status}")
            if fault.retry_after is not None:
                response.headers.append(("retry-after", fault.retry_after))
            return response
        denied = self.check_auth(request)
        if denied is not None:
            return denied
        response = self.route(request, endpoint)
        if fault is None:
            return response
        if fault.kind == "hang":
            response.stall_s = fault.seconds
        elif fault.kind == "truncate":
            response.truncate = True
        elif fault.kind == "malformed":
            if response.frames is not None:
                keep = response.frames[: max(1, len(response.frames) // 2)]
                response.frames = [*keep, self.malformed_frame(), *response.frames[len(keep) :]]
            else:
                response.body = response.body[: len(response.body) // 2]
        return response

    async def _write(self, writer: asyncio.StreamWriter, response: Response) -> None:
        reason = _REASONS.get(response.status, "Status")
        head = [f"HTTP/1.1 {response.status} {reason}", f"date: {formatdate(usegmt=True)}"]
        head.extend(f"{k}: {v}" for k, v in response.headers)
        if response.frames is None:
            body = response.body
            head.append(f"content-length: {len(body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            if response.truncate or response.stall_s:
                writer.write(body[: len(body) // 2])
                await writer.drain()
                if response.truncate:
                    raise _Closed
                await asyncio.sleep(response.stall_s)
                body = body[len(body) // 2 :]
            writer.write(body)
            await writer.drain()
            return
        head.append("transfer-encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        frames = response.frames
        half = len(frames) // 2
        for i, frame in enumerate(frames):
            if i == half and (response.truncate or response.stall_s):
                await writer.drain()
                if response.truncate:
                    raise _Closed
                await asyncio.sleep(response.stall_s)
            writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            if self.stream_delay_s:
                await writer.drain()
                await asyncio.sleep(self.stream_delay_s)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    # -- per wire format ------------------------------------------------------------------------
    def endpoint_of(self, request: RecordedRequest) -> Endpoint | None:
        raise NotImplementedError

    def route(self, request: RecordedRequest, endpoint: Endpoint | None) -> Response:
        raise NotImplementedError

    def error(self, status: int, message: str) -> Response:
        raise NotImplementedError

    def check_auth(self, request: RecordedRequest) -> Response | None:
        return None

    def malformed_frame(self) -> bytes:
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def json(payload: Any, status: int = 200) -> Response:
        return Response(status, [("content-type", "application/json")], orjson.dumps(payload))

    @staticmethod
    def prompt_tokens(body: Any) -> int:
        """Deterministic prompt count: characters of every message and system text / 4, at least 1."""
        chars = 0
        if isinstance(body, dict):
            for message in body.get("messages") or ():
                content = message.get("content") if isinstance(message, dict) else None
                chars += len(content) if isinstance(content, str) else len(orjson.dumps(content))
            system = body.get("system")
            if system:
                chars += len(system) if isinstance(system, str) else len(orjson.dumps(system))
        return max(1, chars // 4)

    @staticmethod
    def completion_tokens(reply: Reply) -> int:
        args = sum(len(_args_text(c)) for c in reply.tool_calls)
        return max(1, (len(reply.text) + args) // 4)

    @staticmethod
    def embedding(text: str, dim: int = 8) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [round((b - 128) / 128, 4) for b in digest[:dim]]


def _args_text(call: dict[str, Any]) -> str:
    args = call.get("arguments", {})
    return args if isinstance(args, str) else orjson.dumps(args).decode()


def _args_obj(call: dict[str, Any]) -> Any:
    args = call.get("arguments", {})
    return orjson.loads(args) if isinstance(args, str) else args


def _sse(payload: dict[str, Any], event: str | None = None) -> bytes:
    data = b"data: " + orjson.dumps(payload) + b"\n\n"
    return b"event: " + event.encode() + b"\n" + data if event else data


def _halves(text: str) -> Iterator[str]:
    """Split JSON text in two pieces, the way upstreams stream tool arguments."""
    mid = len(text) // 2
    if mid:
        yield text[:mid]
    yield text[mid:]


class FakeOpenAI(FakeUpstream):
    """OpenAI Chat Completions: ``/v1/chat/completions`` (JSON or SSE), ``/v1/models``, ``/v1/embeddings``."""

    kind = "openai"
    default_models: ClassVar[list[str]] = ["gpt-4o-mini", "gpt-4o"]

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    def endpoint_of(self, request: RecordedRequest) -> Endpoint | None:
        return {"/v1/chat/completions": "chat", "/v1/models": "models", "/v1/embeddings": "embed"}.get(request.path)  # type: ignore[return-value]

    def check_auth(self, request: RecordedRequest) -> Response | None:
        if self.api_key is None or request.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        return self.json(
            {
                "error": {
                    "message": "Incorrect API key provided.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
            401,
        )

    def error(self, status: int, message: str) -> Response:
        kind, code = {
            429: ("requests", "rate_limit_exceeded"),
            400: ("invalid_request_error", None),
            404: ("invalid_request_error", "model_not_found"),
        }.get(status, ("server_error", None))
        return self.json({"error": {"message": message, "type": kind, "param": None, "code": code}}, status)

    def malformed_frame(self) -> bytes:
        return b'data: {"id": "chatcmpl-broken", "choices": [{"delta": {"content": "x\n\n'

    def route(self, request: RecordedRequest, endpoint: Endpoint | None) -> Response:
        body = request.body
        if endpoint == "models" and request.method == "GET":
            return self.json(
                {
                    "object": "list",
                    "data": [
                        {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in self.models
                    ],
                }
            )
        if endpoint == "embed" and request.method == "POST" and isinstance(body, dict):
            inputs = body.get("input")
            items = [inputs] if isinstance(inputs, str) else list(inputs or [])
            tokens = sum(max(1, len(str(i)) // 4) for i in items)
            return self.json(
                {
                    "object": "list",
                    "data": [
                        {"object": "embedding", "index": i, "embedding": self.embedding(str(t))}
                        for i, t in enumerate(items)
                    ],
                    "model": body.get("model"),
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                }
            )
        if endpoint != "chat" or request.method != "POST":
            return self.error(404, f"Unknown request URL: {request.method} {request.path}")
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
            return self.error(400, "'model' and 'messages' are required properties")
        if not body["messages"]:
            return self.error(400, "Invalid 'messages': empty array.")
        reply = self._take_reply(body["model"])
        return self._stream(body, reply) if body.get("stream") else self._complete(body, reply)

    def _usage(self, body: dict[str, Any], reply: Reply) -> dict[str, int]:
        p = reply.prompt_tokens if reply.prompt_tokens is not None else self.prompt_tokens(body)
        c = reply.completion_tokens if reply.completion_tokens is not None else self.completion_tokens(reply)
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def _tool_calls(self, reply: Reply, n: int) -> list[dict[str, Any]]:
        return [
            {
                "id": c.get("id") or f"call_fake_{n}_{i}",
                "type": "function",
                "function": {"name": c["name"], "arguments": _args_text(c)},
            }
            for i, c in enumerate(reply.tool_calls)
        ]

    def _complete(self, body: dict[str, Any], reply: Reply) -> Response:
        n = self._next_id()
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = self._tool_calls(reply, n)
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        payload: dict[str, Any] = {
            "id": f"chatcmpl-fake{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        }
        if reply.usage:
            payload["usage"] = self._usage(body, reply)
        return self.json(payload)

    def _stream(self, body: dict[str, Any], reply: Reply) -> Response:
        n = self._next_id()
        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and reply.usage
        base: dict[str, Any] = {
            "id": f"chatcmpl-fake{n}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            payload = {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                payload["usage"] = None
            return _sse(payload)

        frames = [chunk({"role": "assistant", "content": "", "refusal": None})]
        frames.extend(chunk({"content": piece}) for piece in reply.pieces())
        for i, call in enumerate(self._tool_calls(reply, n)):
            head = {
                "index": i,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            frames.append(chunk({"tool_calls": [head]}))
            frames.extend(
                chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
                for part in _halves(call["function"]["arguments"])
            )
        frames.append(chunk({}, reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")))
        if include_usage:
            frames.append(_sse({**base, "choices": [], "usage": self._usage(body, reply)}))
        frames.append(b"data: [DONE]\n\n")
        return Response(200, [("content-type", "text/event-stream; charset=utf-8")], frames=frames)


class FakeAnthropic(FakeUpstream):
    """Anthropic Messages API: ``/v1/messages`` (JSON or SSE events), ``/v1/models``.

    Enforces what the real API enforces and a translation could get wrong: ``x-api-key`` and
    ``anthropic-version`` headers, ``max_tokens`` required, only user/assistant roles in ``messages``.
    """

    kind = "anthropic"
    default_models: ClassVar[list[str]] = ["claude-3-haiku-20240307", "claude-3-5-sonnet-20241022"]

    def endpoint_of(self, request: RecordedRequest) -> Endpoint | None:
        return {"/v1/messages": "chat", "/v1/models": "models"}.get(request.path)  # type: ignore[return-value]

    def check_auth(self, request: RecordedRequest) -> Response | None:
        key = request.headers.get("x-api-key")
        if not key or (self.api_key is not None and key != self.api_key):
            return self._err(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self._err(400, "invalid_request_error", "anthropic-version: header is required")
        return None

    def _err(self, status: int, kind: str, message: str) -> Response:
        return self.json({"type": "error", "error": {"type": kind, "message": message}}, status)

    def error(self, status: int, message: str) -> Response:
        kind = {
            400: "invalid_request_error",
            401: "authentication_error",
            404: "not_found_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(status, "api_error")
        return self._err(status, kind, message)

    def malformed_frame(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta\n\n'

    def route(self, request: RecordedRequest, endpoint: Endpoint | None) -> Response:
        body = request.body
        if endpoint == "models" and request.method == "GET":
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2024-10-22T00:00:00Z"} for m in self.models
            ]
            return self.json(
                {
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None,
                }
            )
        if endpoint != "chat" or request.method != "POST":
            return self._err(404, "not_found_error", f"Not found: {request.path}")
        if not isinstance(body, dict):
            return self._err(400, "invalid_request_error", "body: expected a JSON object")
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                return self._err(400, "invalid_request_error", f"{key}: Field required")
        for i, message in enumerate(body["messages"]):
            if message.get("role") not in ("user", "assistant"):
                return self._err(
                    400, "invalid_request_error", f"messages.{i}.role: Input should be 'user' or 'assistant'"
                )
        if not body["messages"]:
            return self._err(400, "invalid_request_error", "messages: at least one message is required")
        reply = self._take_reply(body["model"])
        return self._stream(body, reply) if body.get("stream") else self._complete(body, reply)

    def _blocks(self, reply: Reply, n: int) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
        blocks.extend(
            {
                "type": "tool_use",
                "id": c.get("id") or f"toolu_fake{n}_{i}",
                "name": c["name"],
                "input": _args_obj(c),
            }
            for i, c in enumerate(reply.tool_calls)
        )
        return blocks

    def _usage(self, body: dict[str, Any], reply: Reply) -> dict[str, int]:
        return {
            "input_tokens": reply.prompt_tokens if reply.prompt_tokens is not None else self.prompt_tokens(body),
            "output_tokens": (
                reply.completion_tokens if reply.completion_tokens is not None else self.completion_tokens(reply)
            ),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }

    def _complete(self, body: dict[str, Any], reply: Reply) -> Response:
        n = self._next_id()
        payload: dict[str, Any] = {
            "id": f"msg_fake{n}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": self._blocks(reply, n),
            "stop_reason": reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn"),
            "stop_sequence": None,
        }
        if reply.usage:
            payload["usage"] = self._usage(body, reply)
        return self.json(payload)

    def _stream(self, body: dict[str, Any], reply: Reply) -> Response:
        n = self._next_id()
        usage = self._usage(body, reply)
        start_usage = {**usage, "output_tokens": 1}
        frames = [
            _sse(
                {
                    "type": "message_start",
                    "message": {
                        "id": f"msg_fake{n}",
                        "type": "message",
                        "role": "assistant",
                        "model": body["model"],
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        **({"usage": start_usage} if reply.usage else {}),
                    },
                },
                "message_start",
            )
        ]
        index = 0
        if reply.text:
            frames.append(
                _sse(
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                    "content_block_start",
                )
            )
            frames.append(_sse({"type": "ping"}, "ping"))
            frames.extend(
                _sse(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                    "content_block_delta",
                )
                for piece in reply.pieces()
            )
            frames.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
            index = 1
        for i, block in enumerate(self._blocks(reply, n)[index:]):
            k = index + i
            frames.append(
                _sse(
                    {
                        "type": "content_block_start",
                        "index": k,
                        "content_block": {
                            "type": "tool_use",
                            "id": block["id"],
                            "name": block["name"],
                            "input": {},
                        },
                    },
                    "content_block_start",
                )
            )
            frames.extend(
                _sse(
                    {
                        "type": "content_block_delta",
                        "index": k,
                        "delta": {"type": "input_json_delta", "partial_json": part},
                    },
                    "content_block_delta",
                )
                for part in _halves(orjson.dumps(block["input"]).decode())
            )
            frames.append(_sse({"type": "content_block_stop", "index": k}, "content_block_stop"))
        stop = reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn")
        delta: dict[str, Any] = {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
        }
        if reply.usage:
            delta["usage"] = {"output_tokens": usage["output_tokens"]}
        frames.append(_sse(delta, "message_delta"))
        frames.append(_sse({"type": "message_stop"}, "message_stop"))
        return Response(200, [("content-type", "text/event-stream; charset=utf-8")], frames=frames)


class FakeOllama(FakeUpstream):
    """Ollama native API: ``/api/chat`` (JSON or NDJSON stream; streams unless ``"stream": false``),
    ``/api/tags``, ``/api/version``, ``/api/embed``, ``/api/embeddings``. Unknown models answer 404."""

    kind = "ollama"
    default_models: ClassVar[list[str]] = ["llama3.2:latest", "qwen2.5-coder:7b"]

    def endpoint_of(self, request: RecordedRequest) -> Endpoint | None:
        return {
            "/api/chat": "chat",
            "/api/tags": "models",
            "/api/version": "models",
            "/api/embed": "embed",
            "/api/embeddings": "embed",
        }.get(request.path)  # type: ignore[return-value]

    def error(self, status: int, message: str) -> Response:
        return self.json({"error": message}, status)

    def malformed_frame(self) -> bytes:
        return b'{"model": "broken", "message": {"role": "assistant", "content": "x\n'

    def _known(self, model: str) -> bool:
        return model in self.models or f"{model}:latest" in self.models

    def route(self, request: RecordedRequest, endpoint: Endpoint | None) -> Response:
        body = request.body
        if request.path == "/api/version":
            return self.json({"version": "0.5.7"})
        if request.path == "/api/tags":
            return self.json(
                {
                    "models": [
                        {
                            "name": m,
                            "model": m,
                            "modified_at": "2024-12-01T10:00:00.000000000Z",
                            "size": 2019393189,
                            "digest": hashlib.sha256(m.encode()).hexdigest(),
                            "details": {
                                "format": "gguf",
                                "family": "llama",
                                "parameter_size": "3.2B",
                                "quantization_level": "Q4_K_M",
                            },
                        }
                        for m in self.models
                    ]
                }
            )
        if request.method != "POST" or endpoint is None:
            return self.error(404, "404 page not found")
        if not isinstance(body, dict) or not body.get("model"):
            return self.error(400, "model is required")
        if not self._known(body["model"]):
            return self.error(404, f'model "{body["model"]}" not found, try pulling it first')
        if request.path == "/api/embeddings":
            return self.json({"embedding": self.embedding(str(body.get("prompt", "")))})
        if request.path == "/api/embed":
            inputs = body.get("input")
            items = [inputs] if isinstance(inputs, str) else list(inputs or [])
            return self.json(
                {
                    "model": body["model"],
                    "embeddings": [self.embedding(str(t)) for t in items],
                    "total_duration": 14143917,
                    "load_duration": 1019500,
                    "prompt_eval_count": sum(max(1, len(str(t)) // 4) for t in items),
                }
            )
        if not isinstance(body.get("messages"), list):
            return self.error(400, "messages is required")
        reply = self._take_reply(body["model"])
        created = "2024-12-01T10:00:00.000000000Z"
        final: dict[str, Any] = {
            "model": body["model"],
            "created_at": created,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": reply.finish_reason or "stop",
            "total_duration": 4883583458,
            "load_duration": 1334875,
        }
        if reply.usage:
            final.update(
                prompt_eval_count=reply.prompt_tokens if reply.prompt_tokens is not None else self.prompt_tokens(body),
                prompt_eval_duration=342546000,
                eval_count=(
                    reply.completion_tokens if reply.completion_tokens is not None else self.completion_tokens(reply)
                ),
                eval_duration=4535599000,
            )
        calls = [{"function": {"name": c["name"], "arguments": _args_obj(c)}} for c in reply.tool_calls]
        if body.get("stream", True) is False:
            message: dict[str, Any] = {"role": "assistant", "content": reply.text}
            if calls:
                message["tool_calls"] = calls
            return self.json({**final, "message": message})
        lines = [
            orjson.dumps(
                {
                    "model": body["model"],
                    "created_at": created,
                    "message": {"role": "assistant", "content": piece},
                    "done": False,
                }
            )
            + b"\n"
            for piece in reply.pieces()
        ]
        if calls:
            lines.append(
                orjson.dumps(
                    {
                        "model": body["model"],
                        "created_at": created,
                        "message": {"role": "assistant", "content": "", "tool_calls": calls},
                        "done": False,
                    }
                )
                + b"\n"
            )
        lines.append(orjson.dumps(final) + b"\n")
        return Response(200, [("content-type", "application/x-ndjson")], frames=lines)


FAKES: dict[str, type[FakeUpstream]] = {
    "openai": FakeOpenAI,
    "anthropic": FakeAnthropic,
    "ollama": FakeOllama,
}


def main(argv: list[str] | None = None) -> None:
    """Serve one fake in the foreground (for benchmarks): prints its base URL, runs until killed."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.upstreams", description=main.__doc__)
    parser.add_argument("--kind", choices=sorted(FAKES), default="openai")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--text", default=None, help="the answer to every request")
    parser.add_argument("--stream-delay", type=float, default=0.0, help="seconds between streamed frames")
    args = parser.parse_args(argv)
    fake = FAKES[args.kind](host=args.host, port=args.port, record=False, stream_delay_s=args.stream_delay)
    if args.text is not None:
        fake.default_reply = Reply(text=args.text)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(fake.serve_forever(announce=True))


if __name__ == "__main__":
    main()
