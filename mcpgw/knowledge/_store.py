"""The SQL of knowledge packs: statements for a build, listings, keyword hits, sections by id.

Functions here take a connection (they run on the store's database thread via ``Store.run``) or return
``(sql, params)`` statements for ``Store.write_many``, so one build is one transaction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mcpgw.knowledge._docs import DocFile

Statement = tuple[str, tuple[Any, ...]]

_WORD = re.compile(r"[A-Za-z0-9_]{2,}")
_STOP_TEXT = """a an and are as at be but by can could do does for from has have how i if in into is it its me my of on
    or our please should so that the their them then there these this to us was we what when where which who
    why will with would you your about after all also any been before being both did each few get got here
    just more most much no not now only other out over same some such than too very via want need make use
    tell show explain give hi hello thanks thank"""
STOPWORDS = frozenset(_STOP_TEXT.split())


@dataclass(frozen=True)
class Hit:
    """One retrieved section."""

    id: int
    pack: str
    doc_type: str
    path: str
    title: str
    content: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "pack": self.pack, "doc_type": self.doc_type, "path": self.path,
            "title": self.title, "content": self.content, "score": round(self.score, 6),
        }  # fmt: skip


def query_terms(text: str, limit: int = 24) -> list[str]:
    """Distinct content words of ``text`` (lower-case, no stop words), in order of appearance."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in STOPWORDS and not word.isdigit():
            seen.setdefault(word, None)
    return list(seen)[:limit]


def fts_query(terms: list[str]) -> str:
    """An FTS5 OR-query of quoted terms (quoting keeps FTS5 syntax characters inert)."""
    return " OR ".join(f'"{t}"' for t in terms)


def pack_row(conn: Any, project_id: str, name: str) -> Any:
    return conn.execute(
        "SELECT * FROM knowledge_packs WHERE project_id = ? AND name = ?", (project_id, name)
    ).fetchone()


def file_hashes(conn: Any, pack_id: str) -> dict[str, str]:
    """Path → content hash of the files a pack holds."""
    rows = conn.execute(
        "SELECT path, file_hash FROM knowledge_documents WHERE pack_id = ? GROUP BY path", (pack_id,)
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def doc_statements(pack_id: str, doc: DocFile, vectors: list[bytes] | None) -> list[Statement]:
    """Replace one file's sections in a pack."""
    out: list[Statement] = [("DELETE FROM knowledge_documents WHERE pack_id = ? AND path = ?", (pack_id, doc.path))]
    metadata = json.dumps({"filePath": doc.path, "lastModified": doc.modified, "docTitle": doc.title})
    for i, section in enumerate(doc.sections):
        out.append(
            (
                "INSERT INTO knowledge_documents (pack_id, doc_type, path, section, title, content, file_hash, "
                "metadata, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pack_id,
                    doc.doc_type,
                    doc.path,
                    i,
                    section.title,
                    section.content,
                    doc.file_hash,
                    metadata,
                    vectors[i] if vectors is not None else None,
                ),
            )
        )
    return out


def pack_summary(conn: Any, pack_id: str) -> str:
    """A summary made from the pack itself (no model call): counts by type and the document titles."""
    rows = conn.execute(
        "SELECT doc_type, path, json_extract(metadata, '$.docTitle') FROM knowledge_documents "
        "WHERE pack_id = ? AND section = 0 ORDER BY doc_type, path",
        (pack_id,),
    ).fetchall()
    if not rows:
        return "empty"
    counts: dict[str, int] = {}
    for r in rows:
        counts[r[0]] = counts.get(r[0], 0) + 1
    head = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
    titles = "; ".join(f"{r[2] or r[1]}" for r in rows[:12])
    more = f"; … {len(rows) - 12} more" if len(rows) > 12 else ""
    return f"{len(rows)} documents ({head}): {titles}{more}"


def list_packs(conn: Any, project_id: str | None) -> list[dict[str, Any]]:
    where, params = ("WHERE p.project_id = ?", (project_id,)) if project_id else ("", ())
    rows = conn.execute(
        "SELECT p.*, COUNT(DISTINCT d.path) AS documents, COUNT(d.id) AS sections, "
        "COUNT(d.embedding) AS vectors FROM knowledge_packs p "
        f"LEFT JOIN knowledge_documents d ON d.pack_id = p.id {where} GROUP BY p.id ORDER BY p.name",
        params,
    ).fetchall()
    return [pack_dict(r) for r in rows]


def pack_dict(row: Any) -> dict[str, Any]:
    keys = row.keys()
    return {
        "id": row["id"], "project_id": row["project_id"], "name": row["name"], "description": row["description"],
        "root": row["root_path"], "include": json.loads(row["include"]), "summary": row["summary"],
        "embedder": row["embedder"], "created_at": row["created_at"], "updated_at": row["updated_at"],
        **{k: row[k] for k in ("documents", "sections", "vectors") if k in keys},
    }  # fmt: skip


def project_packs(conn: Any, project_id: str) -> list[tuple[str, str, str | None]]:
    """``(id, name, embedder)`` of a project's packs that hold at least one section."""
    rows = conn.execute(
        "SELECT id, name, embedder FROM knowledge_packs p WHERE project_id = ? "
        "AND EXISTS (SELECT 1 FROM knowledge_documents d WHERE d.pack_id = p.id)",
        (project_id,),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def keyword_hits(conn: Any, pack_ids: list[str], terms: list[str], limit: int) -> list[tuple[int, float]]:
    """Section ids and BM25 scores (higher is better; titles weigh 4x) for any of ``terms``."""
    if not terms or not pack_ids:
        return []
    marks = ", ".join("?" for _ in pack_ids)
    rows = conn.execute(
        "SELECT d.id, -bm25(knowledge_fts, 4.0, 1.0) FROM knowledge_fts JOIN knowledge_documents d "
        f"ON d.id = knowledge_fts.rowid WHERE knowledge_fts MATCH ? AND d.pack_id IN ({marks}) "
        "ORDER BY bm25(knowledge_fts, 4.0, 1.0) LIMIT ?",
        (fts_query(terms), *pack_ids, limit),
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def vectors_of(conn: Any, pack_ids: list[str]) -> tuple[list[int], list[bytes]]:
    """Section ids and their float32 vectors (as stored) for the packs."""
    marks = ", ".join("?" for _ in pack_ids)
    rows = conn.execute(
        f"SELECT id, embedding FROM knowledge_documents WHERE pack_id IN ({marks}) AND embedding IS NOT NULL "
        "ORDER BY id",
        tuple(pack_ids),
    ).fetchall()
    return [int(r[0]) for r in rows], [bytes(r[1]) for r in rows]


def sections_by_id(conn: Any, scored: list[tuple[int, float]]) -> list[Hit]:
    """The sections for ``(id, score)`` pairs, in the given order."""
    if not scored:
        return []
    marks = ", ".join("?" for _ in scored)
    rows = conn.execute(
        "SELECT d.id, p.name, d.doc_type, d.path, d.title, d.content FROM knowledge_documents d "
        f"JOIN knowledge_packs p ON p.id = d.pack_id WHERE d.id IN ({marks})",
        tuple(i for i, _ in scored),
    ).fetchall()
    by_id = {int(r[0]): r for r in rows}
    return [Hit(i, r[1], r[2], r[3], r[4], r[5], score) for i, score in scored if (r := by_id.get(i)) is not None]
