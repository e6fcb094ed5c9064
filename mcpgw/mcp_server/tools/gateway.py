"""``chat``, ``code_agent`` and ``usage_summary``: the gateway itself, through the daemon.

The native API answers ``{result, routing, context, performance}``; these tools return that envelope
with the answer's text lifted out, so a client can read the text and still see routing and cost.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from mcpgw.errors import GatewayError
from mcpgw.mcp_server.tools.base import ToolContext, read_only, writes

Quality = Literal["draft", "normal", "high", "production", "critical"]
Layer = Literal["L0", "L1", "L2", "L3"]


class GatewayAnswer(BaseModel):
    status: str = Field(description="'ok', or 'confirmation_required' when escalation needs consent.")
    text: str = Field(description="The model's answer.")
    routing: dict[str, Any] = Field(default_factory=dict, description="layer, model, provider, decisions.")
    context: dict[str, Any] = Field(default_factory=dict, description="conversation_id, trace_id.")
    performance: dict[str, Any] = Field(default_factory=dict, description="duration, tokens, cost_usd, cache.")
    confirmation: dict[str, Any] | None = Field(None, description="next_layer, estimated cost, reason.")


class CodeContext(BaseModel):
    language: str | None = None
    framework: str | None = None
    existingCode: str | None = Field(None, max_length=200_000)
    requirements: list[str] = Field(default_factory=list)


class UsageSummary(BaseModel):
    days: int
    usage: dict[str, Any] = Field(description="Spend, tokens and calls over the period (totals, by model/layer/day).")
    budgets: dict[str, Any] = Field(default_factory=dict, description="Budgets: spend, remaining, reset times.")


def envelope_text(data: Any) -> tuple[str, str | None]:
    """The answer text and model name from a native-API envelope."""
    result = data.get("result") if isinstance(data, dict) else None
    text = ""
    if isinstance(result, str):
        text = result
    elif isinstance(result, dict):
        for key in ("text", "response", "content", "message"):
            value = result.get(key)
            if isinstance(value, str):
                text = value
                break
            if isinstance(value, dict) and isinstance(value.get("content"), str):
                text = value["content"]
                break
    routing = data.get("routing") if isinstance(data, dict) else None
    model = routing.get("model") if isinstance(routing, dict) else None
    return text, (str(model) if model else None)


def _answer(data: Any) -> GatewayAnswer:
    if not isinstance(data, dict):
        raise GatewayError(f"the daemon answered an unexpected body: {str(data)[:200]}")
    text, _ = envelope_text(data)
    confirmation = data.get("confirmation")
    return GatewayAnswer(
        status=str(data.get("status") or "ok"),
        text=text,
        routing=data.get("routing") or {},
        context=data.get("context") or {},
        performance=data.get("performance") or {},
        confirmation=confirmation if isinstance(confirmation, dict) else None,
    )


def _options(
    quality: Quality, layer: Layer | None, model: str | None, budget_usd: float | None, confirm: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {"quality": quality, "confirm": confirm}
    if layer:
        body["layer"] = layer
    if model:
        body["model"] = model
    if budget_usd is not None:
        body["budget_usd"] = budget_usd
    return body


def register(server: MCPServer, ctx: ToolContext) -> None:
    @server.tool(
        annotations=writes("Ask the gateway", destructive=False, idempotent=False, open_world=True),
        description=(
            "Ask mcpgw's gateway a question. It routes to the cheapest model layer that fits (L0 free/local … "
            "L3 premium) given quality, an optional pinned layer or model and a budget cap, and answers with the "
            "text plus routing, cost and trace ids. Pass conversation_id to continue a conversation. When "
            "escalation needs consent, status is 'confirmation_required': call again with confirm=true."
        ),
    )
    async def chat(
        message: Annotated[str, Field(min_length=1, max_length=400_000, description="The question or instruction.")],
        system: Annotated[str | None, Field(description="Optional system prompt.")] = None,
        task_type: Annotated[
            Literal["chat", "code", "analyze", "createProject", "review"], Field(description="Kind of task.")
        ] = "chat",
        quality: Annotated[Quality, Field(description="Quality tier; higher costs more.")] = "normal",
        layer: Annotated[Layer | None, Field(description="Pin a layer.")] = None,
        model: Annotated[str | None, Field(description="Pin a model, e.g. 'openai/gpt-4o-mini'.")] = None,
        budget_usd: Annotated[float | None, Field(ge=0, description="Maximum spend for this request.")] = None,
        conversation_id: Annotated[str | None, Field(description="Continue this conversation.")] = None,
        confirm: Annotated[bool, Field(description="Accept an escalation the gateway asked about.")] = False,
    ) -> GatewayAnswer:
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": message}]
        body = {
            "request_type": "mcp-tool",
            "task_type": task_type,
            "messages": messages,
            "project_root": ctx.root,
            **_options(quality, layer, model, budget_usd, confirm),
        }
        if conversation_id:
            body["conversation_id"] = conversation_id
        return _answer(await ctx.link.post("/v1/chat", json=body))

    @server.tool(
        annotations=writes("Code agent", destructive=False, idempotent=False, open_world=True),
        description=(
            "Have the gateway's code agent write or change code for a task. Give the task, optional context "
            "(language, framework, existingCode, requirements) and a quality tier; it answers with the code and "
            "explanation as text, plus routing and cost. It does not write files: apply the result with fs_write."
        ),
    )
    async def code_agent(
        task: Annotated[str, Field(min_length=1, max_length=100_000, description="What the code should do.")],
        context: Annotated[
            CodeContext | None, Field(description="Language, framework, existing code, requirements.")
        ] = None,
        quality: Annotated[Quality, Field(description="Quality tier.")] = "normal",
        layer: Annotated[Layer | None, Field(description="Pin a layer.")] = None,
        model: Annotated[str | None, Field(description="Pin a model.")] = None,
        budget_usd: Annotated[float | None, Field(ge=0, description="Maximum spend for this request.")] = None,
        files: Annotated[list[str], Field(description="Project files (under the root) to give as context.")] = [],  # noqa: B006
        mode: Annotated[
            Literal["generate", "review", "analyze", "create-project"],
            Field(description="generate code, review it, analyze it, or plan a new project."),
        ] = "generate",
        confirm: Annotated[bool, Field(description="Accept an escalation the gateway asked about.")] = False,
    ) -> GatewayAnswer:
        c = context or CodeContext()
        sources = []
        for f in files[:20]:
            got = ctx.sandbox.read(f)
            sources.append({"path": got.path, "content": got.content})
        body: dict[str, Any] = {
            "task": task,
            "mode": mode,
            "context": c.model_dump(exclude_none=True),
            "files": sources,
            "project_root": ctx.root,
            **_options(quality, layer, model, budget_usd, confirm),
        }
        return _answer(await ctx.link.post("/v1/code-agent", json=body))

    @server.tool(
        annotations=read_only("Usage and budget"),
        description=(
            "Spend and usage from mcpgw's records: cost, tokens and calls (totals, by model, layer and day) over "
            "the last N days, and the daily/monthly budgets with spend, what is left and when they reset."
        ),
    )
    async def usage_summary(
        days: Annotated[int, Field(ge=1, le=365, description="Look back this many days.")] = 7,
        project_id: Annotated[str | None, Field(description="Only this project.")] = None,
    ) -> UsageSummary:
        params: dict[str, Any] = {"since": f"{days}d"}
        if project_id:
            params["project"] = project_id
        usage = await ctx.link.get("/v1/analytics", params=params)
        stats = await ctx.link.get("/v1/stats")
        budgets = stats.get("budgets") if isinstance(stats, dict) else None
        return UsageSummary(
            days=days,
            usage=usage if isinstance(usage, dict) else {"data": usage},
            budgets=budgets if isinstance(budgets, dict) else {},
        )
