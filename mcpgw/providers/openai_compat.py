"""OpenAI Chat Completions wire format: OpenAI, OpenRouter and any OpenAI-compatible server
(LM Studio, vLLM, llama.cpp server, Ollama's ``/v1``).

The request body passes through as given (tools, ``tool_choice``, ``response_format`` and unknown
fields included); only ``model``, ``stream`` and ``stream_options.include_usage`` are set. Streamed
chunks are forwarded with the upstream's own JSON bytes (:attr:`StreamChunk.raw`), parsed once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from mcpgw.providers._http import HTTPProvider
from mcpgw.providers.base import (
    OPENROUTER_REFERER,
    OPENROUTER_TITLE,
    ChatResult,
    ProviderSettings,
    StreamChunk,
    finish_result,
)
from mcpgw.providers.sse import SSEDecoder

_DONE = b"[DONE]"


class OpenAICompatProvider(HTTPProvider):
    """Adapter for every ``kind`` that speaks OpenAI Chat Completions (openai, openrouter, openai_compat)."""

    def __init__(self, settings: ProviderSettings, **kwargs: Any) -> None:
        if settings.kind == "openrouter":
            headers = {"HTTP-Referer": OPENROUTER_REFERER, "X-Title": OPENROUTER_TITLE, **settings.headers}
            settings = settings.model_copy(update={"headers": headers})
        super().__init__(settings, **kwargs)

    def _payload(self, model: str, body: dict[str, Any], stream: bool) -> bytes:
        payload = dict(body)
        payload["model"] = model
        payload["stream"] = stream
        if stream:
            payload["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        else:
            payload.pop("stream_options", None)
        return orjson.dumps(payload)

    async def _chat(self, model: str, body: dict[str, Any]) -> ChatResult:
        data = await self.request_json("POST", "/chat/completions", self._payload(model, body, False))
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
            if isinstance(data, dict) and data.get("error"):
                raise self.error(f"upstream error: {data['error']}", retryable=True)
            raise self.malformed("chat.completion without choices")
        choice = data["choices"][0]
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            raise self.malformed("choice without a message")
        return finish_result(data, self.name, data.get("model") or model, data.get("usage"), body.get("messages"))

    async def stream_chunks(self, model: str, body: dict[str, Any]) -> AsyncIterator[StreamChunk]:
        response = await self.open_stream("/chat/completions", self._payload(model, body, True))
        decoder = SSEDecoder()
        done = finished = False
        loads = orjson.loads
        with self.reading_stream(response):
            async for raw in response.content.iter_any():
                for data in decoder.feed(raw):
                    if data == _DONE:
                        done = True
                        break
                    try:
                        chunk = loads(data)
                    except orjson.JSONDecodeError as exc:
                        raise self.malformed(f"invalid JSON in stream event ({exc})") from exc
                    if not isinstance(chunk, dict):
                        raise self.malformed("stream event is not an object")
                    choices = chunk.get("choices")
                    if choices is None and "error" in chunk:
                        raise self.error(f"error mid-stream: {chunk['error']}", retryable=True, reason="protocol")
                    if choices and choices[0].get("finish_reason"):
                        finished = True
                    yield StreamChunk(chunk, data)
                if done:
                    break
        if not done and not finished:
            raise self.error("stream ended early (no finish_reason, no [DONE])", retryable=True, reason="truncated")

    async def list_models(self) -> list[str]:
        return await self.list_data_ids("/models")
