"""Work profiles: long-running sessions with goals, focus, files in scope and decisions, one active per
project and added to that project's prompts by the gateway's context stage.

One :class:`ProfileManager` per store (:func:`profiles_for`), shared by the routes and the stage so that
a change made through the routes invalidates the stage's cache.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from mcpgw.profiles._manager import PROFILE_TYPES, Profile, ProfileManager, match_goal, split_list

if TYPE_CHECKING:
    from mcpgw.store import Store

__all__ = ["PROFILE_TYPES", "Profile", "ProfileManager", "match_goal", "profiles_for", "split_list"]

_managers: weakref.WeakKeyDictionary[Store, ProfileManager] = weakref.WeakKeyDictionary()


def profiles_for(store: Store) -> ProfileManager:
    """The profile manager of ``store`` (made on first use)."""
    manager = _managers.get(store)
    if manager is None:
        manager = _managers[store] = ProfileManager(store)
    return manager
