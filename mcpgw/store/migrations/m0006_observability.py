"""Observability: cost alerts; daily rollups of LLM usage (per tenant and model, and per model only) and of
traces, kept by triggers; query indexes.

The rollups make analytics over months of history read thousands of rows instead of millions. Triggers keep
them exact for every writer of ``llm_calls`` / ``request_traces`` (inserts and deletes), and the migration
backfills them from rows written before it ran. Empty tenancy values are stored as ``''`` in the rollups so
they can be part of the primary key.
"""

from __future__ import annotations

from typing import Any

NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

SCHEMA = f"""
CREATE TABLE usage_daily (
    day TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    layer TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    cached INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, project_id, user_id, provider, model, layer)
) WITHOUT ROWID;

CREATE TRIGGER usage_daily_ins AFTER INSERT ON llm_calls BEGIN
    INSERT INTO usage_daily (day, project_id, user_id, provider, model, layer, calls, errors, cached,
                             input_tokens, output_tokens, cost, duration_ms)
    VALUES (substr(new.created_at, 1, 10), COALESCE(new.project_id, ''), COALESCE(new.user_id, ''),
            new.provider, new.model, COALESCE(new.layer, ''), 1, new.status = 'error', new.cached != 0,
            new.input_tokens, new.output_tokens, new.cost, new.duration_ms)
    ON CONFLICT (day, project_id, user_id, provider, model, layer) DO UPDATE SET
        calls = calls + 1, errors = errors + excluded.errors, cached = cached + excluded.cached,
        input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
        cost = cost + excluded.cost, duration_ms = duration_ms + excluded.duration_ms;
END;

CREATE TRIGGER usage_daily_del AFTER DELETE ON llm_calls BEGIN
    UPDATE usage_daily SET calls = calls - 1, errors = errors - (old.status = 'error'),
        cached = cached - (old.cached != 0), input_tokens = input_tokens - old.input_tokens,
        output_tokens = output_tokens - old.output_tokens, cost = cost - old.cost,
        duration_ms = duration_ms - old.duration_ms
    WHERE day = substr(old.created_at, 1, 10) AND project_id = COALESCE(old.project_id, '')
      AND user_id = COALESCE(old.user_id, '') AND provider = old.provider AND model = old.model
      AND layer = COALESCE(old.layer, '');
END;

CREATE TABLE usage_daily_model (
    day TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    layer TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    cached INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, provider, model, layer)
) WITHOUT ROWID;

CREATE TRIGGER usage_daily_model_ins AFTER INSERT ON llm_calls BEGIN
    INSERT INTO usage_daily_model (day, provider, model, layer, calls, errors, cached, input_tokens,
                                   output_tokens, cost, duration_ms)
    VALUES (substr(new.created_at, 1, 10), new.provider, new.model, COALESCE(new.layer, ''), 1,
            new.status = 'error', new.cached != 0, new.input_tokens, new.output_tokens, new.cost, new.duration_ms)
    ON CONFLICT (day, provider, model, layer) DO UPDATE SET
        calls = calls + 1, errors = errors + excluded.errors, cached = cached + excluded.cached,
        input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
        cost = cost + excluded.cost, duration_ms = duration_ms + excluded.duration_ms;
END;

CREATE TRIGGER usage_daily_model_del AFTER DELETE ON llm_calls BEGIN
    UPDATE usage_daily_model SET calls = calls - 1, errors = errors - (old.status = 'error'),
        cached = cached - (old.cached != 0), input_tokens = input_tokens - old.input_tokens,
        output_tokens = output_tokens - old.output_tokens, cost = cost - old.cost,
        duration_ms = duration_ms - old.duration_ms
    WHERE day = substr(old.created_at, 1, 10) AND provider = old.provider AND model = old.model
      AND layer = COALESCE(old.layer, '');
END;

CREATE TABLE trace_daily (
    day TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    request_type TEXT NOT NULL,
    status TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, project_id, user_id, request_type, status)
) WITHOUT ROWID;

CREATE TRIGGER trace_daily_ins AFTER INSERT ON request_traces BEGIN
    INSERT INTO trace_daily (day, project_id, user_id, request_type, status, requests, cost, duration_ms)
    VALUES (substr(new.created_at, 1, 10), COALESCE(new.project_id, ''), COALESCE(new.user_id, ''),
            new.request_type, new.status, 1, new.total_cost, new.total_duration_ms)
    ON CONFLICT (day, project_id, user_id, request_type, status) DO UPDATE SET
        requests = requests + 1, cost = cost + excluded.cost, duration_ms = duration_ms + excluded.duration_ms;
END;

CREATE TRIGGER trace_daily_del AFTER DELETE ON request_traces BEGIN
    UPDATE trace_daily SET requests = requests - 1, cost = cost - old.total_cost,
        duration_ms = duration_ms - old.total_duration_ms
    WHERE day = substr(old.created_at, 1, 10) AND project_id = COALESCE(old.project_id, '')
      AND user_id = COALESCE(old.user_id, '') AND request_type = old.request_type AND status = old.status;
END;

INSERT INTO usage_daily (day, project_id, user_id, provider, model, layer, calls, errors, cached,
                         input_tokens, output_tokens, cost, duration_ms)
SELECT substr(created_at, 1, 10), COALESCE(project_id, ''), COALESCE(user_id, ''), provider, model,
       COALESCE(layer, ''), COUNT(*), SUM(status = 'error'), SUM(cached != 0), SUM(input_tokens),
       SUM(output_tokens), SUM(cost), SUM(duration_ms)
FROM llm_calls GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO usage_daily_model (day, provider, model, layer, calls, errors, cached, input_tokens, output_tokens,
                               cost, duration_ms)
SELECT day, provider, model, layer, SUM(calls), SUM(errors), SUM(cached), SUM(input_tokens), SUM(output_tokens),
       SUM(cost), SUM(duration_ms)
FROM usage_daily GROUP BY 1, 2, 3, 4;

INSERT INTO trace_daily (day, project_id, user_id, request_type, status, requests, cost, duration_ms)
SELECT substr(created_at, 1, 10), COALESCE(project_id, ''), COALESCE(user_id, ''), request_type, status,
       COUNT(*), SUM(total_cost), SUM(total_duration_ms)
FROM request_traces GROUP BY 1, 2, 3, 4, 5;

CREATE INDEX idx_traces_status_created ON request_traces(status, created_at);
CREATE INDEX idx_traces_cost ON request_traces(total_cost DESC);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL CHECK (type IN ('anomaly', 'threshold_exceeded')),
    metric TEXT NOT NULL CHECK (metric IN ('cost', 'error_rate', 'budget')),
    window_minutes REAL NOT NULL,
    current_cost REAL NOT NULL DEFAULT 0,
    expected_cost REAL NOT NULL DEFAULT 0,
    multiplier REAL NOT NULL DEFAULT 0,
    threshold_multiplier REAL NOT NULL DEFAULT 0,
    current_error_rate REAL,
    expected_error_rate REAL,
    affected_projects TEXT NOT NULL DEFAULT '[]',
    message TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{{}}',
    dedupe_key TEXT UNIQUE,
    created_at TEXT NOT NULL DEFAULT {NOW},
    acknowledged_at TEXT,
    delivery_status TEXT NOT NULL DEFAULT 'none' CHECK (delivery_status IN ('none', 'pending', 'delivered')),
    delivery_attempts INTEGER NOT NULL DEFAULT 0,
    last_delivery_error TEXT,
    delivered_at TEXT
);
CREATE INDEX idx_alerts_created ON alerts(created_at DESC);
CREATE INDEX idx_alerts_pending ON alerts(delivery_status) WHERE delivery_status = 'pending';
"""


def up(db: Any) -> None:
    statements: list[str] = []
    buffer: list[str] = []
    for line in SCHEMA.splitlines():
        buffer.append(line)
        text = "\n".join(buffer).strip()
        # Statements end with ';' at the end of a line; a trigger body ends with 'END;'.
        if text.endswith(";") and (not text.startswith("CREATE TRIGGER") or text.endswith("END;")):
            statements.append(text)
            buffer = []
    for statement in statements:
        db.execute(statement)
