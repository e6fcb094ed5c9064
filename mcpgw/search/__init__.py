"""Semantic code search: index a project (tree-sitter chunks, identifier-aware FTS5, sqlite-vec vectors)
and query it in keyword, semantic or hybrid mode. Importing this package loads no model or parser."""

from mcpgw.search.embedder import Embedder, load_embedder, resolve_model_dir
from mcpgw.search.index import IndexSummary, find_indexed_root, index_root, indexed_roots, root_stats
from mcpgw.search.query import Fusion, SearchHit, SearchOptions, SearchResult, search

__all__ = [
    "Embedder",
    "Fusion",
    "IndexSummary",
    "SearchHit",
    "SearchOptions",
    "SearchResult",
    "find_indexed_root",
    "index_root",
    "indexed_roots",
    "load_embedder",
    "resolve_model_dir",
    "root_stats",
    "search",
]
