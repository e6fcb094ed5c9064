"""``mcpgw chat``, ``code``, ``diff``, ``analyze``, ``create-project`` and ``cache``: the gateway from the terminal.

Each command turns its flags into an options object and calls ``run_*`` with a daemon client; answers
stream progressively (markdown on a terminal, plain text otherwise); model, layer, tokens and cost go to
stderr at the end; ``--json`` prints the envelope ``{result, routing, context, performance}``.
"""

from __future__ import annotations

import json as jsonlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from mcpgw.cli import context
from mcpgw.cli.output import err, escape, info, interactive, print_json
from mcpgw.errors import ConfirmationRequired, UsageError

LayerOpt = Annotated[str | None, typer.Option("--layer", "-l", help="Pin a layer: L0 (free/local) … L3 (premium).")]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Pin a model, e.g. openai/gpt-4o-mini.")]
QualityOpt = Annotated[
    str, typer.Option("--quality", "-q", help="draft | normal | high | production | critical (picks the start layer).")
]
BudgetOpt = Annotated[float | None, typer.Option("--budget", help="Max USD for this request.")]
RiskOpt = Annotated[
    str | None,
    typer.Option("--risk", help="low (L0) | normal (L1) | high (L2, cross-check) | prod-critical (L3, confirm)."),
]
RISKS = ("low", "normal", "high", "prod-critical")
ConvOpt = Annotated[str | None, typer.Option("--conversation", "-c", help="Continue this conversation.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Accept escalation to a more expensive layer.")]
NoStreamOpt = Annotated[bool, typer.Option("--no-stream", help="Wait for the whole answer.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the JSON envelope.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Bypass the response cache.")]
QUALITIES = ("draft", "normal", "high", "production", "critical")
LAYERS = ("L0", "L1", "L2", "L3")


@dataclass
class AskOptions:
    layer: str | None = None
    model: str | None = None
    quality: str = "normal"
    budget: float | None = None
    conversation: str | None = None
    yes: bool = False
    stream: bool = True
    json: bool = False
    cache: bool = True
    risk: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.layer is not None and self.layer.upper() not in LAYERS:
            raise UsageError(f"unknown layer {self.layer!r}", fix=f"use one of {', '.join(LAYERS)}")
        if self.layer:
            self.layer = self.layer.upper()
        if self.quality not in QUALITIES:
            raise UsageError(f"unknown quality {self.quality!r}", fix=f"use one of {', '.join(QUALITIES)}")
        if self.budget is not None and self.budget < 0:
            raise UsageError("--budget must be >= 0")
        if self.risk is not None and self.risk not in RISKS:
            raise UsageError(f"unknown risk level {self.risk!r}", fix=f"use one of {', '.join(RISKS)}")

    def body(self) -> dict[str, Any]:
        root = _project_root()
        return {
            "layer": self.layer, "model": self.model, "quality": self.quality, "budget_usd": self.budget,
            "conversation_id": self.conversation, "confirm": self.yes, "stream": self.stream and not self.json,
            "cache": self.cache, "project_root": str(root) if root else None, "risk": self.risk, **self.extra,
        }  # fmt: skip


def _project_root() -> Path | None:
    from mcpgw.config import find_git_root

    return find_git_root(Path.cwd())


def ask(client: Any, path: str, body: dict[str, Any], opts: AskOptions, *, render: bool = True) -> dict[str, Any]:
    """Send one request, stream or not; on ``confirmation_required`` ask the user and resend. Returns the envelope."""
    while True:
        envelope = _stream(client, path, body, render) if body.get("stream") else client.post(path, json=body)
        if envelope.get("status") != "confirmation_required":
            break
        conf = envelope["confirmation"]
        question = f"Escalate to {conf['next_layer']} ({conf['model']}, est. ${conf['estimated_cost_usd']:.4f})? [y/N] "
        info(f"{conf['reason']}")
        if not sys.stdin.isatty():
            raise ConfirmationRequired(
                f"escalation to {conf['next_layer']} needs confirmation (est. ${conf['estimated_cost_usd']:.4f})",
                fix="run again with --yes to accept",
            )
        if input(question).strip().lower() not in ("y", "yes"):
            raise ConfirmationRequired("escalation declined; nothing more was spent")
        body = {**body, "confirm": True}
    from mcpgw.history import current

    record = current()
    if record is not None:
        record.note_result(envelope)
    if opts.json:
        print_json(envelope)
    else:
        if not body.get("stream") and render:
            _print_answer(envelope.get("result") or "")
        _footer(envelope)
    return envelope


