"""The repo map: a ranked graph of a project's files, classes and functions (roadmap section 3).

``build_repo_map(path, conn, options=MapOptions(...))`` returns a :class:`RepoMap`, whose
``to_dict()`` is the documented ProjectGraph JSON and whose ``text(tokens, focus)`` is the
token-budgeted map that chat and the code agent pull in as context. Importing this package is cheap:
tree-sitter and numpy load only when a map is built or ranked.
"""

from mcpgw.repomap.build import BuildStats, MapOptions, RepoMap, build_repo_map
from mcpgw.repomap.render import estimate_tokens

__all__ = ["BuildStats", "MapOptions", "RepoMap", "build_repo_map", "estimate_tokens"]
