"""What one request carries through the pipeline stages."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcpgw.config import Layer
from mcpgw.gateway.request import Confirmation, CrossCheck, GatewayRequest, RoutingDecision

if TYPE_CHECKING:
    from mcpgw.gateway.budget import Limits
    from mcpgw.gateway.core import Gateway
    from mcpgw.gateway.projects import Project
    from mcpgw.providers.base import ChatResult
    from mcpgw.routing.layers import Candidate


@dataclass
class Plan:
    """The layers to try, lowest first, each with its candidates (empty layers are left out)."""

    layers: list[tuple[Layer, list[Candidate]]]
    start: Layer
    ceiling: Layer


@dataclass
class Ctx:
    gw: Gateway
    req: GatewayRequest
    trace_id: str
    started: float = field(default_factory=time.perf_counter)
    started_wall: float = field(default_factory=time.time)
    project: Project | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    new_turns: list[dict[str, Any]] = field(default_factory=list)
    conversation_id: str | None = None
    compressed: bool = False
    limits: dict[str, Limits] = field(default_factory=dict)
    per_request_max: float | None = None
    plan: Plan | None = None
    decisions: list[RoutingDecision] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    cache_key: str | None = None
    from_cache: bool = False
    chat: ChatResult | None = None
    final: Candidate | None = None
    final_layer: str | None = None
    text: str = ""
    cross_check: CrossCheck | None = None
    confirmation: Confirmation | None = None
    cost: float = 0.0
    cost_estimated: bool = False
    error: BaseException | None = None
    # streaming: the open upstream stream and its first chunk (set by Gateway.open_stream)
    stream_iter: Any = None
    stream_first: Any = None
    stream_call: dict[str, Any] | None = None

    def decide(self, layer: str, reason: str, model: str = "") -> None:
        self.decisions.append(RoutingDecision(layer=layer, reason=reason, modelSelected=model, timestamp=time.time()))

    @property
    def body(self) -> dict[str, Any]:
        """The OpenAI request body sent upstream (without model/stream, which adapters set)."""
        body = dict(self.req.openai)
        body["messages"] = self.messages
        return body