def _stream(client: Any, path: str, body: dict[str, Any], render: bool) -> dict[str, Any]:
    """Read the daemon's SSE stream; print text as it arrives; return the final envelope."""
    from mcpgw.client import error_from_response  # noqa: F401  (errors are raised by client.stream)

    envelope: dict[str, Any] | None = None
    parts: list[str] = []
    live = None
    if render and interactive():
        from rich.live import Live
        from rich.markdown import Markdown

        from mcpgw.cli.output import out

        live = Live(Markdown(""), console=out(), refresh_per_second=12, vertical_overflow="visible")
        live.start()
    try:
        with client.stream("POST", path, json=body) as response:
            event = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = jsonlib.loads(line[6:])
                    if event == "chunk":
                        for choice in data.get("choices") or ():
                            piece = (choice.get("delta") or {}).get("content")
                            if piece:
                                parts.append(piece)
                                if live is not None:
                                    from rich.markdown import Markdown

                                    live.update(Markdown("".join(parts)))
                                elif render:
                                    sys.stdout.write(piece)
                                    sys.stdout.flush()
                    elif event == "result":
                        envelope = data
                    elif event == "error":
                        from mcpgw.client import _ERROR_TYPES
                        from mcpgw.errors import MCPGWError

                        cls = _ERROR_TYPES.get(data.get("type", ""), MCPGWError)
                        raise cls(data.get("detail", "the request failed"), fix=data.get("fix"))
    finally:
        if live is not None:
            live.stop()
    if render and live is None and parts:
        sys.stdout.write("\n")
    if envelope is None:
        raise UsageError("the daemon closed the stream before the answer was complete")
    if render and live is None and not parts and envelope.get("result"):
        _print_answer(envelope["result"])
    return envelope


def _print_answer(text: str) -> None:
    if interactive():
        from rich.markdown import Markdown

        from mcpgw.cli.output import out

        out().print(Markdown(text))
    else:
        sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))


def _footer(envelope: dict[str, Any]) -> None:
    routing, perf, ctx = envelope.get("routing", {}), envelope.get("performance", {}), envelope.get("context", {})
    bits = [
        f"{routing.get('model') or '?'}",
        f"layer {routing.get('layer') or '-'}",
        f"{perf.get('input_tokens', 0)}→{perf.get('output_tokens', 0)} tokens",
        f"${perf.get('cost_usd', 0):.6f}" + (" (est.)" if perf.get("cost_estimated") else ""),
        f"{perf.get('duration_ms', 0)} ms",
    ]
    if perf.get("from_cache"):
        bits.append("cached")
    check = envelope.get("cross_check")
    if check:
        bits.append(f"cross-check {check['verdict']} ({check['reviewer_model']})")
    if ctx.get("conversation_id"):
        bits.append(f"conversation {ctx['conversation_id']}")
    err().print("[dim]" + escape(" · ".join(bits)) + "[/]")


def _read_message(message: str | None) -> str | None:
    if message == "-" or (message is None and not sys.stdin.isatty()):
        text = sys.stdin.read().strip()
        if not text:
            raise UsageError("no message on stdin", fix='pass it as an argument: mcpgw chat "your question"')
        return text
    return message


