"""Search: a query over the daemon's code index of the current project, the results, and a
syntax-highlighted preview of the selected one (``i`` starts indexing when the project is not indexed)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Select, Static

from mcpgw.config import find_git_root
from mcpgw.tui.messages import SearchDone
from mcpgw.tui.screens.base import BaseScreen

MODES = ("hybrid", "keyword", "semantic")
COLUMNS = ("score", "location", "symbols")


def preview(hit: dict[str, Any], *, theme: str = "monokai") -> Syntax:
    """The hit's code with its real line numbers, highlighted for its language."""
    lexer = Syntax.guess_lexer(hit["path"], code=hit["text"])
    return Syntax(hit["text"], lexer, theme=theme, line_numbers=True, start_line=int(hit["start_line"]),
                  word_wrap=False, indent_guides=True)  # fmt: skip


class SearchScreen(BaseScreen):
    CSS_PATH = "search.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_query", "Query"),
        Binding("i", "index", "Index project"),
    ]

    result: reactive[dict[str, Any] | None] = reactive(None, init=False)

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="query-row"):
            yield Input(placeholder="search the code: what are you looking for?", id="query")
            yield Select([(m, m) for m in MODES], value="hybrid", allow_blank=False, id="mode")
        yield Static("", id="root")
        with Horizontal(id="split"):
            table: DataTable[str] = DataTable(id="results", cursor_type="row")
            table.border_title = "Results"
            yield table
            with VerticalScroll(id="preview-box"):
                yield Static("select a result to preview it", id="preview")

    @property
    def root(self) -> Any:
        cwd = self.mcpgw.cwd
        return find_git_root(cwd) or cwd

    def on_mount(self) -> None:
        self.query_one("#results", DataTable).add_columns(*COLUMNS)
        self.query_one("#root", Static).update(Text(f"project: {self.root}", style="dim"))
        self.query_one("#query", Input).focus()

    def reload(self) -> None:
        query = self.query_one("#query", Input).value.strip()
        if query:
            mode = str(self.query_one("#mode", Select).value)
            self.load(lambda: self._fetch(query, mode), "search")

    async def _fetch(self, query: str, mode: str) -> None:
        self.post_message(SearchDone(await self.api.search(query, self.root, mode=mode)))

    @on(Input.Submitted, "#query")
    @on(Select.Changed, "#mode")
    def _submitted(self) -> None:
        self.reload()

    @on(SearchDone)
    def _done(self, message: SearchDone) -> None:
        self.result = message.result

    def watch_result(self, result: dict[str, Any] | None) -> None:
        if result is None:
            return
        table = self.query_one("#results", DataTable)
        table.clear()
        hits = result.get("results", [])
        for i, hit in enumerate(hits):
            table.add_row(f"{hit['score']:.3f}", f"{hit['path']}:{hit['start_line']}-{hit['end_line']}",
                          ", ".join(hit.get("symbols") or [])[:40], key=str(i))  # fmt: skip
        notice = f" · {result['notice']}" if result.get("notice") else ""
        table.border_subtitle = f"{len(hits)} result(s), {result.get('mode')}{notice}"
        if hits:
            table.move_cursor(row=0)
            self.show(0)
        else:
            self.query_one("#preview", Static).update("no results")

    def show(self, index: int) -> None:
        hits = (self.result or {}).get("results", [])
        if 0 <= index < len(hits):
            self.query_one("#preview", Static).update(preview(hits[index]))
            self.query_one("#preview-box", VerticalScroll).border_title = hits[index]["path"]

    @on(DataTable.RowHighlighted, "#results")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show(int(event.row_key.value or 0))

    def action_focus_query(self) -> None:
        self.query_one("#query", Input).focus()

    def action_index(self) -> None:
        self.load(self._index, "index")

    async def _index(self) -> None:
        job = await self.api.search_index(self.root)
        self.notify(f"indexing {job.get('root', self.root)} (job {job.get('id')}); search again when it is done")
