"""Ollama native API adapter: ``/api/chat`` (JSON or NDJSON stream), ``/api/tags`` for models.

Mapping: sampling fields → ``options`` (``max_tokens`` → ``num_predict``); ``response_format``
json_object → ``format: "json"``, json_schema → ``format: <schema>``; tool calls carry arguments as
objects upstream and JSON strings toward OpenAI, with generated ids (Ollama has none);
``prompt_eval_count``/``eval_count`` → usage. Local models cost nothing, so no key is sent.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from mcpgw.providers._http import HTTPProvider, parse_arguments
from mcpgw.providers.base import ChatResult, StreamChunk, finish_result
from mcpgw.providers.sse import NDJSONDecoder

_OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}


def _content(content: Any) -> tuple[str, list[str]]:
    """OpenAI content → (text, base64 images)."""
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    images: list[str] = []
    for part in content or ():
        if part.get("type") == "text":
            texts.append(part.get("text", ""))
        elif part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if ";base64," in url:
                images.append(url.split(";base64,", 1)[1])
    return "".join(texts), images


def to_ollama(model: str, body: dict[str, Any], stream: bool) -> dict[str, Any]:
    """OpenAI chat.completions body → Ollama ``/api/chat`` body."""
    messages: list[dict[str, Any]] = []
    for message in body.get("messages") or ():
        role = message.get("role")
        text, images = _content(message.get("content"))
        out: dict[str, Any] = {"role": "system" if role == "developer" else role, "content": text}
        if images:
            out["images"] = images
        calls = message.get("tool_calls")
        if calls:
            out["tool_calls"] = [
                {
                    "function": {
                        "name": c["function"]["name"],
                        "arguments": parse_arguments(c["function"].get("arguments"), keep_invalid=False),
                    }
                }
                for c in calls
            ]
        messages.append(out)
    payload: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
    options = {target: body[key] for key, target in _OPTIONS.items() if body.get(key) is not None}
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        options["num_predict"] = max_tokens
    stop = body.get("stop")
    if stop:
        options["stop"] = [stop] if isinstance(stop, str) else list(stop)
    if options:
        payload["options"] = options
    if body.get("tools"):
        payload["tools"] = body["tools"]
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_object":
        payload["format"] = "json"
    elif fmt.get("type") == "json_schema":
        payload["format"] = (fmt.get("json_schema") or {}).get("schema") or "json"
    return payload


def _tool_calls(calls: list[dict[str, Any]], start: int, prefix: str) -> list[dict[str, Any]]:
    out = []
    for i, call in enumerate(calls, start):
        function = call.get("function") or {}
        arguments = function.get("arguments")
        out.append(
            {
                "index": i,
                "id": f"call_{prefix}_{i}",
                "type": "function",
                "function": {
                    "name": function.get("name", ""),
                    "arguments": arguments if isinstance(arguments, str) else orjson.dumps(arguments or {}).decode(),
                },
            }
        )
    return out


def _usage(data: dict[str, Any]) -> dict[str, int] | None:
    if data.get("prompt_eval_count") is None and data.get("eval_count") is None:
        return None
    prompt = int(data.get("prompt_eval_count") or 0)
    completion = int(data.get("eval_count") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _finish(reason: str | None, has_tools: bool) -> str:
    if has_tools:
        return "tool_calls"
    return "length" if reason == "length" else "stop"


class OllamaProvider(HTTPProvider):
    """Adapter for a local (or remote) Ollama server's native API."""

    async def _chat(self, model: str, body: dict[str, Any]) -> ChatResult:
        data = await self.request_json("POST", "/api/chat", orjson.dumps(to_ollama(model, body, False)))
        if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
            if isinstance(data, dict) and data.get("error"):
                raise self.error(f"upstream error: {data['error']}", retryable=True)
            raise self.malformed("chat answer without a message")
        message = data["message"]
        created = int(time.time())
        calls = [
            {k: v for k, v in c.items() if k != "index"}
            for c in _tool_calls(message.get("tool_calls") or [], 0, str(created))
        ]
        text = message.get("content") or ""
        out: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
        if calls:
            out["tool_calls"] = calls
        response: dict[str, Any] = {
            "id": f"chatcmpl-ollama-{created}",
            "object": "chat.completion",
            "created": created,
            "model": data.get("model") or model,
            "choices": [{"index": 0, "message": out, "finish_reason": _finish(data.get("done_reason"), bool(calls))}],
        }
        return finish_result(response, self.name, response["model"], _usage(data), body.get("messages"))

    async def stream_chunks(self, model: str, body: dict[str, Any]) -> AsyncIterator[StreamChunk]:
        response = await self.open_stream("/api/chat", orjson.dumps(to_ollama(model, body, True)))
        decoder = NDJSONDecoder()
        created = int(time.time())
        base: dict[str, Any] = {
            "id": f"chatcmpl-ollama-{created}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        tools = 0
        done = False
        with self.reading_stream(response):
            yield StreamChunk.of(
                {
                    **base,
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
                }
            )
            async for raw in response.content.iter_any():
                for line in decoder.feed(raw):
                    try:
                        data = orjson.loads(line)
                    except orjson.JSONDecodeError as exc:
                        raise self.malformed(f"invalid JSON line in stream ({exc})") from exc
                    if not isinstance(data, dict):
                        raise self.malformed("stream line is not an object")
                    if "error" in data:
                        raise self.error(f"error mid-stream: {data['error']}", retryable=True, reason="protocol")
                    message = data.get("message") or {}
                    if message.get("content"):
                        yield StreamChunk.of(
                            {
                                **base,
                                "choices": [
                                    {"index": 0, "delta": {"content": message["content"]}, "finish_reason": None}
                                ],
                            }
                        )
                    if message.get("tool_calls"):
                        calls = _tool_calls(message["tool_calls"], tools, str(created))
                        tools += len(calls)
                        yield StreamChunk.of(
                            {**base, "choices": [{"index": 0, "delta": {"tool_calls": calls}, "finish_reason": None}]}
                        )
                    if data.get("done"):
                        done = True
                        finish = _finish(data.get("done_reason"), tools > 0)
                        yield StreamChunk.of({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
                        usage = _usage(data)
                        if usage is not None:
                            yield StreamChunk.of({**base, "choices": [], "usage": usage})
                        break
                if done:
                    break
        if not done:
            raise self.error("stream ended early (no done line)", retryable=True, reason="truncated")

    async def list_models(self) -> list[str]:
        data = await self.request_json("GET", "/api/tags")
        items = data.get("models") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise self.malformed("model list without 'models'")
        return [str(item.get("name") or item.get("model")) for item in items if isinstance(item, dict)]