def run_chat(client: Any, message: str | None, opts: AskOptions, handoff: str | None = None) -> None:
    opts.check()
    if handoff:
        data = client.post(f"/v1/context/{handoff}", json={"action": "handoff"})
        opts.conversation = data["conversation_id"]
        info(f"handed off {handoff} → new conversation {opts.conversation}")
    text = _read_message(message)
    if text is not None:
        body = {**opts.body(), "messages": [{"role": "user", "content": text}], "persist": True}
        ask(client, "/v1/chat", body, opts)
        return
    if opts.json:
        raise UsageError("--json needs a message", fix='mcpgw chat "question" --json')
    info("mcpgw chat — empty line or Ctrl-D to quit")
    while True:
        try:
            line = input("› ").strip()
        except EOFError:
            break
        if not line or line in ("/exit", "/quit"):
            break
        body = {**opts.body(), "messages": [{"role": "user", "content": line}], "persist": True}
        envelope = ask(client, "/v1/chat", body, opts)
        opts.conversation = envelope.get("context", {}).get("conversation_id") or opts.conversation


def _read_file(path: Path) -> str:
    from mcpgw.agent.edits import read_text

    return read_text(Path.cwd(), str(path))


def _rel(path: Path) -> str:
    root = _project_root()
    resolved = path.resolve()
    if root is not None:
        try:
            return str(resolved.relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def code_body(mode: str, task: str, files: list[Path], opts: AskOptions) -> dict[str, Any]:
    body = {**opts.body(), "task": task, "mode": mode}
    for key in ("conversation_id",):
        body[key] = opts.conversation
    if mode in ("generate", "review", "diff") and files:
        body["path"], body["content"] = _rel(files[0]), _read_file(files[0])
    elif files:
        body["files"] = [{"path": _rel(f), "content": _read_file(f)} for f in files]
    return body


def run_code(client: Any, file: Path, task: str, opts: AskOptions) -> None:
    opts.check()
    ask(client, "/v1/code-agent", code_body("generate", task, [file], opts), opts)


def run_diff(client: Any, file: Path, task: str, opts: AskOptions) -> str:
    """Ask for the new file and print a unified diff against the current one (ready for ``mcpgw apply``)."""
    from mcpgw.agent.edits import answer_code, file_diff

    opts.check()
    body = code_body("diff", task, [file], opts)
    body["stream"] = False
    quiet = AskOptions(**{**opts.__dict__, "json": False})
    envelope = ask(client, "/v1/code-agent", body, quiet, render=False)
    original = body["content"]
    diff = file_diff(body["path"], original, answer_code(envelope, original))
    if opts.json:
        print_json({**envelope, "diff": diff})
    elif diff:
        sys.stdout.write(diff)
    else:
        info("no changes proposed")
    return diff


def run_analyze(client: Any, files: list[Path], opts: AskOptions, suggestions_only: bool = False) -> None:
    opts.check()
    task = "Suggest improvements only, as a short list." if suggestions_only else "Analyse these files."
    ask(client, "/v1/code-agent", code_body("analyze", task, files, opts), opts)


def run_create_project(client: Any, description: str, opts: AskOptions) -> None:
    opts.check()
    body = {**opts.body(), "task": description, "mode": "create-project"}
    ask(client, "/v1/code-agent", body, opts)


def _opts(layer: str | None, model: str | None, quality: str, budget: float | None, conversation: str | None,
          yes: bool, no_stream: bool, json: bool, no_cache: bool = False,
          risk: str | None = None) -> AskOptions:  # fmt: skip
    return AskOptions(layer, model, quality, budget, conversation, yes, not no_stream, json, not no_cache, risk)


def register(app: typer.Typer) -> None:
    @app.command("chat")
    def chat(
        message: Annotated[
            str | None, typer.Argument(help="The message; '-' or piped stdin reads it; none: interactive.")
        ] = None,
        layer: LayerOpt = None, model: ModelOpt = None, quality: QualityOpt = "normal", budget: BudgetOpt = None,
        conversation: ConvOpt = None, yes: YesOpt = False, no_stream: NoStreamOpt = False, json: JsonOpt = False,
        no_cache: NoCacheOpt = False, risk: RiskOpt = None,
        handoff: Annotated[
            str | None, typer.Option("--handoff", help="Start a new conversation from a summary of this one.")
        ] = None,
    ) -> None:  # fmt: skip
        """Ask the gateway; the router picks the layer and model (or pin them)."""
        with context.client() as client:
            opts = _opts(layer, model, quality, budget, conversation, yes, no_stream, json, no_cache, risk)
            run_chat(client, message, opts, handoff)

    @app.command("code")
    def code(
        file: Annotated[Path, typer.Argument(help="The file to work on.")],
        task: Annotated[str, typer.Argument(help="What to do.")],
        layer: LayerOpt = None, model: ModelOpt = None, quality: QualityOpt = "normal", budget: BudgetOpt = None,
        yes: YesOpt = False, no_stream: NoStreamOpt = False, json: JsonOpt = False, risk: RiskOpt = None,
    ) -> None:  # fmt: skip
        """A code task on FILE (task type 'code': the router prefers code models)."""
        with context.client() as client:
            run_code(client, file, task, _opts(layer, model, quality, budget, None, yes, no_stream, json, risk=risk))

    @app.command("diff")
    def diff(
        file: Annotated[Path, typer.Argument(help="The file to change.")],
        task: Annotated[str, typer.Argument(help="The change to make.")],
        layer: LayerOpt = None, model: ModelOpt = None, quality: QualityOpt = "normal", budget: BudgetOpt = None,
        yes: YesOpt = False, json: JsonOpt = False, risk: RiskOpt = None,
    ) -> None:  # fmt: skip
        """Print a unified diff that makes the change (pipe it to `mcpgw apply -i`)."""
        with context.client() as client:
            run_diff(client, file, task, _opts(layer, model, quality, budget, None, yes, True, json, risk=risk))

    @app.command("analyze")
    def analyze(
        files: Annotated[list[Path], typer.Argument(help="Files to analyse.")],
        layer: LayerOpt = None, model: ModelOpt = None, quality: QualityOpt = "normal", budget: BudgetOpt = None,
        yes: YesOpt = False, no_stream: NoStreamOpt = False, json: JsonOpt = False,
        suggestions_only: Annotated[
            bool, typer.Option("--suggestions-only", help="Only improvement suggestions.")
        ] = False,
    ) -> None:  # fmt: skip
        """Analyse files: structure, risks, bugs, suggestions."""
        with context.client() as client:
            opts = _opts(layer, model, quality, budget, None, yes, no_stream, json)
            run_analyze(client, files, opts, suggestions_only)

    @app.command("create-project")
    def create_project(
        description: Annotated[str, typer.Argument(help="What the project should be.")],
        layer: LayerOpt = None, model: ModelOpt = None, quality: QualityOpt = "normal", budget: BudgetOpt = None,
        yes: YesOpt = False, no_stream: NoStreamOpt = False, json: JsonOpt = False,
    ) -> None:  # fmt: skip
        """Plan a new project from a description: tree, key files, dependencies, first steps."""
        with context.client() as client:
            opts = _opts(layer, model, quality, budget, None, yes, no_stream, json)
            run_create_project(client, description, opts)

    cache_app = typer.Typer(help="The response cache.", no_args_is_help=True)

    @cache_app.command("stats")
    def cache_stats(json: JsonOpt = False) -> None:
        """Entries, hits, misses, hit rate, money saved."""
        with context.client() as client:
            data = client.get("/v1/cache/stats")
        if json:
            print_json(data)
        else:
            for key, value in data.items():
                print(f"{key:12} {value}")

    @cache_app.command("clear")
    def cache_clear(json: JsonOpt = False) -> None:
        """Remove every cached response."""
        with context.client() as client:
            data = client.post("/v1/cache/clear")
        if json:
            print_json(data)
        else:
            info(f"cleared {data['cleared']} cached responses")

    app.add_typer(cache_app, name="cache")
