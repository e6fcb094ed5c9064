"""The daemon's knowledge base: builds packs (incrementally, by content hash), answers searches (BM25 over
FTS5, fused with vector similarity when the pack was embedded and the embedder loads) and picks the
sections a prompt gets within a token budget.

What a request costs: the set of packs (and their vectors) per project is cached in memory, so a
project with no packs costs one dict lookup after its first request. Build and delete invalidate it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcpgw.errors import NotFound, UsageError
from mcpgw.ids import new_id
from mcpgw.knowledge import _store as S
from mcpgw.knowledge._docs import DocFile, match_files, read_doc

if TYPE_CHECKING:
    from mcpgw.config import SearchSettings
    from mcpgw.search.embedder import Embedder
    from mcpgw.store import Store

log = logging.getLogger(__name__)

RRF_K = 60
MIN_SIMILARITY = 0.3  # below this a vector neighbour is noise for all-MiniLM-L6-v2
CANDIDATES = 20
NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ','now')"


@dataclass
class _Project:
    """What retrieval needs to know about one project, cached until a build or delete."""

    packs: list[tuple[str, str, str | None]]
    vector_ids: list[int] | None = None
    matrix: Any = None  # numpy float32 (n, dim), loaded on the first semantic search

    @property
    def embedder_name(self) -> str | None:
        names = {e for _, _, e in self.packs if e}
        return names.pop() if len(names) == 1 else None


@dataclass(frozen=True)
class SearchResult:
    hits: list[S.Hit]
    mode: str  # "hybrid" | "keyword"
    notice: str | None = None


class KnowledgeBase:
    def __init__(self, store: Store, search: SearchSettings | None = None) -> None:
        self.store = store
        self.search_settings = search
        self._projects: dict[str, _Project] = {}
        self._build_lock = asyncio.Lock()
        self.loads = 0  # how many times a project's packs were read from the database

    # --- cache -------------------------------------------------------------------------------------------

    def invalidate(self, project_id: str | None = None) -> None:
        if project_id is None:
            self._projects.clear()
        else:
            self._projects.pop(project_id, None)

    async def _project(self, project_id: str) -> _Project:
        cached = self._projects.get(project_id)
        if cached is None:
            self.loads += 1
            packs = await self.store.run(lambda c: S.project_packs(c, project_id))
            cached = self._projects[project_id] = _Project(packs)
        return cached

    async def has_packs(self, project_id: str) -> bool:
        return bool((await self._project(project_id)).packs)

    # --- the embedder ------------------------------------------------------------------------------------

    async def embedder(self) -> tuple[Embedder | None, str | None]:
        s = self.search_settings
        if s is None or s.embedder == "none":
            return None, "embeddings are off: keyword retrieval only"
        from mcpgw.search.embedder import load_embedder

        return await asyncio.to_thread(
            load_embedder, s.embedder, model_dir=s.model_dir, ollama_model=s.ollama_model, openai_model=s.openai_model
        )

    # --- build, list, delete -----------------------------------------------------------------------------

    async def build(
        self, project_id: str, root: Path, include: list[str], name: str, description: str | None, *, embed: bool
    ) -> dict[str, Any]:
        """Build or refresh the pack ``name``: only files whose content changed are re-split and re-embedded."""
        async with self._build_lock:
            existing = await self.store.run(lambda c: S.pack_row(c, project_id, name))
            patterns = include or (json.loads(existing["include"]) if existing else [])
            files = await asyncio.to_thread(match_files, root, patterns)
            if not files:
                raise UsageError(
                    f"no file under {root} matches {', '.join(patterns)}",
                    fix='check the globs (relative to the project root), e.g. --include "docs/**/*.md"',
                )
            read = await asyncio.to_thread(lambda: [read_doc(root, f) for f in files])
            docs = [d for d in read if d is not None and d.sections]
            if not docs:
                raise UsageError(
                    f"{len(files)} files matched but none is readable text",
                    fix="include Markdown, reStructuredText or plain-text files (UTF-8, under 1 MB)",
                )
            embedder, notice = await self.embedder() if embed else (None, "built without vectors (--keyword-only)")
            emb_name = embedder.name if embedder is not None else None
            pack_id = existing["id"] if existing else new_id()
            old = await self.store.run(lambda c: S.file_hashes(c, pack_id)) if existing else {}
            everything = existing is not None and existing["embedder"] != emb_name
            changed = [d for d in docs if everything or old.get(d.path) != d.file_hash]
            removed = sorted(set(old) - {d.path for d in docs})
            vectors = await asyncio.to_thread(_embed, embedder, changed) if embedder and changed else None
            statements: list[S.Statement] = [
                (
                    "INSERT INTO knowledge_packs (id, project_id, name, description, root_path, include, embedder) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(project_id, name) DO UPDATE SET "
                    "description = COALESCE(excluded.description, description), root_path = excluded.root_path, "
                    f"include = excluded.include, embedder = excluded.embedder, updated_at = {NOW_SQL}",
                    (pack_id, project_id, name, description, str(root), json.dumps(patterns), emb_name),
                )
            ]
            for doc in changed:
                statements += S.doc_statements(pack_id, doc, vectors.get(doc.path) if vectors else None)
            statements += [
                ("DELETE FROM knowledge_documents WHERE pack_id = ? AND path = ?", (pack_id, p)) for p in removed
            ]
            await self.store.write_many(statements)
            summary = await self.store.run(lambda c: S.pack_summary(c, pack_id))
            await self.store.write("UPDATE knowledge_packs SET summary = ? WHERE id = ?", (summary, pack_id))
            self.invalidate(project_id)
        added = sum(1 for d in changed if d.path not in old)
        return {
            "pack": name, "id": pack_id, "project_id": project_id, "root": str(root), "include": patterns,
            "files": len(docs), "added": added, "updated": len(changed) - added,
            "unchanged": len(docs) - len(changed), "removed": len(removed),
            "sections": sum(len(d.sections) for d in changed), "embedder": emb_name, "notice": notice,
            "summary": summary,
        }  # fmt: skip

    async def list_packs(self, project_id: str | None) -> list[dict[str, Any]]:
        return await self.store.run(lambda c: S.list_packs(c, project_id))

    async def delete(self, project_id: str, name: str) -> dict[str, Any]:
        row = await self.store.run(lambda c: S.pack_row(c, project_id, name))
        if row is None:
            raise NotFound(f"no knowledge pack {name!r} in this project", fix="list packs with `mcpgw knowledge list`")
        await self.store.write_many(
            [
                ("DELETE FROM knowledge_documents WHERE pack_id = ?", (row["id"],)),
                ("DELETE FROM knowledge_packs WHERE id = ?", (row["id"],)),
            ]
        )
        self.invalidate(project_id)
        return {"deleted": name, "id": row["id"]}

    # --- retrieval ---------------------------------------------------------------------------------------

    async def search(self, project_id: str, query: str, limit: int = 8) -> SearchResult:
        """The best sections for ``query``: BM25, fused (reciprocal rank) with vector neighbours when possible."""
        project = await self._project(project_id)
        if not project.packs:
            return SearchResult([], "keyword")
        pack_ids = [p[0] for p in project.packs]
        terms = S.query_terms(query)
        keyword = await self.store.run(lambda c: S.keyword_hits(c, pack_ids, terms, CANDIDATES))
        semantic, notice = await self._semantic(project, pack_ids, query)
        mode = "hybrid" if semantic is not None else "keyword"
        fused: dict[int, float] = {}
        for ranking in (keyword, semantic or []):
            for rank, (section_id, _) in enumerate(ranking):
                fused[section_id] = fused.get(section_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:limit]
        hits = await self.store.run(lambda c: S.sections_by_id(c, best))
        return SearchResult(hits, mode, notice)

    async def _semantic(
        self, project: _Project, pack_ids: list[str], query: str
    ) -> tuple[list[tuple[int, float]] | None, str | None]:
        wanted = project.embedder_name
        if wanted is None or not query.strip():
            return None, None
        embedder, notice = await self.embedder()
        if embedder is None or embedder.name != wanted:
            return None, notice or f"the pack was embedded with {wanted}; keyword retrieval only"
        if project.matrix is None:
            ids, blobs = await self.store.run(lambda c: S.vectors_of(c, pack_ids))
            if not ids:
                return None, None
            project.vector_ids, project.matrix = ids, _stack(blobs)
        ids, matrix = project.vector_ids or [], project.matrix
        return await asyncio.to_thread(_neighbours, embedder, matrix, ids, query), None

    async def context_for(self, project_id: str, query: str, token_budget: int) -> list[S.Hit]:
        """Sections for a prompt: the best hits that fit ``token_budget`` (estimated), best first."""
        if not await self.has_packs(project_id) or not query.strip():
            return []
        result = await self.search(project_id, query, limit=8)
        chosen: list[S.Hit] = []
        used = 0
        for hit in result.hits:
            cost = section_tokens(hit)
            if used + cost > token_budget:
                continue
            chosen.append(hit)
            used += cost
        return chosen


def section_tokens(hit: S.Hit) -> int:
    from mcpgw.pricing import estimate_tokens

    return estimate_tokens([{"content": f"### {hit.title}\n{hit.content}\n"}])


def _embed(embedder: Embedder, docs: Sequence[DocFile]) -> dict[str, list[bytes]]:
    texts = [f"{s.title}\n{s.content}" for d in docs for s in d.sections]
    matrix = embedder.embed_documents(texts)
    out: dict[str, list[bytes]] = {}
    row = 0
    for d in docs:
        out[d.path] = [matrix[row + i].astype("float32").tobytes() for i in range(len(d.sections))]
        row += len(d.sections)
    return out


def _stack(blobs: list[bytes]) -> Any:
    import numpy as np

    return np.vstack([np.frombuffer(b, dtype=np.float32) for b in blobs])


def _neighbours(embedder: Embedder, matrix: Any, ids: list[int], query: str) -> list[tuple[int, float]]:
    import numpy as np

    q = embedder.embed_query(query)[0]
    if matrix.shape[1] != q.shape[0]:
        return []
    sims = matrix @ q
    order = np.argsort(-sims)[:CANDIDATES]
    return [(ids[i], float(sims[i])) for i in order if sims[i] >= MIN_SIMILARITY]
