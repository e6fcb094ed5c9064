"""Search inside the daemon: index jobs in worker threads, queries, and a watcher that re-indexes a file
within about a second of it changing.

The library below is synchronous; everything here runs it through ``asyncio.to_thread`` with a connection
of its own (WAL lets it read and write beside the store's connection), so the event loop never blocks.
Registered as a daemon start-up hook: ``("mcpgw.search.service", "start")``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcpgw.errors import NotFound
from mcpgw.ids import short_id

if TYPE_CHECKING:
    import sqlean

    from mcpgw.config import SearchSettings
    from mcpgw.daemon.state import DaemonState
    from mcpgw.search.embedder import Embedder
    from mcpgw.search.query import SearchOptions
    from mcpgw.search.rerank import Reranker

log = logging.getLogger(__name__)

WATCH_DEBOUNCE_MS = 150


@dataclass
class IndexJob:
    """One index run, polled by the CLI for its progress bar."""

    id: str
    root: str
    state: str = "running"  # running -> done | failed
    done: int = 0
    total: int = 0
    current: str = ""
    summary: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    started_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SearchService:
    """The daemon's code-search state: the embedder (loaded on first use), jobs, the watcher."""

    def __init__(self, db_path: Path, settings: SearchSettings, publish: Callable[[str, dict[str, Any]], None]):
        self.db_path = db_path
        self.settings = settings
        self.publish = publish
        self.jobs: dict[str, IndexJob] = {}
        self._running: dict[str, asyncio.Task[None]] = {}  # root -> its index task (one per root at a time)
        self._embedder_lock = threading.Lock()
        self._watch_task: asyncio.Task[None] | None = None
        self._watch_stop = asyncio.Event()
        self._roots_changed = asyncio.Event()
        # roots brought up to date since the daemon started (an index run, or the watcher's first pass)
        self._current: set[str] = set()

    # --- the embedder -------------------------------------------------------------------------------

    def embedder(self) -> tuple[Embedder | None, str | None]:
        """The configured embedder (loaded once; thread-safe), or ``(None, notice)``."""
        from mcpgw.search.embedder import load_embedder

        with self._embedder_lock:
            s = self.settings
            return load_embedder(
                s.embedder,
                model_dir=s.model_dir,
                ollama_model=s.ollama_model,
                openai_model=s.openai_model,
                max_tokens=s.max_tokens,
            )

    def reranker(self) -> tuple[Reranker | None, str | None]:
        """The cross-encoder (loaded once), or ``(None, notice)`` when it cannot be loaded."""
        from mcpgw.search.rerank import load_reranker

        with self._embedder_lock:
            reranker, notice = load_reranker(True)
        if notice:
            log.warning("%s", notice)
        return reranker, notice

    def _connect(self) -> sqlean.Connection:
        from mcpgw.store import connect_sync

        return connect_sync(self.db_path)

    # --- queries --------------------------------------------------------------------------------------

    async def query(self, root: Path, opts: SearchOptions) -> dict[str, Any]:
        return await asyncio.to_thread(self._query, root, opts)

    def _query(self, root: Path, opts: SearchOptions) -> dict[str, Any]:
        from mcpgw.search.index import find_indexed_root
        from mcpgw.search.query import search, validate

        validate(opts)
        conn = self._connect()
        try:
            root_id, root_path = find_indexed_root(conn, root)
            embedder, notice = (None, None) if opts.mode == "keyword" else self.embedder()
            wanted = self.settings.rerank if opts.rerank is None else opts.rerank
            reranker, missing = self.reranker() if opts.mode == "hybrid" and wanted else (None, None)
            result = search(conn, root_id, opts, embedder, notice=notice or missing, reranker=reranker)
        finally:
            conn.close()
        return {
            "root": str(root_path),
            "mode": result.mode,
            "notice": result.notice,
            "results": [h.as_dict() for h in result.hits],
            "below_threshold": result.below_threshold,
            "best_below_threshold": result.best_below,
        }

    async def stats(self, root: Path | None) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._stats, root)

    def _stats(self, root: Path | None) -> list[dict[str, Any]]:
        from mcpgw.search.index import find_indexed_root, root_stats

        conn = self._connect()
        try:
            if root is not None:
                return [root_stats(conn, find_indexed_root(conn, root)[0])]
            ids = [int(r[0]) for r in conn.execute("SELECT id FROM search_roots ORDER BY root_path")]
            return [root_stats(conn, i) for i in ids]
        finally:
            conn.close()

    # --- indexing ---------------------------------------------------------------------------------------

    def start_index(self, root: Path) -> IndexJob:
        """Start indexing ``root`` in the background (or return the run already going for it)."""
        key = str(root)
        for job in self.jobs.values():
            if job.root == key and job.state == "running":
                return job
        job = IndexJob(id=short_id(10), root=key)
        self.jobs[job.id] = job
        self._running[key] = asyncio.create_task(self._run_job(job), name=f"mcpgw-search-index-{job.id}")
        return job

    async def wait(self, job: IndexJob) -> IndexJob:
        task = self._running.get(job.root)
        if task is not None:
            await asyncio.shield(task)
        return job

    def job(self, job_id: str) -> IndexJob:
        try:
            return self.jobs[job_id]
        except KeyError as exc:
            raise NotFound(f"no index job {job_id}", fix="start one with `mcpgw search index`") from exc

    async def _run_job(self, job: IndexJob) -> None:
        from mcpgw.errors import MCPGWError

        try:
            summary = await asyncio.to_thread(self._index, Path(job.root), job)
            job.summary, job.state = summary, "done"
            self._current.add(job.root)
            self.publish("search.index.done", {"root": job.root, "summary": summary})
            self._roots_changed.set()
        except MCPGWError as exc:
            job.state = "failed"
            job.error = {"type": exc.type, "message": exc.message, "fix": exc.fix}
        finally:
            self._running.pop(job.root, None)
            self._forget_old_jobs()

    def _index(self, root: Path, job: IndexJob | None = None, only: list[str] | None = None) -> dict[str, Any]:
        from mcpgw.search.index import find_indexed_root, index_root

        embedder, notice = self.embedder()

        def progress(done: int, total: int, current: str) -> None:
            if job is not None:
                job.done, job.total, job.current = done, total, current

        conn = self._connect()
        try:
            summary = index_root(
                conn,
                root,
                embedder=embedder,
                max_file_bytes=self.settings.max_file_bytes,
                only=only,
                progress=progress,
                notice=notice,
            )
            if summary.indexed or summary.removed or summary.embedded:
                # the next query should not pay for applying this run to the root's in-memory vectors
                from mcpgw.search import vectors

                vectors.refresh(conn, find_indexed_root(conn, root)[0])
        finally:
            conn.close()
        return summary.as_dict()

    def _forget_old_jobs(self, keep: int = 50) -> None:
        finished = [j for j in self.jobs.values() if j.state != "running"]
        for old in sorted(finished, key=lambda j: j.started_at)[:-keep]:
            self.jobs.pop(old.id, None)

    # --- watching ---------------------------------------------------------------------------------------

    def start_watching(self) -> None:
        if self._watch_task is None:
            self._watch_task = asyncio.create_task(self._watch_loop(), name="mcpgw-search-watch")

    async def stop(self) -> None:
        self._watch_stop.set()
        self._roots_changed.set()
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
        for task in list(self._running.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _roots(self) -> list[Path]:
        from mcpgw.search.index import indexed_roots

        def read() -> list[str]:
            conn = self._connect()
            try:
                return indexed_roots(conn)
            finally:
                conn.close()

        return [p for p in map(Path, await asyncio.to_thread(read)) if p.is_dir()]

    async def _watch_loop(self) -> None:
        """Watch every indexed root; restart the watch when the set of roots changes."""
        import watchfiles

        while not self._watch_stop.is_set():
            self._roots_changed.clear()
            roots = await self._roots()
            if not roots:
                await self._roots_changed.wait()
                continue
            for root in roots:
                # edits made while no daemon watched (and files a newer chunker cuts differently): one
                # incremental pass per root and daemon, as a job of its own (the watch starts meanwhile)
                if str(root) not in self._current:
                    self._current.add(str(root))
                    self.start_index(root)
            stop = asyncio.Event()
            relay = asyncio.create_task(_relay(self._roots_changed, stop))
            try:
                async for changes in watchfiles.awatch(
                    *roots, stop_event=stop, debounce=WATCH_DEBOUNCE_MS, step=50, recursive=True
                ):
                    await self._reindex_changed(roots, {Path(p) for _, p in changes})
            except OSError as exc:
                log.warning("search watcher stopped: %s", exc)
                await asyncio.sleep(5)
            finally:
                relay.cancel()

    async def _reindex_changed(self, roots: list[Path], paths: set[Path]) -> None:
        import sqlean

        from mcpgw.errors import MCPGWError
        from mcpgw.search.walk import list_candidates

        by_root: dict[Path, list[str]] = {}
        for path in paths:
            root = max((r for r in roots if r in path.parents), key=lambda r: len(r.parts), default=None)
            if root is None:
                continue
            rel = path.relative_to(root).as_posix()
            if rel.startswith(".git/") or "/.git/" in rel:
                continue
            by_root.setdefault(root, []).append(rel)
        for root, rels in by_root.items():
            if str(root) in self._running:
                continue  # a full run is going; it sees the change (or the next edit will)
            candidates = set(await asyncio.to_thread(list_candidates, root))
            wanted = sorted(r for r in rels if r in candidates or not (root / r).exists())
            if not wanted:
                continue
            try:
                summary = await asyncio.to_thread(self._index, root, None, wanted)
            except (MCPGWError, OSError, sqlean.Error) as exc:  # the watcher outlives one failed file
                log.warning("re-index of %s in %s failed: %s", wanted, root, exc)
                continue
            self.publish("search.index.updated", {"root": str(root), "paths": wanted, "summary": summary})


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


def service(state: DaemonState) -> SearchService:
    """The daemon's search service, created on first use (routes work even without the start-up hook)."""
    svc = state.services.get("search")
    if svc is None:
        svc = SearchService(state.store.path, state.settings.search, state.events.publish)
        state.services["search"] = svc
    assert isinstance(svc, SearchService)
    return svc


async def start(state: DaemonState) -> Callable[[], Awaitable[None]]:
    """Daemon start-up hook: create the service and watch the indexed roots (``search.watch``)."""
    svc = service(state)
    if state.settings.search.watch:
        svc.start_watching()
    return svc.stop
