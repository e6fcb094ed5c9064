"""Work profiles: long-running sessions (refactor-auth, debug-perf …) with goals, a current focus, files in
scope and decisions, kept per project. One profile per project can be *active*; the gateway's context
stage adds the active profile to every prompt of that project, so no client command needs to know.

The active profile of each project is cached in memory (a project without one costs a dict lookup per
request); every change made through :class:`ProfileManager` invalidates it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcpgw.errors import NotFound, UsageError
from mcpgw.ids import new_id

if TYPE_CHECKING:
    from mcpgw.store import Store

PROFILE_TYPES = ("refactor", "debug", "feature", "review", "planning")
NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ','now')"
MAX_GOALS = 100
MAX_FILES = 1000
PROMPT_FILES = 30
PROMPT_DECISIONS = 5


@dataclass
class Profile:
    id: str
    project_id: str | None
    name: str
    type: str
    summary: str
    status: str
    goals: list[str]
    completed: list[str]
    current_focus: str | None
    files_in_scope: list[str]
    files_touched: list[str]
    decisions: list[dict[str, str]]
    created_at: str
    last_active_at: str
    active: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Any, *, active: bool = False) -> Profile:
        context = _json(row["context"], {})
        known = ("completedTasks", "currentFocus", "filesTouched", "decisions")
        return cls(
            id=row["id"], project_id=row["project_id"], name=row["name"], type=row["type"],
            summary=row["summary"] or "", status=row["status"], goals=_json(row["goals"], []),
            completed=list(context.get("completedTasks") or []), current_focus=context.get("currentFocus"),
            files_in_scope=_json(row["files_in_scope"], []), files_touched=list(context.get("filesTouched") or []),
            decisions=list(context.get("decisions") or []), created_at=row["created_at"],
            last_active_at=row["last_active_at"], active=active,
            extra={k: v for k, v in context.items() if k not in known},
        )  # fmt: skip

    def context_json(self) -> str:
        return json.dumps(
            {
                **self.extra,
                "completedTasks": self.completed,
                "currentFocus": self.current_focus,
                "filesTouched": self.files_touched,
                "decisions": self.decisions,
            }
        )

    def goals_done(self) -> int:
        done = {c.lower() for c in self.completed}
        return sum(1 for g in self.goals if g.lower() in done)

    def as_dict(self) -> dict[str, Any]:
        done = {c.lower() for c in self.completed}
        return {
            "id": self.id, "project_id": self.project_id, "name": self.name, "type": self.type,
            "summary": self.summary, "status": self.status, "active": self.active,
            "goals": [{"goal": g, "done": g.lower() in done} for g in self.goals],
            "goals_done": self.goals_done(), "goals_total": len(self.goals), "current_focus": self.current_focus,
            "files_in_scope": self.files_in_scope, "files_touched": self.files_touched,
            "decisions": self.decisions, "created_at": self.created_at, "last_active_at": self.last_active_at,
        }  # fmt: skip

    def prompt_block(self) -> str:
        """The profile as prompt text: goals (with progress), focus, files in scope, recent decisions."""
        done = {c.lower() for c in self.completed}
        lines = [f'Work profile "{self.name}" ({self.type}): keep to its goals and respect its decisions.']
        if self.summary:
            lines.append(f"Summary: {self.summary}")
        if self.goals:
            lines.append(f"Goals ({self.goals_done()}/{len(self.goals)} done):")
            lines += [f"- [{'x' if g.lower() in done else ' '}] {g}" for g in self.goals[:MAX_GOALS]]
        if self.current_focus:
            lines.append(f"Current focus: {self.current_focus}")
        if self.files_in_scope:
            shown = self.files_in_scope[:PROMPT_FILES]
            more = f" (+{len(self.files_in_scope) - len(shown)} more)" if len(self.files_in_scope) > len(shown) else ""
            lines.append(f"Files in scope: {', '.join(shown)}{more}")
        if self.decisions:
            lines.append("Recent decisions:")
            for d in self.decisions[-PROMPT_DECISIONS:]:
                why = f" (why: {d['rationale']})" if d.get("rationale") else ""
                lines.append(f"- {d.get('date', '')[:10]}: {d['decision']}{why}")
        return "\n".join(lines)


def _json(text: str | None, default: Any) -> Any:
    try:
        value = json.loads(text) if text else default
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default


def split_list(values: list[str]) -> list[str]:
    """Items from repeated and comma-separated arguments, trimmed, duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for value in values:
        for item in value.split(","):
            if item.strip():
                seen.setdefault(item.strip(), None)
    return list(seen)


