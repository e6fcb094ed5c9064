"""Code search: indexed roots, their files and chunks, an identifier-aware FTS5 index and sqlite-vec tables.

``search_fts`` is contentless (the text lives in ``search_chunks``); its rowid is the chunk id. Its
columns hold pre-processed terms (identifiers split into words) written by ``mcpgw.search.index``.
Vectors live in one ``vec0`` table per embedding size (a vec0 column has a fixed dimension), partitioned
by root, cosine distance; a ``bit`` twin of each holds sign-quantised vectors for a fast first pass on
large roots. Deleting a chunk (directly or by cascade from its file or root) deletes its FTS row and
vectors through triggers, so no index can point at a chunk that is gone.
"""

from __future__ import annotations

from typing import Any

NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

# Embedding sizes with a vector table: MiniLM (384), nomic-embed-text (768), mxbai/bge-large (1024),
# text-embedding-3-small (1536).
VECTOR_DIMS = (384, 768, 1024, 1536)

SCHEMA = f"""
CREATE TABLE search_roots (
    id INTEGER PRIMARY KEY,
    project_id TEXT REFERENCES projects(id) ON DELETE SET NULL,
    root_path TEXT NOT NULL UNIQUE,
    embedder TEXT,
    dim INTEGER,
    last_summary TEXT NOT NULL DEFAULT '{{}}',
    indexed_at TEXT,
    created_at TEXT NOT NULL DEFAULT {NOW}
);

CREATE TABLE search_files (
    id INTEGER PRIMARY KEY,
    root_id INTEGER NOT NULL REFERENCES search_roots(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    language TEXT,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0,
    embedded INTEGER NOT NULL DEFAULT 0,
    indexed_at TEXT NOT NULL DEFAULT {NOW},
    UNIQUE (root_id, path)
);

CREATE TABLE search_chunks (
    id INTEGER PRIMARY KEY,
    root_id INTEGER NOT NULL REFERENCES search_roots(id) ON DELETE CASCADE,
    file_id INTEGER NOT NULL REFERENCES search_files(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    language TEXT NOT NULL,
    kind TEXT NOT NULL,
    symbols TEXT NOT NULL DEFAULT '',
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX idx_search_chunks_file ON search_chunks(file_id);
CREATE INDEX idx_search_chunks_root ON search_chunks(root_id, language);

CREATE VIRTUAL TABLE search_fts USING fts5(
    symbols, path, body, content='', contentless_delete=1, tokenize='porter unicode61'
);
"""


def _vector_tables(dim: int) -> str:
    return f"""
CREATE VIRTUAL TABLE search_vec_{dim} USING vec0(
    chunk_id INTEGER PRIMARY KEY, root_id INTEGER PARTITION KEY, embedding float[{dim}] distance_metric=cosine
);
CREATE VIRTUAL TABLE search_vbit_{dim} USING vec0(
    chunk_id INTEGER PRIMARY KEY, root_id INTEGER PARTITION KEY, embedding bit[{dim}]
);
"""


def _delete_trigger() -> str:
    vec_deletes = "".join(
        f"    DELETE FROM search_vec_{d} WHERE chunk_id = old.id;\n"
        f"    DELETE FROM search_vbit_{d} WHERE chunk_id = old.id;\n"
        for d in VECTOR_DIMS
    )
    return f"""
CREATE TRIGGER search_chunks_ad AFTER DELETE ON search_chunks BEGIN
    DELETE FROM search_fts WHERE rowid = old.id;
{vec_deletes}END;
"""


def up(db: Any) -> None:
    statements = SCHEMA + "".join(_vector_tables(d) for d in VECTOR_DIMS)
    for statement in statements.split(";\n"):
        if statement.strip():
            db.execute(statement)
    db.execute(_delete_trigger())
