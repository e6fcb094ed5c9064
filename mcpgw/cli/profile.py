"""``mcpgw profile create NAME --type T --goals "a,b"``, ``use NAME``, ``status [NAME] [--json]``, ``list``,
``done GOAL``, ``decide "decision" --why "…"``, ``focus TEXT``, ``update``, ``stop`` and ``rm NAME``: long-running
work sessions of the current project. The active profile lives in the daemon, so every command that calls
the gateway from this project (chat, code, hooks, MCP) gets its context without a flag."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import typer

from mcpgw.cli import context
from mcpgw.cli.knowledge import project_root
from mcpgw.cli.output import info, out, print_json

app = typer.Typer(help="Work profiles: goals, focus, files and decisions added to this project's prompts.",
                  no_args_is_help=True)  # fmt: skip

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ProfileOpt = Annotated[str | None, typer.Option("--profile", "-p", help="Profile name (default: the active one).")]
TYPES = ("refactor", "debug", "feature", "review", "planning")


def _root() -> str:
    return str(project_root())


def ago(timestamp: str, now: datetime | None = None) -> str:
    """'2 hours ago' for an ISO-8601 UTC time."""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    seconds = max(0, int(((now or datetime.now(UTC)) - moment).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def format_status(p: dict[str, Any], now: datetime | None = None) -> str:
    """The roadmap's status block, with the goals and the latest decision under it."""
    title = " ".join(w.capitalize() for w in p["name"].replace("_", "-").split("-") if w) + " Session"
    state = "active" if p["active"] else p["status"]
    lines = [f"{title} ({p['type']}, {state})", f"Goals: {p['goals_done']}/{p['goals_total']} completed"]
    lines += [f"  {'✓' if g['done'] else '·'} {g['goal']}" for g in p["goals"]]
    if p.get("current_focus"):
        lines.append(f"Current focus: {p['current_focus']}")
    lines.append(f"Files in scope: {len(p['files_in_scope'])}")
    lines.append(f"Files modified: {len(p['files_touched'])}")
    if p["decisions"]:
        last = p["decisions"][-1]
        lines.append(f"Decisions: {len(p['decisions'])} (latest {last['date'][:10]}: {last['decision']})")
    lines.append(f"Last active: {ago(p['last_active_at'], now)}")
    return "\n".join(lines)


def _show(profile: dict[str, Any], json: bool, message: str | None = None) -> None:
    if json:
        print_json(profile)
        return
    if message:
        info(message)


@app.command("create")
def profile_create(
    name: Annotated[str, typer.Argument(help="Profile name, e.g. refactor-auth.")],
    type_: Annotated[str, typer.Option("--type", "-t", help=f"One of {', '.join(TYPES)}.")] = "feature",
    goals: Annotated[str, typer.Option("--goals", "-g", help="Comma-separated goals.")] = "",
    files: Annotated[str, typer.Option("--files", help="Comma-separated files in scope.")] = "",
    focus: Annotated[str | None, typer.Option("--focus", help="What you are on right now.")] = None,
    use: Annotated[bool, typer.Option("--use", help="Make it the active profile at once.")] = False,
    json: JsonOpt = False,
) -> None:
    """Create a profile in this project."""
    body = {"project_root": _root(), "name": name, "type": type_, "goals": [goals] if goals else [],
            "files": [files] if files else [], "focus": focus, "use": use}  # fmt: skip
    with context.client() as client:
        p = client.post("/v1/profiles", json=body)
    _show(p, json, f"created profile {p['name']} ({p['type']}, {p['goals_total']} goals)"
          + ("; now active" if p["active"] else f"; start it with `mcpgw profile use {p['name']}`"))  # fmt: skip


@app.command("use")
def profile_use(name: Annotated[str, typer.Argument(help="Profile name.")], json: JsonOpt = False) -> None:
    """Make a profile the active one of this project: its context joins every prompt here."""
    with context.client() as client:
        p = client.post("/v1/profiles/use", json={"project_root": _root(), "name": name})
    _show(p, json, f"profile {p['name']} is active: {p['goals_done']}/{p['goals_total']} goals done")


