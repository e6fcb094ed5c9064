"""What every tool module shares: the context the tools act on and annotation shorthands."""

from __future__ import annotations

from dataclasses import dataclass

from mcp_types import ToolAnnotations

from mcpgw.mcp_server.link import DaemonLink
from mcpgw.mcp_server.sandbox import Sandbox


@dataclass
class ToolContext:
    """The root the file, git and test tools act on, and the daemon link for everything else."""

    sandbox: Sandbox
    link: DaemonLink

    @property
    def root(self) -> str:
        return self.sandbox.root


def read_only(title: str, *, open_world: bool = False) -> ToolAnnotations:
    return ToolAnnotations(title=title, read_only_hint=True, idempotent_hint=True, open_world_hint=open_world)


def writes(title: str, *, destructive: bool, idempotent: bool, open_world: bool = False) -> ToolAnnotations:
    return ToolAnnotations(
        title=title,
        read_only_hint=False,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )
