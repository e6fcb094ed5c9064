"""Every message the TUI's workers post. Workers never touch widgets: they post one of these, and a
handler on the screen (or the app) changes reactive state, whose ``watch_*`` updates the widgets."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from mcpgw.tui.api import DashboardData


class DaemonStatus(Message):
    """The daemon became reachable (``error`` None) or unreachable (``error`` says why; a retry is scheduled)."""

    def __init__(self, error: str | None, retry_in: float = 0.0) -> None:
        super().__init__()
        self.error = error
        self.retry_in = retry_in


class DaemonEvent(Message, bubble=False):
    """One live event from ``/v1/events`` (``trace``, ``alert`` …), forwarded to every screen by the app;
    it does not bubble, or it would come back up to the app and be forwarded again."""

    def __init__(self, event: str, data: dict[str, Any]) -> None:
        super().__init__()
        self.event = event
        self.data = data


class LoadFailed(Message):
    """A screen's load failed for a reason other than the daemon being down (shown in its status line)."""

    def __init__(self, what: str, message: str, fix: str | None = None) -> None:
        super().__init__()
        self.what = what
        self.message = message
        self.fix = fix


class DashboardLoaded(Message):
    def __init__(self, data: DashboardData) -> None:
        super().__init__()
        self.data = data


class AnalyticsLoaded(Message):
    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__()
        self.report = report


class TracesLoaded(Message):
    def __init__(self, traces: list[dict[str, Any]]) -> None:
        super().__init__()
        self.traces = traces


class TraceLoaded(Message):
    def __init__(self, trace: dict[str, Any]) -> None:
        super().__init__()
        self.trace = trace


class ModelsLoaded(Message):
    def __init__(self, models: list[str]) -> None:
        super().__init__()
        self.models = models


class PlaygroundChunk(Message):
    """A piece of streamed text for the pane ``index``."""

    def __init__(self, index: int, text: str) -> None:
        super().__init__()
        self.index = index
        self.text = text


class PlaygroundDone(Message):
    """Pane ``index`` finished: ``envelope`` on success, ``error`` otherwise."""

    def __init__(self, index: int, envelope: dict[str, Any] | None, error: str | None) -> None:
        super().__init__()
        self.index = index
        self.envelope = envelope
        self.error = error


class HistoryLoaded(Message):
    def __init__(self, entries: list[dict[str, Any]]) -> None:
        super().__init__()
        self.entries = entries


class ReplayPlanned(Message):
    """The dry run of a replay: what would run, where, and which input files changed."""

    def __init__(self, entry: dict[str, Any], command: str, cwd: str, changes: list[tuple[str, str]]) -> None:
        super().__init__()
        self.entry = entry
        self.command = command
        self.cwd = cwd
        self.changes = changes


class ReplayOutput(Message):
    """Output of a confirmed replay: a line, or the exit code when ``done``."""

    def __init__(self, line: str, done: bool = False, code: int = 0) -> None:
        super().__init__()
        self.line = line
        self.done = done
        self.code = code


class SearchDone(Message):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__()
        self.result = result


class PolicyLoaded(Message):
    """The project policy file (``path`` None when there is none yet) and the budgets the daemon reports."""

    def __init__(self, path: str | None, text: str, budgets: dict[str, Any]) -> None:
        super().__init__()
        self.path = path
        self.text = text
        self.budgets = budgets
