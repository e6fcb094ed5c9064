"""Anthropic Messages API adapter: translates OpenAI chat requests to ``/v1/messages`` and the answers
(JSON or SSE events) back to OpenAI shapes.

Mapping: ``system``/``developer`` messages → ``system``; ``tool`` messages → ``tool_result`` blocks in a
user turn; assistant ``tool_calls`` ↔ ``tool_use`` blocks; ``stop`` → ``stop_sequences``;
``tool_choice`` auto/required/none/named → auto/any/none/tool; ``stop_reason`` → ``finish_reason``;
``usage.input_tokens`` (+ cache reads/writes) → ``prompt_tokens``. The Messages API has no
``response_format``: a JSON request becomes a system instruction (with the schema when given).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from mcpgw.providers._http import HTTPProvider, parse_arguments
from mcpgw.providers.base import ChatResult, StreamChunk, finish_result
from mcpgw.providers.sse import SSEDecoder

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
#: Short names people type → the dated ids the API wants. Other names pass through unchanged.
MODEL_ALIASES = {
    "claude-3-haiku": "claude-3-haiku-20240307",
    "claude-3-sonnet": "claude-3-sonnet-20240229",
    "claude-3-opus": "claude-3-opus-20240229",
    "claude-3.5-haiku": "claude-3-5-haiku-20241022",
    "claude-3-5-haiku": "claude-3-5-haiku-20241022",
    "claude-3.5-sonnet": "claude-3-5-sonnet-20241022",
    "claude-3-5-sonnet": "claude-3-5-sonnet-20241022",
    "claude-3.7-sonnet": "claude-3-7-sonnet-20250219",
    "claude-3-7-sonnet": "claude-3-7-sonnet-20250219",
    "claude-sonnet-4": "claude-sonnet-4-20250514",
    "claude-opus-4": "claude-opus-4-20250514",
}


def resolve_alias(model: str) -> str:
    return MODEL_ALIASES.get(model, model)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _blocks(content: Any) -> list[dict[str, Any]]:
    """OpenAI content (string or parts) → Anthropic content blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content or ():
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if url.startswith("data:") and ";base64," in url:
                media, data = url[5:].split(";base64,", 1)
                blocks.append({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}})
            else:
                blocks.append({"type": "image", "source": {"type": "url", "url": url}})
    return blocks


