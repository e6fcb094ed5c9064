"""Each indexed root's vectors held in memory, so a semantic query is a numpy product, not a vec0 scan.

A root is loaded on its first semantic query and kept (the few most recent roots). Before each use one
row of ``search_roots`` is read: when its ``generation`` moved (an index run or the watcher changed
chunks or vectors), only the difference is applied, with array operations — chunk ids are never reused
(m0008), so kept rows stay valid and new ids are new chunks; a change of embedder reloads everything. The
daemon applies it right after each index run (:func:`refresh`), so a query after an edit finds the
vectors current. A first load reads vec0's blocks of vectors directly when their layout is the known one.

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
    from collections.abc import Iterator

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
    embedder: str  # the index name of the model that made them
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


_cache: OrderedDict[tuple[str, int], RootVectors] = OrderedDict()
_lock = threading.Lock()


def _db_key(conn: sqlean.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2])


def root_vectors(conn: sqlean.Connection, root_id: int, dim: int, generation: int, embedder: str) -> RootVectors:
    """The in-memory vectors of ``root_id`` (made by ``embedder``), loaded or brought up to date as needed."""
    key = (_db_key(conn), root_id)
    with _lock:
        current = _cache.get(key)
        if current is None or (current.generation, current.dim, current.embedder) != (generation, dim, embedder):
            own = not conn.in_transaction  # one snapshot: the chunk list, vectors and paths agree
            if own:
                conn.execute("BEGIN")
            try:
                current = _load(conn, root_id, dim, generation, embedder, current)
            finally:
                if own:
                    conn.execute("COMMIT")
            _cache[key] = current
        _cache.move_to_end(key)
        while len(_cache) > KEEP_ROOTS:
            _cache.popitem(last=False)
        return current


def refresh(conn: sqlean.Connection, root_id: int) -> bool:
    """Bring ``root_id``'s vectors up to date if they are held in memory (the daemon calls this after each
    index run, so the next query finds them current). True when they were."""
    if held(conn, root_id) is None:
        return False
    row = conn.execute("SELECT embedder, dim, generation FROM search_roots WHERE id = ?", (root_id,)).fetchone()
    if row is None or not row[0] or not row[1]:
        return False
    root_vectors(conn, root_id, int(row[1]), int(row[2]), str(row[0]))
    return True


def held(conn: sqlean.Connection, root_id: int) -> RootVectors | None:
    """``root_id``'s vectors if they are in memory (as they were last brought up to date), else None."""
    with _lock:
        return _cache.get((_db_key(conn), root_id))


def forget() -> None:
    """Drop every cached root (tests, memory pressure)."""
    with _lock:
        _cache.clear()


