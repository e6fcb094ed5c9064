"""Projects: the project's policy file (``ai-mcp.config.json`` / ``.ai-mcp.yml`` at the git root of the
current directory) in an editor, checked before it is saved, and the budgets the daemon enforces.

Saving writes a temporary file next to the policy, validates it with :func:`mcpgw.config.load_project_policy`
(the same code the gateway uses), and only then renames it over the policy: a bad edit never reaches the
file, and a crash never leaves half a file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static, TextArea
from textual.widgets.text_area import LanguageDoesNotExist

from mcpgw.config import PROJECT_FILES, ProjectPolicy, find_git_root, find_project_file, load_project_policy
from mcpgw.errors import ConfigError
from mcpgw.tui.messages import PolicyLoaded
from mcpgw.tui.screens.base import BaseScreen
from mcpgw.tui.widgets.fmt import money


class PolicySaved(Message):
    """The result of a save: ``error`` None when the file was written."""

    def __init__(self, path: str, error: str | None, fix: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.error = error
        self.fix = fix


def policy_target(cwd: Path) -> tuple[Path, bool]:
    """(the policy file, whether it exists): the existing one at the git root, else where a new one goes."""
    found = find_project_file(cwd)
    if found is not None:
        return found, True
    return (find_git_root(cwd) or cwd) / PROJECT_FILES[0], False


def template(root: Path) -> str:
    """A starting policy for a project that has none: the defaults, named after the directory."""
    data = ProjectPolicy(name=root.name).model_dump(by_alias=True, exclude_none=True)
    return json.dumps(data, indent=2) + "\n"


def save_policy(path: Path, text: str) -> ProjectPolicy:
    """Validate ``text`` as the policy at ``path`` and write it atomically; ConfigError when invalid."""
    tmp = path.with_name(f".{path.stem}.tui-{os.getpid()}{path.suffix}")
    try:
        tmp.write_text(text, encoding="utf-8")
        try:
            policy = load_project_policy(tmp)
        except ConfigError as exc:
            raise ConfigError(exc.message.replace(str(tmp), str(path)), fix="correct it and save again") from exc
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return policy


def budget_text(stats: dict[str, Any], policy_budgets: dict[str, Any]) -> Text:
    text = Text()
    glob = stats.get("budgets", {}).get("global", {})
    text.append("Global budget (daemon)\n", style="bold")
    for label, limit, spent, left in (
        ("day", glob.get("daily_usd"), glob.get("spent_today_usd"), glob.get("daily_remaining_usd")),
        ("month", glob.get("monthly_usd"), glob.get("spent_month_usd"), glob.get("monthly_remaining_usd")),
    ):
        limit_text = "no limit" if limit is None else money(limit)
        left_text = "" if left is None else f", {money(left)} left"
        text.append(f"  {label:<6}{limit_text}\n        spent {money(spent)}{left_text}\n")
    text.append("\nProject budget (this file)\n", style="bold")
    daily, monthly = policy_budgets.get("dailyUsd"), policy_budgets.get("monthlyUsd")
    text.append(f"  day   {'no limit' if daily is None else money(daily)}\n")
    text.append(f"  month {'no limit' if monthly is None else money(monthly)}\n")
    return text


class ProjectsScreen(BaseScreen):
    CSS_PATH = "projects.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+z", "revert", "Revert", show=False),
    ]

    path: reactive[str | None] = reactive(None, init=False)
    budgets: reactive[dict[str, Any]] = reactive(dict, init=False, always_update=True)
    status: reactive[Text] = reactive(Text(""), init=False)

    def __init__(self) -> None:
        super().__init__()
        self.saved_text = ""

    def compose_body(self) -> ComposeResult:
        yield Static("", id="policy-path")
        with Horizontal(id="split"):
            editor = TextArea("", id="editor", show_line_numbers=True, tab_behavior="indent")
            editor.border_title = "Policy"
            yield editor
            with Vertical(id="side"):
                yield Static("", id="budgets")
        yield Static("", id="status")

    @property
    def editor(self) -> TextArea:
        return self.query_one("#editor", TextArea)

    def reload(self) -> None:
        self.load(self._fetch, "project")

    async def _fetch(self) -> None:
        cwd = self.mcpgw.cwd

        def read() -> tuple[Path, str]:
            path, exists = policy_target(cwd)
            return path, path.read_text(encoding="utf-8") if exists else template(path.parent)

        path, text = await asyncio.to_thread(read)
        stats = await self.api.stats()
        self.post_message(PolicyLoaded(str(path), text, stats))

    @on(PolicyLoaded)
    def _loaded(self, message: PolicyLoaded) -> None:
        if message.path is None:
            return
        path = Path(message.path)
        exists = path.is_file()
        self.saved_text = message.text if exists else ""
        language = "json" if path.suffix == ".json" else "yaml"
        # Highlighting needs the tree-sitter grammar package; without it the editor stays plain text.
        try:
            self.editor.language = language
        except LanguageDoesNotExist:
            self.editor.language = None
        self.editor.text = message.text
        self.path = message.path
        self.budgets = message.budgets
        self.status = Text("ctrl+s checks and saves" if exists else "no policy file yet — ctrl+s creates it",
                           style="dim")  # fmt: skip

    def watch_path(self, path: str | None) -> None:
        self.query_one("#policy-path", Static).update(Text(f"policy file: {path}", style="bold"))

    def watch_budgets(self, stats: dict[str, Any]) -> None:
        try:
            data = json.loads(self.editor.text) if (self.path or "").endswith(".json") else {}
        except ValueError:
            data = {}
        policy_budgets = data.get("budgets", {}) if isinstance(data, dict) else {}
        self.query_one("#budgets", Static).update(budget_text(stats, policy_budgets))

    def watch_status(self, status: Text) -> None:
        self.query_one("#status", Static).update(status)

    def action_save(self) -> None:
        if self.path is None:
            return
        self.run_worker(self._save(Path(self.path), self.editor.text), name="save", group="save", exclusive=True,
                        exit_on_error=False)  # fmt: skip

    async def _save(self, path: Path, text: str) -> None:
        try:
            await asyncio.to_thread(save_policy, path, text)
        except ConfigError as exc:
            self.post_message(PolicySaved(str(path), exc.message, exc.fix))
            return
        except OSError as exc:
            self.post_message(PolicySaved(str(path), f"cannot write {path}: {exc.strerror}"))
            return
        self.post_message(PolicySaved(str(path), None))

    @on(PolicySaved)
    def _saved(self, message: PolicySaved) -> None:
        if message.error is None:
            self.saved_text = self.editor.text
            self.status = Text(f"✓ saved {message.path}", style="bold green")
            self.budgets = self.budgets  # re-render: the project budget comes from the saved text
        else:
            fix = f"  Fix: {message.fix}" if message.fix else ""
            self.status = Text(f"✗ not saved: {message.error}{fix}", style="bold red")

    def action_revert(self) -> None:
        if self.saved_text:
            self.editor.text = self.saved_text
            self.status = Text("reverted to the saved file", style="dim")