@app.command("status")
def profile_status(
    name: Annotated[str | None, typer.Argument(help="Profile name (default: the active one).")] = None,
    json: JsonOpt = False,
) -> None:
    """Progress of the active (or named) profile."""
    params = {"project_root": _root(), **({"name": name} if name else {})}
    with context.client() as client:
        p = client.get("/v1/profiles/status", params=params)
    if json:
        print_json(p)
    else:
        out().print(format_status(p), markup=False)


@app.command("list")
def profile_list(
    all_projects: Annotated[bool, typer.Option("--all", help="Profiles of every project.")] = False,
    json: JsonOpt = False,
) -> None:
    """Profiles of this project, most recently active first."""
    params = {} if all_projects else {"project_root": _root()}
    with context.client() as client:
        profiles = client.get("/v1/profiles", params=params)["profiles"]
    if json:
        print_json(profiles)
        return
    if not profiles:
        info('no profiles here; create one: mcpgw profile create NAME --type feature --goals "a,b"')
        return
    for p in profiles:
        mark = "*" if p["active"] else " "
        out().print(
            f"{mark} {p['name']}  {p['type']}  goals {p['goals_done']}/{p['goals_total']}  "
            f"last active {ago(p['last_active_at'])}",
            markup=False,
        )


def _update(body: dict[str, Any], json: bool, message: str) -> None:
    with context.client() as client:
        p = client.post("/v1/profiles/update", json={"project_root": _root(), **body})
    _show(p, json, message.format(**p))


@app.command("done")
def profile_done(
    goal: Annotated[str, typer.Argument(help="The goal: its number, full text or a unique part of it.")],
    profile: ProfileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Mark a goal as completed."""
    _update({"name": profile, "done": [goal]}, json, "{name}: {goals_done}/{goals_total} goals done")


@app.command("decide")
def profile_decide(
    decision: Annotated[str, typer.Argument(help="What was decided.")],
    why: Annotated[str, typer.Option("--why", help="The rationale.")] = "",
    profile: ProfileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Record a decision (and why): later prompts of this profile are told to respect it."""
    _update({"name": profile, "decision": decision, "rationale": why}, json, "{name}: decision recorded")


@app.command("focus")
def profile_focus(
    text: Annotated[str, typer.Argument(help="What you are working on now (empty to clear).")],
    profile: ProfileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Set the current focus."""
    _update({"name": profile, "focus": text}, json, "{name}: focus set")


@app.command("update")
def profile_update(
    add_goal: Annotated[list[str] | None, typer.Option("--add-goal", help="A new goal (repeatable).")] = None,
    files: Annotated[list[str] | None, typer.Option("--files", help="Files to add to the scope.")] = None,
    summary: Annotated[str | None, typer.Option("--summary", help="A short summary of the session.")] = None,
    profile: ProfileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Add goals or files in scope, or set the summary."""
    if not add_goal and not files and summary is None:
        from mcpgw.errors import UsageError

        raise UsageError("nothing to update", fix="pass --add-goal, --files or --summary")
    body = {"name": profile, "add_goals": add_goal or [], "files": files or [], "summary": summary}
    _update(body, json, "{name} updated: {goals_total} goals")


@app.command("stop")
def profile_stop(json: JsonOpt = False) -> None:
    """Deactivate this project's profile (resume it later with `use`)."""
    with context.client() as client:
        p = client.post("/v1/profiles/stop", json={"project_root": _root()})
    _show(p, json, f"profile {p['name']} paused")


@app.command("rm")
def profile_rm(name: Annotated[str, typer.Argument(help="Profile name.")], json: JsonOpt = False) -> None:
    """Delete a profile of this project."""
    with context.client() as client:
        result = client.delete(f"/v1/profiles/{quote(name, safe='')}", params={"project_root": _root()})
    if json:
        print_json(result)
    else:
        info(f"deleted profile {result['deleted']}")