def _load(
    conn: sqlean.Connection, root_id: int, dim: int, generation: int, embedder: str, old: RootVectors | None
) -> RootVectors:
    """Read the root's vectors; with ``old`` (the same embedder's), keep its rows for chunks still there
    and read only the new ones: chunk ids are never reused, so a kept id still has the same vector."""
    import numpy as np

    current = np.fromiter(
        (r[0] for r in conn.execute("SELECT id FROM search_chunks WHERE root_id = ? ORDER BY id", (root_id,))),
        dtype=np.int64,
    )
    reuse = old if old is not None and old.dim == dim and old.embedder == embedder and len(old.ids) else None
    if reuse is not None:
        kept = np.flatnonzero(np.isin(reuse.ids, current, assume_unique=True))
        wanted = np.setdiff1d(current, reuse.ids[kept], assume_unique=True)
    else:
        kept, wanted = np.zeros(0, dtype=np.int64), current
    new_ids, new_rows = _fetch(conn, root_id, dim, wanted, whole=len(wanted) > len(current) // 2)
    languages = list(reuse.languages) if reuse is not None else []
    paths = list(reuse.paths) if reuse is not None else []
    new_lang, new_path = _codes(conn, root_id, new_ids, languages, paths, whole=reuse is None)
    ids = np.concatenate([reuse.ids[kept], new_ids]) if reuse is not None else new_ids
    lang = np.concatenate([reuse.lang[kept], new_lang]) if reuse is not None else new_lang
    path_idx = np.concatenate([reuse.path_idx[kept], new_path]) if reuse is not None else new_path
    matrix, bits, scale = _rows(reuse, kept, new_rows, dim, large=len(ids) > EXACT_LIMIT)
    return RootVectors(
        generation=generation,
        dim=dim,
        embedder=embedder,
        ids=ids,
        matrix=matrix,
        bits=bits,
        scale=scale,
        lang=lang,
        path_idx=path_idx,
        languages=languages,
        paths=paths,
        row_of=dict(zip(ids.tolist(), range(len(ids)), strict=True)),
    )


def _rows(reuse: RootVectors | None, kept: Any, new_rows: Any, dim: int, *, large: bool) -> tuple[Any, Any, Any]:
    """(matrix, bits, scale) of the kept rows of ``reuse`` followed by ``new_rows`` (float32). A large
    root's int16 rows and sign bits are carried over as they are; only new rows are quantised."""
    import numpy as np

    if not large:
        old = reuse.dense()[kept] if reuse is not None else np.zeros((0, dim), np.float32)
        return np.concatenate([old, new_rows]).astype(np.float32, copy=False), None, None
    if reuse is not None and reuse.scale is not None:
        old_matrix, old_scale = reuse.matrix[kept], reuse.scale[kept]
        old_bits = reuse.bits[:, kept] if reuse.bits is not None else None
    else:
        old_f32 = reuse.dense()[kept] if reuse is not None else np.zeros((0, dim), np.float32)
        old_matrix, old_scale = _quantise(old_f32)
        old_bits = _sign_bits(old_f32)
    new_matrix, new_scale = _quantise(new_rows)
    new_bits = _sign_bits(new_rows)
    bits = None
    if old_bits is not None and new_bits is not None:
        bits = np.ascontiguousarray(np.concatenate([old_bits, new_bits], axis=1))
    return np.concatenate([old_matrix, new_matrix]), bits, np.concatenate([old_scale, new_scale])


def _quantise(rows: Any) -> tuple[Any, Any]:
    """int16 rows and the float32 factor of each (an all-zero row stays zero)."""
    import numpy as np

    if not len(rows):
        return np.zeros(rows.shape, dtype=np.int16), np.zeros(0, dtype=np.float32)
    scale = (np.maximum(rows.max(axis=1), -rows.min(axis=1)) / 32767).astype(np.float32)
    scale[scale <= 0] = 1.0
    scaled = np.multiply(rows, (1.0 / scale)[:, None], dtype=np.float32)
    return np.rint(scaled, out=scaled).astype(np.int16), scale


def _sign_bits(rows: Any) -> Any:
    """Sign bits word-major, (dim / 64, n) uint64; None when ``dim`` is not a multiple of 64."""
    import numpy as np

    if rows.shape[1] % 64:
        return None
    return np.ascontiguousarray(np.packbits(rows > 0, axis=1).view(np.uint64).T)


def _codes(
    conn: sqlean.Connection, root_id: int, ids: Any, languages: list[str], paths: list[str], *, whole: bool
) -> tuple[Any, Any]:
    """Language and path codes of ``ids`` (indexes into ``languages`` and ``paths``, extended in place)."""
    import numpy as np

    lang_code = {name: i for i, name in enumerate(languages)}
    path_code = {name: i for i, name in enumerate(paths)}
    found: dict[int, tuple[int, int]] = {}
    if whole:
        rows: Any = conn.execute("SELECT id, language, path FROM search_chunks WHERE root_id = ?", (root_id,))
    else:
        rows = _batched(conn, "SELECT id, language, path FROM search_chunks WHERE id IN ({})", ids.tolist())
    for chunk_id, language, path in rows:
        code = lang_code.get(language)
        if code is None:
            code = lang_code[language] = len(languages)
            languages.append(language)
        pcode = path_code.get(path)
        if pcode is None:
            pcode = path_code[path] = len(paths)
            paths.append(path)
        found[chunk_id] = (code, pcode)
    pairs = np.asarray([found[c] for c in ids.tolist()], dtype=np.int32).reshape(-1, 2)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def _batched(conn: sqlean.Connection, sql: str, ids: list[int]) -> Iterator[Any]:
    for lo in range(0, len(ids), _BATCH):
        part = ids[lo : lo + _BATCH]
        yield from conn.execute(sql.format(",".join("?" * len(part))), part)


def _fetch(conn: sqlean.Connection, root_id: int, dim: int, wanted: Any, *, whole: bool) -> tuple[Any, Any]:
    """(ids, float32 rows) of those ``wanted`` chunks that have a vector, in ``wanted``'s order: a read of
    the whole root when most are wanted, id lookups otherwise."""
    import numpy as np

    if not len(wanted):
        return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
    if whole:
        ids, rows = _scan(conn, root_id, dim)
        order = np.argsort(ids, kind="stable")
        ids, rows = ids[order], rows[order]
        pick = np.isin(ids, wanted, assume_unique=True)
        return ids[pick], rows[pick]
    found: dict[int, bytes] = {}
    for chunk_id, blob in _batched(
        conn, f"SELECT chunk_id, embedding FROM search_vec_{dim} WHERE chunk_id IN ({{}})", wanted.tolist()
    ):
        found[int(chunk_id)] = blob
    ids = np.asarray([c for c in wanted.tolist() if c in found], dtype=np.int64)
    return ids, _matrix([found[c] for c in ids.tolist()], dim)


def _matrix(blobs: list[bytes], dim: int) -> Any:
    import numpy as np

    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)


