"""Exact-match response cache: the key is a hash of the normalised request (messages, OpenAI parameters,
task, quality, layer/model pins); entries expire after a TTL. Entries are held in memory (bounded, LRU) and
persisted through the store's write-behind queue, so a hit or a miss costs no database round trip."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from mcpgw.store import Store

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


class ResponseCache:
    def __init__(self, store: Store, *, ttl_s: int, max_entries: int) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self.hits = 0
        self.misses = 0

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

    def get(self, key: str) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if entry.expires_at <= time.time():
            self.delete(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        entry.hits += 1
        self.hits += 1
        self.store.enqueue("UPDATE response_cache SET hits = hits + 1 WHERE key = ?", (key,))
        return entry

    def put(self, entry: CacheEntry) -> None:
        if self.max_entries <= 0 or self.ttl_s <= 0:
            return
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
        found = self._entries.pop(key, None) is not None
        self.store.enqueue("DELETE FROM response_cache WHERE key = ?", (key,))
        return found

    def clear(self) -> int:
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
