"""``code_search`` and ``repo_map`` over the project at the root, computed by the daemon's index."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from mcpgw.mcp_server.tools.base import ToolContext, read_only


class SearchHitOut(BaseModel):
    path: str
    start_line: int
    end_line: int
    score: float
    text: str


class SearchAnswer(BaseModel):
    query: str
    hits: list[SearchHitOut]
    details: dict[str, Any] = Field(default_factory=dict, description="Mode used, notices, timings.")


class RepoMapAnswer(BaseModel):
    root: str
    format: str
    stats: dict[str, Any] = Field(default_factory=dict, description="Files scanned, parsed, cached; seconds.")
    graph: dict[str, Any] | None = Field(None, description="Nodes, edges and metadata (format='json').")
    text: str | None = Field(None, description="Ranked summary of the most important symbols (format='text').")


def register(server: MCPServer, ctx: ToolContext) -> None:
    @server.tool(
        annotations=read_only("Search the code"),
        description=(
            "Search the project's code by meaning and keywords (hybrid semantic + BM25 over the daemon's index "
            "of the root). Answers the best-matching chunks with path, line range, score and text. Filter by "
            "language types (e.g. ['py', 'ts']) or a path glob. The root must have been indexed "
            "(`mcpgw search index`)."
        ),
    )
    async def code_search(
        query: Annotated[str, Field(min_length=1, max_length=2000, description="What to look for.")],
        top_k: Annotated[int, Field(ge=1, le=100, description="How many results.")] = 10,
        mode: Annotated[Literal["hybrid", "semantic", "keyword"], Field(description="Ranking mode.")] = "hybrid",
        types: Annotated[list[str], Field(description="Languages/extensions to keep, e.g. ['py'].")] = [],  # noqa: B006
        path_glob: Annotated[str | None, Field(description="Only paths matching this glob.")] = None,
    ) -> SearchAnswer:
        body: dict[str, Any] = {"root": ctx.root, "query": query, "top_k": top_k, "mode": mode, "type": list(types)}
        if path_glob:
            body["path"] = path_glob
        data = await ctx.link.post("/v1/search", json=body)
        hits = data.get("results", []) if isinstance(data, dict) else []
        details = {k: v for k, v in data.items() if k != "results"} if isinstance(data, dict) else {}
        return SearchAnswer(
            query=query,
            hits=[
                SearchHitOut(
                    path=h["path"], start_line=h["start_line"], end_line=h["end_line"], score=h["score"], text=h["text"]
                )
                for h in hits
            ],
            details=details,
        )

    @server.tool(
        annotations=read_only("Map the repository"),
        description=(
            "A structural map of the project at the root (or a sub-directory): files with category "
            "(core/infra/feature/test/config), imports/exports and lines, dependency edges, and metadata "
            "(languages, frameworks). Use it before refactoring to see which files depend on which."
        ),
    )
    async def repo_map(
        path: Annotated[str, Field(description="Directory under the root to map.")] = ".",
        include_tests: Annotated[bool, Field(description="Include test files.")] = True,
        max_depth: Annotated[int | None, Field(ge=0, le=50, description="Directory depth limit.")] = None,
        format: Annotated[
            Literal["json", "text"],
            Field(description="'json': the graph; 'text': a ranked summary of the key symbols within tokens."),
        ] = "json",
        tokens: Annotated[int, Field(ge=64, le=100_000, description="Token budget for format='text'.")] = 1024,
        focus: Annotated[list[str], Field(description="Files (under the root) to rank the map around.")] = [],  # noqa: B006
    ) -> RepoMapAnswer:
        target = ctx.sandbox.resolve(path)
        focus_rel = [ctx.sandbox.rel(ctx.sandbox.resolve(f)) for f in focus]
        body: dict[str, Any] = {
            "path": target,
            "include_tests": include_tests,
            "format": format,
            "tokens": tokens,
            "focus": focus_rel,
        }
        if max_depth is not None:
            body["max_depth"] = max_depth
        data = await ctx.link.post("/v1/repo/map", json=body)
        graph = data.get("graph") if isinstance(data.get("graph"), dict) else None
        text = data.get("output") if isinstance(data.get("output"), str) else None
        return RepoMapAnswer(root=target, format=format, stats=data.get("stats") or {}, graph=graph, text=text)