class ProfileManager:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._active: dict[str, Profile | None] = {}
        self.loads = 0  # how many times an active profile was read from the database

    def invalidate(self, project_id: str | None = None) -> None:
        if project_id is None:
            self._active.clear()
        else:
            self._active.pop(project_id, None)

    # --- reading -----------------------------------------------------------------------------------------

    async def active(self, project_id: str) -> Profile | None:
        """The project's active profile (cached)."""
        if project_id in self._active:
            return self._active[project_id]
        self.loads += 1
        row = await self.store.read_one(
            "SELECT p.* FROM active_profiles a JOIN session_profiles p ON p.id = a.profile_id WHERE a.project_id = ?",
            (project_id,),
        )
        profile = Profile.from_row(row, active=True) if row is not None else None
        self._active[project_id] = profile
        return profile

    async def get(self, project_id: str, name: str) -> Profile:
        """A profile of the project by name (or id); NotFound names the profiles there are."""
        row = await self.store.read_one(
            "SELECT p.*, EXISTS (SELECT 1 FROM active_profiles a WHERE a.profile_id = p.id) AS is_active "
            "FROM session_profiles p WHERE (p.project_id = ? AND p.name = ?) OR p.id = ?",
            (project_id, name, name),
        )
        if row is None:
            names = [p.name for p in await self.list_profiles(project_id)]
            known = f"; profiles here: {', '.join(names)}" if names else ""
            raise NotFound(
                f"no profile {name!r} in this project{known}",
                fix=f'create it: mcpgw profile create {name} --type feature --goals "…"',
            )
        return Profile.from_row(row, active=bool(row["is_active"]))

    async def list_profiles(self, project_id: str | None) -> list[Profile]:
        where, params = ("WHERE p.project_id = ?", (project_id,)) if project_id else ("", ())
        rows = await self.store.read(
            "SELECT p.*, EXISTS (SELECT 1 FROM active_profiles a WHERE a.profile_id = p.id) AS is_active "
            f"FROM session_profiles p {where} ORDER BY p.last_active_at DESC",
            params,
        )
        return [Profile.from_row(r, active=bool(r["is_active"])) for r in rows]

    async def current(self, project_id: str, name: str | None) -> Profile:
        """``name``'s profile, or the active one; NotFound when neither."""
        if name:
            return await self.get(project_id, name)
        profile = await self.active(project_id)
        if profile is None:
            raise NotFound("no profile is active in this project", fix="start one with `mcpgw profile use NAME`")
        return profile

    # --- changing ----------------------------------------------------------------------------------------

    async def create(
        self, project_id: str, name: str, type_: str, goals: list[str], *, files: list[str] | None = None,
        focus: str | None = None, summary: str = "", user_id: str | None = None,
    ) -> Profile:  # fmt: skip
        name = name.strip()
        if not name or len(name) > 100 or any(c in name for c in "/\\\n"):
            raise UsageError(f"bad profile name {name!r}", fix="use a short name such as refactor-auth")
        if type_ not in PROFILE_TYPES:
            raise UsageError(f"unknown profile type {type_!r}", fix=f"use one of {', '.join(PROFILE_TYPES)}")
        goals, files = split_list(goals), split_list(files or [])
        if len(goals) > MAX_GOALS or len(files) > MAX_FILES:
            raise UsageError(f"too many goals or files (at most {MAX_GOALS} goals, {MAX_FILES} files)")
        exists = await self.store.read_one(
            "SELECT 1 FROM session_profiles WHERE project_id = ? AND name = ?", (project_id, name)
        )
        if exists is not None:
            raise UsageError(f"profile {name!r} already exists in this project", fix=f"mcpgw profile use {name}")
        profile_id = new_id()
        context = json.dumps({"completedTasks": [], "currentFocus": focus, "filesTouched": [], "decisions": []})
        await self.store.write(
            "INSERT INTO session_profiles (id, name, project_id, user_id, type, summary, goals, files_in_scope, "
            "context, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'paused')",
            (profile_id, name, project_id, user_id, type_, summary, json.dumps(goals), json.dumps(files), context),
        )
        return await self.get(project_id, profile_id)

    async def use(self, project_id: str, name: str) -> Profile:
        """Make ``name`` the project's active profile (the previous one is paused)."""
        profile = await self.get(project_id, name)
        await self.store.write_many(
            [
                (
                    "UPDATE session_profiles SET status = 'paused' WHERE id IN "
                    "(SELECT profile_id FROM active_profiles WHERE project_id = ?)",
                    (project_id,),
                ),
                (
                    "INSERT INTO active_profiles (project_id, profile_id) VALUES (?, ?) ON CONFLICT(project_id) "
                    f"DO UPDATE SET profile_id = excluded.profile_id, activated_at = {NOW_SQL}",
                    (project_id, profile.id),
                ),
                (
                    f"UPDATE session_profiles SET status = 'active', last_active_at = {NOW_SQL}, "
                    f"updated_at = {NOW_SQL} WHERE id = ?",
                    (profile.id,),
                ),
            ]
        )
        self.invalidate(project_id)
        return await self.get(project_id, profile.id)

    async def stop(self, project_id: str) -> Profile:
        """Deactivate the project's profile (kept, resumable with ``use``)."""
        profile = await self.current(project_id, None)
        await self.store.write_many(
            [
                ("DELETE FROM active_profiles WHERE project_id = ?", (project_id,)),
                (f"UPDATE session_profiles SET status = 'paused', updated_at = {NOW_SQL} WHERE id = ?", (profile.id,)),
            ]
        )
        self.invalidate(project_id)
        return await self.get(project_id, profile.id)

    async def update(
        self, project_id: str, name: str | None, *, done: list[str] | None = None,
        add_goals: list[str] | None = None, focus: str | None = None, files: list[str] | None = None,
        decision: str | None = None, rationale: str | None = None, summary: str | None = None,
    ) -> Profile:  # fmt: skip
        """Record progress on a profile (the active one when ``name`` is None)."""
        profile = await self.current(project_id, name)
        for goal in split_list(add_goals or []):
            if goal.lower() not in {g.lower() for g in profile.goals}:
                profile.goals.append(goal)
        for wanted in done or []:
            goal = match_goal(profile.goals, wanted)
            if goal.lower() not in {c.lower() for c in profile.completed}:
                profile.completed.append(goal)
        if focus is not None:
            profile.current_focus = focus.strip() or None
        for path in split_list(files or []):
            if path not in profile.files_in_scope:
                profile.files_in_scope.append(path)
        if decision is not None:
            if not decision.strip():
                raise UsageError("the decision is empty", fix='mcpgw profile decide "what was decided" --why "…"')
            profile.decisions.append(
                {"date": _now(), "decision": decision.strip(), "rationale": (rationale or "").strip()}
            )
        if summary is not None:
            profile.summary = summary.strip()
        if len(profile.goals) > MAX_GOALS or len(profile.files_in_scope) > MAX_FILES:
            raise UsageError(f"too many goals or files (at most {MAX_GOALS} goals, {MAX_FILES} files)")
        await self.store.write(
            "UPDATE session_profiles SET goals = ?, files_in_scope = ?, context = ?, summary = ?, "
            f"updated_at = {NOW_SQL}, last_active_at = {NOW_SQL} WHERE id = ?",
            (json.dumps(profile.goals), json.dumps(profile.files_in_scope), profile.context_json(), profile.summary,
             profile.id),
        )  # fmt: skip
        self.invalidate(project_id)
        return await self.get(project_id, profile.id)

    async def delete(self, project_id: str, name: str) -> dict[str, Any]:
        profile = await self.get(project_id, name)
        await self.store.write_many(
            [
                ("DELETE FROM active_profiles WHERE profile_id = ?", (profile.id,)),
                ("UPDATE conversations SET profile_id = NULL WHERE profile_id = ?", (profile.id,)),
                ("DELETE FROM session_profiles WHERE id = ?", (profile.id,)),
            ]
        )
        self.invalidate(project_id)
        return {"deleted": profile.name, "id": profile.id}

    def note_request(self, profile: Profile, files: list[str], conversation_id: str | None) -> None:
        """After a request under ``profile``: last active now, files it touched, its conversation linked.
        Write-behind (never slows the request); the cached profile is updated in place."""
        new = [f for f in files if f not in profile.files_touched][: MAX_FILES - len(profile.files_touched)]
        profile.files_touched += new
        self.store.enqueue(
            f"UPDATE session_profiles SET last_active_at = {NOW_SQL}, context = json_set(context, '$.filesTouched', "
            "json(?)) WHERE id = ?",
            (json.dumps(profile.files_touched), profile.id),
        )
        if conversation_id:
            self.store.enqueue(
                "UPDATE conversations SET profile_id = ? WHERE id = ? AND profile_id IS NULL",
                (profile.id, conversation_id),
            )


def match_goal(goals: list[str], wanted: str) -> str:
    """The goal ``wanted`` names: exact text (any case), its number (1-based), or a unique part of it."""
    text = wanted.strip()
    lowered = [g.lower() for g in goals]
    if text.lower() in lowered:
        return goals[lowered.index(text.lower())]
    if text.isdigit() and 1 <= int(text) <= len(goals):
        return goals[int(text) - 1]
    partial = [g for g in goals if text.lower() in g.lower()] if text else []
    if len(partial) == 1:
        return partial[0]
    listing = "; ".join(f"{i}. {g}" for i, g in enumerate(goals, 1)) or "none"
    reason = "matches several goals" if len(partial) > 1 else "is not a goal of this profile"
    raise UsageError(f"{wanted!r} {reason} (goals: {listing})", fix="name the goal by its number or full text")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
