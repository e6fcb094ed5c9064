"""Which project a request belongs to: the git root it came from, its row in ``projects`` and its policy
file (``ai-mcp.config.json`` / ``.ai-mcp.yml``), re-read only when the file changes."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from mcpgw.config import PROJECT_FILES, ProjectPolicy, find_git_root, load_project_policy
from mcpgw.errors import ConfigError
from mcpgw.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    root: str
    policy: ProjectPolicy
    policy_file: str | None


class ProjectResolver:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._known: dict[str, str] = {}
        self._policies: dict[str, tuple[float, ProjectPolicy]] = {}

    async def resolve(self, root_hint: str | None) -> Project | None:
        if not root_hint:
            return None
        start = Path(root_hint)
        root = find_git_root(start) or start
        key = str(root)
        policy, policy_file = self._policy(root)
        project_id = self._known.get(key)
        name = policy.name or root.name or key
        if project_id is None:
            project_id = "p_" + hashlib.sha256(key.encode()).hexdigest()[:12]
            await self.store.write(
                "INSERT INTO projects (id, name, root_path) VALUES (?, ?, ?) "
                "ON CONFLICT(root_path) DO UPDATE SET updated_at = excluded.updated_at",
                (project_id, name, key),
            )
            row = await self.store.read_one("SELECT id FROM projects WHERE root_path = ?", (key,))
            project_id = row[0] if row else project_id
            self._known[key] = project_id
        return Project(project_id, name, key, policy, policy_file)

    def _policy(self, root: Path) -> tuple[ProjectPolicy, str | None]:
        for name in PROJECT_FILES:
            path = root / name
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            cached = self._policies.get(str(path))
            if cached is not None and cached[0] == mtime:
                return cached[1], str(path)
            try:
                policy = load_project_policy(path)
            except ConfigError:
                raise
            self._policies[str(path)] = (mtime, policy)
            return policy, str(path)
        return ProjectPolicy(), None
