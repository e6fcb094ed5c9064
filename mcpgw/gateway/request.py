"""The request and result of the gateway pipeline, shared by every entry point (CLI, OpenAI API, MCP, hooks)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mcpgw.config import Layer, Quality

TaskKind = Literal["chat", "code", "analyze", "createProject", "review"]
Risk = Literal["low", "normal", "high", "prod-critical"]


class Criticality(BaseModel):
    """The roadmap's criticality flags; any of them raises the effective risk level."""

    model_config = ConfigDict(extra="forbid")

    affectsProduction: bool = False
    securitySensitive: bool = False
    dataLoss: bool = False
    userFacing: bool = False


class GatewayRequest(BaseModel):
    """One LLM-bound request. ``openai`` carries OpenAI parameters through untouched (tools, response_format …)."""

    model_config = ConfigDict(extra="forbid")

    request_type: str = "chat"
    messages: list[dict[str, Any]] = Field(min_length=1)
    task_type: TaskKind = "chat"
    quality: Quality = "normal"
    risk: Risk | None = Field(None, description="low → L0, normal → L1, high → L2 + cross-check, prod-critical → L3")
    criticality: Criticality | None = None
    layer: Layer | None = None
    model: str | None = None
    budget_usd: float | None = Field(None, ge=0)
    conversation_id: str | None = None
    persist: bool = Field(False, description="store the turn in the conversation (creating one if needed)")
    project_root: str | None = None
    files: list[str] = Field(default_factory=list)
    stream: bool = False
    cache: bool = True
    cross_check: bool | None = None
    auto_escalate: bool | None = None
    confirm: bool = Field(False, description="the user accepted escalation to a more expensive layer")
    openai: dict[str, Any] = Field(default_factory=dict)
    user_id: str | None = None
    project_id: str | None = None
    trace_id: str | None = Field(None, description="set by entry points that must send the id before the answer")
    profile: str | None = Field(None, description="a work profile (name or id) whose context joins the prompt")
    knowledge: bool = Field(True, description="inject relevant project knowledge when a pack exists")


class RoutingDecision(BaseModel):
    layer: str
    reason: str
    modelSelected: str
    timestamp: float


class Routing(BaseModel):
    layer: str | None = None
    model: str | None = None
    provider: str | None = None
    decisions: list[RoutingDecision] = Field(default_factory=list)


class ContextInfo(BaseModel):
    conversation_id: str | None = None
    trace_id: str
    project_id: str | None = None
    compressed: bool = False


class Performance(BaseModel):
    duration_ms: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    from_cache: bool = False
    cost_estimated: bool = False


class CrossCheck(BaseModel):
    primary_model: str
    reviewer_model: str
    verdict: Literal["agree", "conflict"]
    review: str
    arbitrator_model: str | None = None
    decision: Literal["primary", "revised"] | None = None
    primary_answer: str


class Confirmation(BaseModel):
    next_layer: str
    model: str
    estimated_cost_usd: float
    reason: str


class GatewayResult(BaseModel):
    status: Literal["ok", "confirmation_required"] = "ok"
    text: str = ""
    message: dict[str, Any] = Field(default_factory=dict)
    finish_reason: str | None = None
    completion: dict[str, Any] = Field(default_factory=dict)
    routing: Routing = Field(default_factory=Routing)
    context: ContextInfo
    performance: Performance = Field(default_factory=Performance)
    cross_check: CrossCheck | None = None
    confirmation: Confirmation | None = None

    def envelope(self) -> dict[str, Any]:
        """The native API's answer: ``{result, routing, context, performance}`` plus status extras."""
        out: dict[str, Any] = {
            "status": self.status,
            "result": self.text,
            "message": self.message,
            "finish_reason": self.finish_reason,
            "routing": self.routing.model_dump(),
            "context": self.context.model_dump(),
            "performance": self.performance.model_dump(),
        }
        if self.cross_check is not None:
            out["cross_check"] = self.cross_check.model_dump()
        if self.confirmation is not None:
            out["confirmation"] = self.confirmation.model_dump()
        return out
