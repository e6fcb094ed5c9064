"""Exact-match response cache: the key is a hash of the normalised request (messages, OpenAI parameters,
task, quality, layer/model pins); entries expire after a TTL. Entries are held in memory (bounded, LRU) and
persisted through the store's write-behind queue, so a hit or a miss costs no database round trip."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from mcpgw.store import Store

log = logging.getLogger(__name__)
# OpenAI parameters that change the answer (stream and stream_options only change its framing).
_IGNORED = frozenset({"stream", "stream_options", "user", "metadata", "store", "n"})


@dataclass
class CacheEntry:
    key: str
    response: dict[str, Any]
    provider: str
    model: str
    layer: str | None
    input_tokens: int
    output_tokens: int
    cost: float
    created_at: float
    expires_at: float
    hits: int = 0


def cache_key(
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    *,
    task_type: str,
    quality: str,
    layer: str | None,
    model: str | None,
    project_id: str | None,
    budget_usd: float | None = None,
) -> str:
    """The key of a request. A request that sets its own budget is cached apart: ``--budget`` asks for a
    fresh answer within that budget, and a tiny budget must refuse a paid model, not replay an old answer."""
    normalised = {
        "m": messages,
        "p": {k: v for k, v in sorted(params.items()) if k not in _IGNORED and v is not None},
        "t": task_type,
        "q": quality,
        "l": layer,
        "model": model,
        "proj": project_id,
        "budget": budget_usd,
    }
    return hashlib.sha256(orjson.dumps(normalised, option=orjson.OPT_SORT_KEYS)).hexdigest()


class RemoteCache(Protocol):
    """A cache shared by several daemons; failures are its own business (it answers None, fails open)."""

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def set(self, key: str, value: dict[str, Any], ttl_s: float) -> None: ...

    async def delete(self, key: str) -> None: ...


def _entry_from(data: dict[str, Any]) -> CacheEntry | None:
    """A remote entry, or None when it does not have the shape of one."""
    try:
        entry = CacheEntry(**{f.name: data[f.name] for f in dataclasses.fields(CacheEntry) if f.name != "hits"})
    except (KeyError, TypeError):
        return None
    return entry if isinstance(entry.response, dict) and isinstance(entry.expires_at, int | float) else None


class ResponseCache:
    def __init__(self, store: Store, *, ttl_s: int, max_entries: int) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.remote: RemoteCache | None = None
        self.remote_hits = 0
        self._remote_tasks: set[asyncio.Task[None]] = set()

    async def load(self) -> None:
        now = time.time()
        await self.store.write("DELETE FROM response_cache WHERE expires_at <= ?", (now,))
        rows = await self.store.read(
            "SELECT key, response, provider, model, layer, input_tokens, output_tokens, cost, hits, created_at, "
            "expires_at FROM response_cache ORDER BY created_at DESC LIMIT ?",
            (self.max_entries,),
        )
        for row in reversed(rows):
            self._entries[row[0]] = CacheEntry(
                row[0], orjson.loads(row[1]), row[2], row[3], row[4], row[5], row[6], row[7], row[9], row[10], row[8]
            )

    def _fresh(self, key: str) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= time.time():
            self._entries.pop(key, None)
            self.store.enqueue("DELETE FROM response_cache WHERE key = ?", (key,))
            return None
        return entry

    def _hit(self, entry: CacheEntry) -> CacheEntry:
        self._entries.move_to_end(entry.key)
        entry.hits += 1
        self.hits += 1
        self.store.enqueue("UPDATE response_cache SET hits = hits + 1 WHERE key = ?", (entry.key,))
        return entry

    def get(self, key: str) -> CacheEntry | None:
        """The local entry for ``key``, if fresh."""
        entry = self._fresh(key)
        if entry is None:
            self.misses += 1
            return None
        return self._hit(entry)

    async def lookup(self, key: str) -> CacheEntry | None:
        """Like :meth:`get`, then the remote level on a local miss (a remote hit is kept locally too)."""
        entry = self._fresh(key)
        if entry is None and self.remote is not None:
            data = await self.remote.get(key)
            found = _entry_from(data) if data is not None else None
            if found is not None and found.key == key and found.expires_at > time.time():
                self._keep(found)
                self.remote_hits += 1
                entry = found
        if entry is None:
            self.misses += 1
            return None
        return self._hit(entry)

    def put(self, entry: CacheEntry) -> None:
        if self.max_entries <= 0 or self.ttl_s <= 0:
            return
        self._keep(entry)
        if self.remote is not None and not entry.key.startswith("kv:"):
            value = dataclasses.asdict(entry)
            value.pop("hits")
            self._background(self.remote.set(entry.key, value, entry.expires_at - time.time()))

    def _background(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._remote_tasks.add(task)
        task.add_done_callback(self._remote_tasks.discard)

    async def drain_remote(self) -> None:
        """Wait for the remote writes in flight."""
        while self._remote_tasks:
            await asyncio.gather(*list(self._remote_tasks))

    def _keep(self, entry: CacheEntry) -> None:
        """Hold ``entry`` in memory and persist it locally."""
        self._entries[entry.key] = entry
        self._entries.move_to_end(entry.key)
        self.store.enqueue(
            "INSERT OR REPLACE INTO response_cache (key, response, provider, model, layer, input_tokens, "
            "output_tokens, cost, hits, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.key,
                orjson.dumps(entry.response).decode(),
                entry.provider,
                entry.model,
                entry.layer,
                entry.input_tokens,
                entry.output_tokens,
                entry.cost,
                entry.hits,
                entry.created_at,
                entry.expires_at,
            ),
        )
        while len(self._entries) > self.max_entries:
            old, _ = self._entries.popitem(last=False)
            self.store.enqueue("DELETE FROM response_cache WHERE key = ?", (old,))

    def delete(self, key: str) -> bool:
        """Forget ``key`` here and, in team mode, in the shared cache (someone judged the answer bad)."""
        found = self._entries.pop(key, None) is not None
        self.store.enqueue("DELETE FROM response_cache WHERE key = ?", (key,))
        if self.remote is not None:
            self._background(self.remote.delete(key))
        return found

    def clear(self) -> int:
        """Forget every local entry; the team's shared cache is left alone (it is not this user's to wipe)."""
        count = len(self._entries)
        self._entries.clear()
        self.store.enqueue("DELETE FROM response_cache", ())
        return count

    def stats(self) -> dict[str, Any]:
        total = self.hits + self.misses
        return {
            "entries": len(self._entries),
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": round(self.hits / total, 4) if total else 0.0,
            "saved_usd": round(sum(e.cost * e.hits for e in self._entries.values()), 6),
            "ttl_s": self.ttl_s,
            "max_entries": self.max_entries,
            "remote": self.remote is not None,
            "remote_hits": self.remote_hits,
        }

    # Generic key/value use by MCP cache tools: stored as entries with provider "mcp".
    def set_value(self, key: str, value: Any, ttl_s: int | None = None) -> None:
        now = time.time()
        self.put(
            CacheEntry(f"kv:{key}", {"value": value}, "mcp", "-", None, 0, 0, 0.0, now, now + (ttl_s or self.ttl_s))
        )

    def get_value(self, key: str) -> tuple[bool, Any]:
        entry = self._entries.get(f"kv:{key}")
        if entry is None or entry.expires_at <= time.time():
            return False, None
        return True, entry.response.get("value")
