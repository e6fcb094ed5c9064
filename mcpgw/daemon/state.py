"""The daemon's lifecycle and the objects its routes share (``app.state.daemon``)."""

from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcpgw.config import Settings
    from mcpgw.daemon.events import EventBus
    from mcpgw.paths import Paths
    from mcpgw.store import Store


class Lifecycle(enum.Enum):
    STARTING = "starting"  # lock taken, store opening, socket not yet accepting
    SERVING = "serving"  # accepting and handling requests
    DRAINING = "draining"  # SIGTERM received: no new connections, in-flight requests finish
    STOPPED = "stopped"  # writes flushed, socket and pid file removed


@dataclass
class DaemonState:
    paths: Paths
    settings: Settings
    store: Store
    events: EventBus
    lifecycle: Lifecycle = Lifecycle.STARTING
    started_at: float = field(default_factory=time.time)
    pid: int = field(default_factory=os.getpid)
    # Filled by later subsystems (gateway, search, jobs); keyed by name to keep this class small.
    services: dict[str, Any] = field(default_factory=dict)

    @property
    def uptime_s(self) -> float:
        return round(time.time() - self.started_at, 3)