def _scan(conn: sqlean.Connection, root_id: int, dim: int) -> tuple[Any, Any]:
    """Every (id, vector) of the root: straight from vec0's storage when its layout is the one known
    (rows in blocks of up to a thousand, ~10x faster than vec0's row-by-row scan), else through vec0."""
    import numpy as np

    blocks = _blocks(conn, root_id, dim)
    if blocks is not None:
        return blocks
    ids: list[int] = []
    blobs: list[bytes] = []
    for chunk_id, blob in conn.execute(
        f"SELECT chunk_id, embedding FROM search_vec_{dim} WHERE root_id = ?", (root_id,)
    ):
        ids.append(int(chunk_id))
        blobs.append(blob)
    return np.asarray(ids, dtype=np.int64), _matrix(blobs, dim)


# sqlite-vec 0.1.x keeps a vec0 table's rows in blocks: ``<table>_chunks`` holds each block's capacity,
# partition key, validity bitmap (a bit per slot, least significant first) and int64 row ids;
# ``<table>_vector_chunks00`` the block's float32 vectors, slot after slot.
_BLOCK_COLUMNS = ["chunk_id", "size", "sequence_id", "partition00", "validity", "rowids"]


def _blocks(conn: sqlean.Connection, root_id: int, dim: int) -> tuple[Any, Any] | None:
    """The root's vectors read block by block from vec0's shadow tables; None when their layout is not
    the known one or a spot check against vec0 itself disagrees (then the caller asks vec0)."""
    import numpy as np

    table = f"search_vec_{dim}"
    columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table}_chunks)")]
    vector_columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table}_vector_chunks00)")]
    if columns != _BLOCK_COLUMNS or vector_columns != ["rowid", "vectors"]:
        return None
    ids: list[Any] = []
    rows: list[Any] = []
    for size, validity, rowids, vectors in conn.execute(
        f"SELECT b.size, b.validity, b.rowids, v.vectors FROM {table}_chunks b "
        f"JOIN {table}_vector_chunks00 v ON v.rowid = b.chunk_id WHERE b.partition00 = ?",
        (root_id,),
    ):
        if len(validity) * 8 < size or len(rowids) != size * 8 or len(vectors) != size * dim * 4:
            return None
        live = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")[:size].astype(bool)
        ids.append(np.frombuffer(rowids, dtype=np.int64)[live])
        rows.append(np.frombuffer(vectors, dtype=np.float32).reshape(size, dim)[live])
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
    all_ids, all_rows = np.concatenate(ids), np.concatenate(rows)
    for row in {0, len(all_ids) // 2, len(all_ids) - 1}:  # spot check: the same vector through vec0
        blob = conn.execute(f"SELECT embedding FROM {table} WHERE chunk_id = ?", (int(all_ids[row]),)).fetchone()
        if blob is None or blob[0] != all_rows[row].tobytes():
            return None
    return all_ids, all_rows
