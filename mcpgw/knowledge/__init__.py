"""Knowledge packs: a project's documentation (READMEs, ADRs, architecture notes, API and guides) split into
sections, searchable by keyword and meaning, and injected into prompts by the gateway's context stage.

One :class:`KnowledgeBase` per store (:func:`knowledge_for`), shared by the routes and the gateway stage
so that a build invalidates the stage's per-project cache.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from mcpgw.knowledge._base import KnowledgeBase, SearchResult, section_tokens
from mcpgw.knowledge._docs import DOC_TYPES, DocFile, Section, detect_type, match_files, read_doc, split_sections
from mcpgw.knowledge._store import Hit, query_terms

if TYPE_CHECKING:
    from mcpgw.config import SearchSettings
    from mcpgw.store import Store

__all__ = [
    "DOC_TYPES",
    "DocFile",
    "Hit",
    "KnowledgeBase",
    "SearchResult",
    "Section",
    "detect_type",
    "knowledge_for",
    "match_files",
    "query_terms",
    "read_doc",
    "section_tokens",
    "split_sections",
]

_bases: weakref.WeakKeyDictionary[Store, KnowledgeBase] = weakref.WeakKeyDictionary()


def knowledge_for(store: Store, search: SearchSettings | None = None) -> KnowledgeBase:
    """The knowledge base of ``store`` (made on first use; ``search`` picks the embedder)."""
    base = _bases.get(store)
    if base is None:
        base = _bases[store] = KnowledgeBase(store, search)
    elif search is not None and base.search_settings is None:
        base.search_settings = search
    return base
