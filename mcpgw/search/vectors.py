"""Each indexed root's vectors held in memory, so a semantic query is a numpy product, not a vec0 scan.

A root is loaded on its first semantic query and kept (the few most recent roots). Before each use one
row of ``search_roots`` is read: when its ``generation`` moved (an index run or the watcher changed
chunks or vectors), only the difference is applied — chunk ids are never reused (m0008), so kept rows
stay valid and new ids are new chunks.

Up to ``EXACT_LIMIT`` rows a query is an exact float32 product. Above it the matrix is kept as int16 with a
scale per row (half the memory: ~77 MB at 100k × 384; cosines within 1e-5 of float32's, and an int16 row
becomes float32 three times faster than a float16 one) next to sign bits stored word-major, so the Hamming
pass (numpy popcount) that picks ``PREFILTER`` candidates to re-score runs over contiguous columns.
numpy is imported only when a root is loaded.
"""

from __future__ import annotations

import fnmatch
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import sqlean

EXACT_LIMIT = 30_000  # rows searched with an exact float32 product; above, bit prefilter + re-score
PREFILTER = 4000  # Hamming candidates re-scored exactly on large roots (at least 20 × the rows wanted)
KEEP_ROOTS = 4  # roots kept in memory per process
_BATCH = 900  # ids per IN (...) lookup


@dataclass
class RootVectors:
    """The vectors of one root, row-aligned with chunk ids, languages and paths (for filters)."""

    generation: int
    dim: int
    ids: npt.NDArray[np.int64]
    matrix: Any  # float32 (n, dim), or int16 above EXACT_LIMIT (times ``scale``)
    bits: Any  # uint64 (dim / 64, n) sign bits above EXACT_LIMIT, else None
    lang: npt.NDArray[np.int32]  # index into ``languages``
    path_idx: npt.NDArray[np.int32]  # index into ``paths``
    languages: list[str]
    paths: list[str]
    row_of: dict[int, int] = field(default_factory=dict)
    scale: Any = None  # float32 (n,) per-row factor of an int16 ``matrix``

    def __len__(self) -> int:
        return len(self.ids)

    def mask(self, languages: list[str], path_glob: str | None) -> npt.NDArray[np.bool_] | None:
        """Rows passing the filters (None when there are none)."""
        import numpy as np

        if not languages and not path_glob:
            return None
        keep = np.ones(len(self.ids), dtype=bool)
        if languages:
            codes = [i for i, name in enumerate(self.languages) if name in languages]
            keep &= np.isin(self.lang, np.asarray(codes, dtype=np.int32))
        if path_glob:
            ok = np.fromiter((fnmatch.fnmatchcase(p, path_glob) for p in self.paths), dtype=bool, count=len(self.paths))
            keep &= ok[self.path_idx] if len(self.paths) else keep
        return keep

    def nearest(self, qvec: Any, want: int, keep: npt.NDArray[np.bool_] | None = None) -> dict[int, float]:
        """chunk id -> cosine of the ``want`` most similar rows (among ``keep``)."""
        import numpy as np

        q = np.asarray(qvec, dtype=np.float32).reshape(-1)
        rows = np.arange(len(self.ids)) if keep is None else np.flatnonzero(keep)
        if not len(rows):
            return {}
        if self.bits is not None and len(rows) > max(PREFILTER, want * 20):
            qbits = np.packbits(q > 0).view(np.uint64)
            words = self.bits if keep is None else self.bits[:, rows]
            distance = np.bitwise_count(words[0] ^ qbits[0]).astype(np.uint16)
            for word, qword in zip(words[1:], qbits[1:], strict=True):
                distance += np.bitwise_count(word ^ qword)
            pool = max(PREFILTER, want * 20)
            rows = rows[np.argpartition(distance, pool)[:pool]]
        sims = self._scores(rows, q)
        if len(rows) > want:
            top = np.argpartition(-sims, want)[:want]
            rows, sims = rows[top], sims[top]
        return {int(i): float(s) for i, s in zip(self.ids[rows], sims, strict=True)}

    def cosines(self, qvec: Any, chunk_ids: list[int]) -> dict[int, float]:
        """Exact cosine for the given chunks (those without a vector are left out)."""
        import numpy as np

        pairs = [(c, self.row_of[c]) for c in chunk_ids if c in self.row_of]
        if not pairs:
            return {}
        rows = np.asarray([r for _, r in pairs], dtype=np.int64)
        sims = self._scores(rows, np.asarray(qvec, dtype=np.float32).reshape(-1))
        return {c: float(s) for (c, _), s in zip(pairs, sims, strict=True)}

    def _scores(self, rows: Any, q: Any) -> Any:
        import numpy as np

        if self.scale is not None:
            return (self.matrix[rows].astype(np.float32) @ q) * self.scale[rows]
        if len(rows) == len(self.ids):
            return self.matrix @ q
        return self.matrix[rows] @ q

    def dense(self) -> Any:
        """All rows as float32 (the matrix itself below ``EXACT_LIMIT``)."""
        import numpy as np

        if self.scale is None:
            return self.matrix
        return self.matrix.astype(np.float32) * self.scale[:, None]