def to_anthropic(model: str, body: dict[str, Any], stream: bool) -> dict[str, Any]:
    """OpenAI chat.completions body → Anthropic Messages body."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})

    for message in body.get("messages") or ():
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system.append(_text_of(content))
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id", ""),
                "content": _text_of(content),
            }
            add("user", [result])
        elif role == "assistant":
            blocks = _blocks(content)
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id", ""),
                        "name": function.get("name", ""),
                        "input": parse_arguments(function.get("arguments"), keep_invalid=True),
                    }
                )
            if blocks:
                add("assistant", blocks)
        else:
            add("user", _blocks(content) or [{"type": "text", "text": ""}])

    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_object":
        system.append("Respond with a single valid JSON object and nothing else.")
    elif fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema", {})
        system.append(
            "Respond with a single valid JSON object, and nothing else, matching this JSON Schema:\n"
            + orjson.dumps(schema).decode()
        )

    out: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS,
    }
    if system:
        out["system"] = "\n\n".join(s for s in system if s)
    if stream:
        out["stream"] = True
    for key in ("temperature", "top_p", "top_k"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = body.get("tools")
    if tools:
        out["tools"] = [
            {
                "name": t["function"]["name"],
                "description": t["function"].get("description", ""),
                "input_schema": t["function"].get("parameters") or {"type": "object", "properties": {}},
            }
            for t in tools
            if t.get("type", "function") == "function" and "function" in t
        ]
    choice = body.get("tool_choice")
    tool_choice: dict[str, Any] | None = None
    if choice == "auto":
        tool_choice = {"type": "auto"}
    elif choice == "required":
        tool_choice = {"type": "any"}
    elif choice == "none":
        tool_choice = {"type": "none"}
    elif isinstance(choice, dict) and choice.get("function"):
        tool_choice = {"type": "tool", "name": choice["function"].get("name", "")}
    if body.get("parallel_tool_calls") is False and tools:
        tool_choice = {**(tool_choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    if tool_choice is not None and (tools or tool_choice["type"] == "none"):
        out["tool_choice"] = tool_choice
    user = body.get("user")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    return out


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    prompt = (
        int(usage.get("input_tokens") or 0)
        + int(usage.get("cache_creation_input_tokens") or 0)
        + int(usage.get("cache_read_input_tokens") or 0)
    )
    completion = int(usage.get("output_tokens") or 0)
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if usage.get("cache_read_input_tokens"):
        out["prompt_tokens_details"] = {"cached_tokens": int(usage["cache_read_input_tokens"])}
    return out


class AnthropicProvider(HTTPProvider):
    """Adapter for the Anthropic Messages API (``x-api-key`` + ``anthropic-version`` headers)."""

    def auth_headers(self, secret: str | None) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if secret:
            headers["x-api-key"] = secret
        return headers

    async def _chat(self, model: str, body: dict[str, Any]) -> ChatResult:
        model = resolve_alias(model)
        data = await self.request_json("POST", "/v1/messages", orjson.dumps(to_anthropic(model, body, False)))
        if not isinstance(data, dict) or not isinstance(data.get("content"), list):
            raise self.malformed("message without content")
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        for block in data["content"]:
            if block.get("type") == "text":
                texts.append(block.get("text", ""))
            elif block.get("type") == "tool_use":
                arguments = orjson.dumps(block.get("input") or {}).decode()
                calls.append(
                    {
                        "id": block.get("id", ""),
                        "type": "function",
                        "function": {"name": block.get("name", ""), "arguments": arguments},
                    }
                )
        text = "".join(texts)
        message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
        if calls:
            message["tool_calls"] = calls
        response: dict[str, Any] = {
            "id": data.get("id", ""),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": data.get("model") or model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": STOP_REASONS.get(data.get("stop_reason") or "", "stop"),
                }
            ],
        }
        usage = data.get("usage")
        return finish_result(
            response,
            self.name,
            response["model"],
            _usage(usage) if isinstance(usage, dict) else None,
            body.get("messages"),
        )

    async def stream_chunks(self, model: str, body: dict[str, Any]) -> AsyncIterator[StreamChunk]:
        model = resolve_alias(model)
        response = await self.open_stream("/v1/messages", orjson.dumps(to_anthropic(model, body, True)))
        decoder = SSEDecoder()
        state = _StreamState(model)
        with self.reading_stream(response):
            async for raw in response.content.iter_any():
                for data in decoder.feed(raw):
                    try:
                        event = orjson.loads(data)
                    except orjson.JSONDecodeError as exc:
                        raise self.malformed(f"invalid JSON in stream event ({exc})") from exc
                    if not isinstance(event, dict):
                        raise self.malformed("stream event is not an object")
                    if event.get("type") == "error":
                        error = event.get("error") or {}
                        raise self.error(
                            f"error mid-stream: {error.get('message', '')} ({error.get('type', 'error')})",
                            retryable=True,
                            reason="protocol",
                        )
                    for chunk in state.translate(event):
                        yield StreamChunk.of(chunk)
                if state.stopped:
                    break
        if not state.stopped:
            raise self.error("stream ended early (no message_stop)", retryable=True, reason="truncated")

    async def list_models(self) -> list[str]:
        return await self.list_data_ids("/v1/models?limit=1000")


class _StreamState:
    """Turns Anthropic stream events into OpenAI chunk dicts."""

    __slots__ = ("base", "blocks", "finish", "model", "next_tool", "stopped", "usage")

    def __init__(self, model: str) -> None:
        self.model = model
        self.base: dict[str, Any] = {
            "id": "",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        self.blocks: dict[int, int] = {}  # Anthropic block index → OpenAI tool_calls index
        self.next_tool = 0
        self.usage: dict[str, Any] = {}
        self.finish: str | None = None
        self.stopped = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**self.base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def translate(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event["delta"]
            if delta.get("type") == "text_delta":
                return [self._chunk({"content": delta.get("text", "")})]
            if delta.get("type") == "input_json_delta":
                index = self.blocks.get(event["index"], 0)
                return [
                    self._chunk(
                        {"tool_calls": [{"index": index, "function": {"arguments": delta.get("partial_json", "")}}]}
                    )
                ]
            return []
        if kind == "message_start":
            message = event["message"]
            self.base["id"] = message.get("id", "")
            self.base["model"] = message.get("model") or self.model
            self.usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = event["content_block"]
            if block.get("type") != "tool_use":
                return []
            index = self.blocks[event["index"]] = self.next_tool
            self.next_tool += 1
            call = {
                "index": index,
                "id": block.get("id", ""),
                "type": "function",
                "function": {"name": block.get("name", ""), "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        if kind == "message_delta":
            self.usage.update(event.get("usage") or {})
            reason = (event.get("delta") or {}).get("stop_reason")
            self.finish = STOP_REASONS.get(reason or "", "stop")
            return [self._chunk({}, self.finish)]
        if kind == "message_stop":
            self.stopped = True
            if self.usage.get("input_tokens") is not None:
                return [{**self.base, "choices": [], "usage": _usage(self.usage)}]
        return []
