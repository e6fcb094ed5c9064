"""Knowledge packs (documents split into sections, FTS5 over title + content, optional float32 vectors) and
what work profiles need beyond m0001's ``session_profiles``: a type and summary, names unique per project
(not globally), conversations linked to a profile, and the active profile of each project.

``knowledge_documents`` holds one row per *section* of a file; ``file_hash`` (sha256 of the whole file)
makes a rebuild skip unchanged files. ``knowledge_packs.embedder`` names the model whose vectors are in
``knowledge_documents.embedding`` (NULL: keyword retrieval only).
"""

from __future__ import annotations

from typing import Any

NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

_SCHEMA = f"""
CREATE TABLE knowledge_packs (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    root_path TEXT NOT NULL,
    include TEXT NOT NULL DEFAULT '[]',
    summary TEXT,
    embedder TEXT,
    created_at TEXT NOT NULL DEFAULT {NOW},
    updated_at TEXT NOT NULL DEFAULT {NOW},
    UNIQUE (project_id, name)
);
CREATE TABLE knowledge_documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pack_id TEXT NOT NULL REFERENCES knowledge_packs(id) ON DELETE CASCADE,
    doc_type TEXT NOT NULL CHECK (doc_type IN ('readme', 'adr', 'architecture', 'api', 'guide')),
    path TEXT NOT NULL,
    section INTEGER NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{{}}',
    embedding BLOB,
    created_at TEXT NOT NULL DEFAULT {NOW}
);
CREATE INDEX idx_kdocs_pack_path ON knowledge_documents(pack_id, path, section);
CREATE VIRTUAL TABLE knowledge_fts USING fts5(
    title, content, content='knowledge_documents', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER knowledge_fts_ai AFTER INSERT ON knowledge_documents BEGIN
    INSERT INTO knowledge_fts (rowid, title, content) VALUES (new.id, new.title, new.content);
END;
CREATE TRIGGER knowledge_fts_ad AFTER DELETE ON knowledge_documents BEGIN
    INSERT INTO knowledge_fts (knowledge_fts, rowid, title, content) VALUES ('delete', old.id, old.title, old.content);
END;
CREATE TRIGGER knowledge_fts_au AFTER UPDATE OF title, content ON knowledge_documents BEGIN
    INSERT INTO knowledge_fts (knowledge_fts, rowid, title, content) VALUES ('delete', old.id, old.title, old.content);
    INSERT INTO knowledge_fts (rowid, title, content) VALUES (new.id, new.title, new.content);
END;

CREATE TABLE session_profiles_v2 (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    project_id TEXT,
    user_id TEXT,
    type TEXT NOT NULL DEFAULT 'feature'
        CHECK (type IN ('refactor', 'debug', 'feature', 'review', 'planning')),
    summary TEXT NOT NULL DEFAULT '',
    goals TEXT NOT NULL DEFAULT '[]',
    files_in_scope TEXT NOT NULL DEFAULT '[]',
    context TEXT NOT NULL DEFAULT '{{}}',
    status TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL DEFAULT {NOW},
    updated_at TEXT NOT NULL DEFAULT {NOW},
    last_active_at TEXT NOT NULL DEFAULT {NOW},
    UNIQUE (project_id, name)
);
INSERT INTO session_profiles_v2
    (id, name, project_id, user_id, goals, files_in_scope, context, status, created_at, updated_at, last_active_at)
    SELECT id, name, project_id, user_id, goals, files_in_scope, context, status, created_at, updated_at,
           last_active_at
    FROM session_profiles;
DROP TABLE session_profiles;
ALTER TABLE session_profiles_v2 RENAME TO session_profiles;
CREATE INDEX idx_profiles_project ON session_profiles(project_id, last_active_at DESC);

CREATE TABLE active_profiles (
    project_id TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL REFERENCES session_profiles(id) ON DELETE CASCADE,
    activated_at TEXT NOT NULL DEFAULT {NOW}
);

ALTER TABLE conversations ADD COLUMN profile_id TEXT;
CREATE INDEX idx_conv_profile ON conversations(profile_id);
"""


def _statements(script: str) -> list[str]:
    """Split on ``;`` at line ends, keeping trigger bodies (``BEGIN … END;``) whole."""
    out: list[str] = []
    current: list[str] = []
    depth = 0
    for line in script.splitlines():
        if not line.strip():
            continue
        current.append(line)
        word = line.strip().upper()
        if word.endswith(" BEGIN"):
            depth += 1
        elif word == "END;":
            depth -= 1
        if line.rstrip().endswith(";") and depth == 0:
            out.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    return out


def up(db: Any) -> None:
    for statement in _statements(_SCHEMA):
        db.execute(statement)
