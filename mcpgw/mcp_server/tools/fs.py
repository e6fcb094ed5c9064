"""``fs_read``, ``fs_write``, ``fs_list``: files under the server's root, through the sandbox."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from mcpgw.mcp_server.tools.base import ToolContext, read_only, writes


class FileRead(BaseModel):
    path: str = Field(description="Path relative to the root.")
    encoding: Literal["text", "base64"]
    size: int = Field(description="Bytes read.")
    content: str


class FileWritten(BaseModel):
    path: str
    bytes_written: int
    created: bool = Field(description="True when the file did not exist before.")


class ListedEntry(BaseModel):
    path: str
    type: Literal["file", "dir", "symlink", "other"]
    size: int
    target_inside_root: bool | None = Field(None, description="For symlinks: whether the target is under the root.")


class Listing(BaseModel):
    root: str
    path: str
    entries: list[ListedEntry]
    truncated: bool


def register(server: MCPServer, ctx: ToolContext) -> None:
    @server.tool(
        annotations=read_only("Read a file"),
        description=(
            "Read one file under the project root. Paths are relative to the root; '..' leaving it, absolute "
            "paths outside it and symlinks pointing out are refused. Text files come back as UTF-8 text; binary "
            "files are refused unless encoding='base64'. Files over 1 MiB are refused."
        ),
    )
    def fs_read(
        path: Annotated[str, Field(description="File path relative to the root, e.g. 'src/app.py'.")],
        encoding: Annotated[Literal["text", "base64"], Field(description="'base64' to read binary files.")] = "text",
        max_bytes: Annotated[int | None, Field(ge=1, description="Refuse files larger than this.")] = None,
    ) -> FileRead:
        got = ctx.sandbox.read(path, encoding=encoding, max_bytes=max_bytes)
        return FileRead(path=got.path, encoding=got.encoding, size=got.size, content=got.content)

    @server.tool(
        annotations=writes("Write a file", destructive=True, idempotent=True),
        description=(
            "Create or replace one file under the project root, atomically (never a half-written file). "
            "Refuses paths outside the root, symlinks pointing out, anything inside .git, and content over 1 MiB. "
            "Set overwrite=false to refuse replacing an existing file; create_dirs=true to create missing folders."
        ),
    )
    def fs_write(
        path: Annotated[str, Field(description="File path relative to the root.")],
        content: Annotated[str, Field(description="The full new content (text, or base64 with encoding='base64').")],
        encoding: Annotated[Literal["text", "base64"], Field(description="How content is encoded.")] = "text",
        create_dirs: Annotated[bool, Field(description="Create missing parent directories.")] = False,
        overwrite: Annotated[bool, Field(description="Replace the file if it exists.")] = True,
    ) -> FileWritten:
        rel, size, created = ctx.sandbox.write(
            path, content, encoding=encoding, create_dirs=create_dirs, overwrite=overwrite
        )
        return FileWritten(path=rel, bytes_written=size, created=created)

    @server.tool(
        annotations=read_only("List a directory"),
        description=(
            "List the entries of a directory under the project root (sorted, symlinks not followed). "
            "recursive=true walks up to max_depth levels (never into .git). Hidden files are left out unless "
            "include_hidden=true. At most 2000 entries."
        ),
    )
    def fs_list(
        path: Annotated[str, Field(description="Directory relative to the root; '.' is the root.")] = ".",
        recursive: Annotated[bool, Field(description="Walk sub-directories too.")] = False,
        max_depth: Annotated[int, Field(ge=1, le=20, description="Levels to walk when recursive.")] = 3,
        include_hidden: Annotated[bool, Field(description="Include names starting with '.'.")] = False,
    ) -> Listing:
        entries, truncated = ctx.sandbox.list(
            path, recursive=recursive, max_depth=max_depth, include_hidden=include_hidden
        )
        return Listing(
            root=ctx.root,
            path=ctx.sandbox.rel(ctx.sandbox.resolve(path)),
            entries=[
                ListedEntry(path=e.path, type=e.type, size=e.size, target_inside_root=e.target_inside) for e in entries
            ],
            truncated=truncated,
        )
