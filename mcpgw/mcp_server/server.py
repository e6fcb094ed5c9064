"""The mcpgw MCP server: tools registered on the SDK's ``MCPServer``, every call recorded as a trace.

This is the boundary where mcpgw's exceptions become MCP tool errors (``isError`` results carrying the
message and the ``Fix:`` line); a tool never crashes the server. Over stdio, stdout carries JSON-RPC
only: logs and warnings go to stderr.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp_types import CallToolResult, InputRequiredResult

from mcpgw import errors
from mcpgw._version import __version__
from mcpgw.mcp_server.link import DaemonLink
from mcpgw.mcp_server.sandbox import Sandbox
from mcpgw.mcp_server.tools import code, data, fs, gateway, git, testing
from mcpgw.mcp_server.tools.base import ToolContext
from mcpgw.mcp_server.tracing import mask_args, summarize
from mcpgw.paths import Paths

log = logging.getLogger(__name__)

TOOL_MODULES = (fs, git, testing, data, gateway, code)

INSTRUCTIONS = (
    "mcpgw: a local AI gateway. File, git and test tools act on the project root this server was started "
    "with (paths are relative to it; nothing outside it is reachable). chat/code_agent route requests across "
    "cost layers with budgets; code_search/repo_map use the project's index; db_query reads mcpgw's traces, "
    "usage and history; usage_summary shows spend against budgets."
)


def error_text(exc: errors.MCPGWError) -> str:
    return f"{exc.message}\nFix: {exc.fix}" if exc.fix else exc.message


class GatewayMCP(MCPServer[Any]):
    """MCPServer that translates mcpgw errors into tool errors and records each call with the daemon."""

    def __init__(self, ctx: ToolContext, *, record: bool = True) -> None:
        super().__init__(name="mcpgw", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
        self.ctx = ctx
        self.record = record
        self._record_warned = False

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        started = time.perf_counter()
        error: str | None = None
        summary: str | None = None
        try:
            result = await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, errors.MCPGWError):
                error = error_text(cause)
                raise ToolError(error) from cause
            error = f"internal error ({type(cause).__name__ if cause else 'unknown'}): see the server's stderr"
            raise
        except ToolError as exc:
            error = str(exc)
            raise
        else:
            if isinstance(result, CallToolResult):
                summary = summarize(result)
                if result.is_error:
                    error = summary
            return result
        finally:
            if self.record:
                await self._record(name, arguments, int((time.perf_counter() - started) * 1000), summary, error)

    async def _record(
        self, name: str, arguments: dict[str, Any], duration_ms: int, summary: str | None, error: str | None
    ) -> None:
        """Record the call as a trace; a daemon that cannot be reached is reported once, never fatal."""
        if self.ctx.link.start_error is not None:
            return
        body = {
            "tool_name": name[:100],
            "args": mask_args(arguments),
            "result_summary": summary[:4000] if summary else None,
            "error": error[:4000] if error else None,
            "duration_ms": duration_ms,
            "root": self.ctx.root,
            "client": "mcp-stdio",
        }
        try:
            await self.ctx.link.post("/v1/tool-calls", json=body)
        except errors.MCPGWError as exc:
            if not self._record_warned:
                self._record_warned = True
                log.warning("mcpgw: tool calls are not being recorded: %s", exc.message)


def build_server(ctx: ToolContext, *, record: bool = True) -> GatewayMCP:
    """The server with every tool registered."""
    server = GatewayMCP(ctx, record=record)
    for module in TOOL_MODULES:
        module.register(server, ctx)
    return server


async def serve_stdio(root: str | Path, paths: Paths) -> None:
    """Serve over stdin/stdout until the client closes the connection."""
    ctx = ToolContext(sandbox=Sandbox(root), link=DaemonLink(paths))
    server = build_server(ctx)
    try:
        await server.run_stdio_async()
    finally:
        await ctx.link.aclose()