_cache: OrderedDict[tuple[str, int, int], RootVectors] = OrderedDict()
_lock = threading.Lock()


def _db_key(conn: sqlean.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2])


def root_vectors(conn: sqlean.Connection, root_id: int, dim: int, generation: int) -> RootVectors:
    """The in-memory vectors of ``root_id``, loaded or brought up to date as needed."""
    key = (_db_key(conn), root_id, dim)
    with _lock:
        current = _cache.get(key)
        if current is None or current.generation != generation:
            current = _load(conn, root_id, dim, generation, current)
            _cache[key] = current
        _cache.move_to_end(key)
        while len(_cache) > KEEP_ROOTS:
            _cache.popitem(last=False)
        return current


def forget() -> None:
    """Drop every cached root (tests, memory pressure)."""
    with _lock:
        _cache.clear()


def _load(conn: sqlean.Connection, root_id: int, dim: int, generation: int, old: RootVectors | None) -> RootVectors:
    """Read chunk metadata; keep ``old``'s vectors for chunks still there, fetch the rest."""
    import numpy as np

    meta = conn.execute(
        "SELECT id, language, path FROM search_chunks WHERE root_id = ? ORDER BY id", (root_id,)
    ).fetchall()
    reuse = old if old is not None and old.dim == dim else None
    have: dict[int, Any] = {}
    if reuse is not None:
        f32 = reuse.dense()
        for chunk_id, row in reuse.row_of.items():
            have[chunk_id] = f32[row]
    need = [int(r[0]) for r in meta if int(r[0]) not in have]
    fetched = _fetch(conn, root_id, dim, need, whole=len(need) > len(meta) // 2)
    ids: list[int] = []
    vectors: list[Any] = []
    languages: dict[str, int] = {}
    paths: dict[str, int] = {}
    lang: list[int] = []
    path_idx: list[int] = []
    for r in meta:
        chunk_id = int(r[0])
        vec = have.get(chunk_id)
        if vec is None:
            vec = fetched.get(chunk_id)
        if vec is None:
            continue  # no vector yet (embedding pending); picked up at a later generation
        ids.append(chunk_id)
        vectors.append(vec)
        lang.append(languages.setdefault(r[1], len(languages)))
        path_idx.append(paths.setdefault(r[2], len(paths)))
    large = len(ids) > EXACT_LIMIT
    matrix: Any = np.vstack(vectors).astype(np.float32, copy=False) if vectors else np.zeros((0, dim), np.float32)
    bits = scale = None
    if large:
        if dim % 64 == 0:
            bits = np.ascontiguousarray(np.packbits(matrix > 0, axis=1).view(np.uint64).T)
        scale = (np.abs(matrix).max(axis=1) / 32767).astype(np.float32)
        scale[scale == 0] = 1.0  # an all-zero row stays zero
        matrix = np.round(matrix / scale[:, None]).astype(np.int16)
    id_array = np.asarray(ids, dtype=np.int64)
    return RootVectors(
        generation=generation,
        dim=dim,
        ids=id_array,
        matrix=matrix,
        bits=bits,
        scale=scale,
        lang=np.asarray(lang, dtype=np.int32),
        path_idx=np.asarray(path_idx, dtype=np.int32),
        languages=list(languages),
        paths=list(paths),
        row_of={c: i for i, c in enumerate(ids)},
    )


def _fetch(conn: sqlean.Connection, root_id: int, dim: int, chunk_ids: list[int], *, whole: bool) -> dict[int, Any]:
    """Vectors of ``chunk_ids``: one partition scan when most are needed, id lookups otherwise."""
    import numpy as np

    if not chunk_ids:
        return {}
    out: dict[int, Any] = {}
    if whole:
        wanted = set(chunk_ids)
        for r in conn.execute(f"SELECT chunk_id, embedding FROM search_vec_{dim} WHERE root_id = ?", (root_id,)):
            if int(r[0]) in wanted:
                out[int(r[0])] = np.frombuffer(r[1], dtype=np.float32)
        return out
    for lo in range(0, len(chunk_ids), _BATCH):
        part = chunk_ids[lo : lo + _BATCH]
        marks = ",".join("?" * len(part))
        for r in conn.execute(f"SELECT chunk_id, embedding FROM search_vec_{dim} WHERE chunk_id IN ({marks})", part):
            out[int(r[0])] = np.frombuffer(r[1], dtype=np.float32)
    return out
