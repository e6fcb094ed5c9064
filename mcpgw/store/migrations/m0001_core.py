"""The original schema's core tables, with tenancy columns (project_id, user_id) from the start.

Times are ISO-8601 UTC text (``2026-11-25T10:30:00.123Z``): sortable, readable, json1-friendly.
Ids are time-sortable (UUIDv7-style hex). JSON columns are TEXT.
"""

from __future__ import annotations

from typing import Any

NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

SCHEMA = f"""
CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{{}}',
    created_at TEXT NOT NULL DEFAULT {NOW}
);
INSERT INTO organizations (id, name) VALUES ('default-org', 'Default organization');

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL DEFAULT 'default-org' REFERENCES organizations(id),
    name TEXT NOT NULL,
    root_path TEXT UNIQUE,
    config TEXT NOT NULL DEFAULT '{{}}',
    created_at TEXT NOT NULL DEFAULT {NOW},
    updated_at TEXT NOT NULL DEFAULT {NOW}
);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    project_id TEXT,
    user_id TEXT,
    title TEXT,
    metadata TEXT NOT NULL DEFAULT '{{}}',
    created_at TEXT NOT NULL DEFAULT {NOW},
    updated_at TEXT NOT NULL DEFAULT {NOW}
);
CREATE INDEX idx_conv_project ON conversations(project_id);
CREATE INDEX idx_conv_updated ON conversations(updated_at DESC);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    project_id TEXT,
    user_id TEXT,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content TEXT NOT NULL,
    model TEXT,
    tokens INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{{}}',
    created_at TEXT NOT NULL DEFAULT {NOW}
);
CREATE INDEX idx_messages_conv ON messages(conversation_id, id);

CREATE TABLE context_summaries (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    project_id TEXT,
    user_id TEXT,
    summary TEXT NOT NULL,
    covers_until TEXT,
    tokens INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT {NOW}
);
CREATE INDEX idx_summaries_conv ON context_summaries(conversation_id, created_at);

CREATE TABLE request_traces (
    id TEXT PRIMARY KEY,
    conversation_id TEXT,
    project_id TEXT,
    user_id TEXT,
    request_type TEXT NOT NULL,
    request_payload TEXT NOT NULL DEFAULT '{{}}',
    routing_decisions TEXT NOT NULL DEFAULT '[]',
    llm_calls TEXT NOT NULL DEFAULT '[]',
    tool_calls TEXT NOT NULL DEFAULT '[]',
    total_cost REAL NOT NULL DEFAULT 0,
    total_duration_ms INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error', 'confirmation_required')),
    error_info TEXT,
    created_at TEXT NOT NULL DEFAULT {NOW}
);
CREATE INDEX idx_traces_conversation ON request_traces(conversation_id);
CREATE INDEX idx_traces_created ON request_traces(created_at DESC);
CREATE INDEX idx_traces_project_created ON request_traces(project_id, created_at);

CREATE TABLE llm_calls (
    id TEXT PRIMARY KEY,
    trace_id TEXT,
    conversation_id TEXT,
    project_id TEXT,
    user_id TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    layer TEXT,
    task_type TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error')),
    error TEXT,
    cached INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT {NOW}
);
CREATE INDEX idx_llm_calls_created ON llm_calls(created_at);
CREATE INDEX idx_llm_calls_trace ON llm_calls(trace_id);
CREATE INDEX idx_llm_calls_project_created ON llm_calls(project_id, created_at);

CREATE TABLE todo_lists (
    id TEXT PRIMARY KEY,
    conversation_id TEXT,
    project_id TEXT,
    user_id TEXT,
    title TEXT NOT NULL,
    items TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL DEFAULT {NOW},
    updated_at TEXT NOT NULL DEFAULT {NOW}
);

CREATE TABLE user_quotas (
    user_id TEXT NOT NULL,
    project_id TEXT NOT NULL DEFAULT '',
    max_tokens_daily INTEGER NOT NULL DEFAULT 1000000,
    max_cost_daily REAL NOT NULL DEFAULT 10.0,
    current_tokens_today INTEGER NOT NULL DEFAULT 0,
    current_cost_today REAL NOT NULL DEFAULT 0,
    reset_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT00:00:00Z','now','+1 day')),
    created_at TEXT NOT NULL DEFAULT {NOW},
    PRIMARY KEY (user_id, project_id)
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL,
    project_id TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL CHECK (role IN ('viewer', 'developer', 'admin')),
    PRIMARY KEY (user_id, project_id)
);

CREATE TABLE session_profiles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    project_id TEXT,
    user_id TEXT,
    goals TEXT NOT NULL DEFAULT '[]',
    files_in_scope TEXT NOT NULL DEFAULT '[]',
    context TEXT NOT NULL DEFAULT '{{}}',
    status TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL DEFAULT {NOW},
    updated_at TEXT NOT NULL DEFAULT {NOW},
    last_active_at TEXT NOT NULL DEFAULT {NOW}
);

CREATE TABLE history (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT {NOW},
    command TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '[]',
    mode TEXT,
    files TEXT NOT NULL DEFAULT '[]',
    conversation_id TEXT,
    trace_id TEXT,
    project_id TEXT,
    user_id TEXT,
    cost REAL NOT NULL DEFAULT 0,
    models TEXT NOT NULL DEFAULT '[]',
    success INTEGER NOT NULL DEFAULT 1,
    error TEXT,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    cwd TEXT,
    git_commit TEXT
);
CREATE INDEX idx_history_created ON history(created_at DESC);
"""


def up(db: Any) -> None:
    for statement in SCHEMA.split(";\n"):
        if statement.strip():
            db.execute(statement)
