-- The audit actions and subject types of continuous verification (docs/contract.md#continuous-verification): schedule.set,
-- schedule.removed, webhook.created, webhook.deleted, webhook.secret_rotated; subjects schedule
-- and webhook. SQLite cannot alter a CHECK constraint, so audit_logs and the chain-head table
-- that references it are rebuilt with every row, in this migration's transaction and with
-- foreign keys on: the copies are made first, the child table is dropped before its parent, and
-- renaming the new parent rewrites the new child's reference to it.

CREATE TABLE audit_logs_v2 (
    id           TEXT    NOT NULL PRIMARY KEY
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????'
               AND id NOT GLOB '*[^0-9a-f-]*'),
    workspace_id INTEGER NOT NULL CHECK (workspace_id > 0),
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    occurred_at  TEXT    NOT NULL
        CHECK (occurred_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    tenant_id    INTEGER CHECK (tenant_id IS NULL OR tenant_id > 0),
    actor_type   TEXT    NOT NULL CHECK (actor_type IN ('user', 'system')),
    actor_id     TEXT    NOT NULL CHECK (length(actor_id) >= 1),
    action       TEXT    NOT NULL CHECK (action IN (
                     'verification.started',
                     'verification.completed',
                     'verification.check_acknowledged',
                     'provider_connection.created',
                     'provider_connection.secret_rotated',
                     'provider_connection.disabled',
                     'schedule.set',
                     'schedule.removed',
                     'webhook.created',
                     'webhook.deleted',
                     'webhook.secret_rotated')),
    subject_type TEXT    NOT NULL CHECK (subject_type IN
                     ('operation_run', 'provider_connection', 'acknowledgement', 'schedule', 'webhook')),
    subject_id   TEXT    NOT NULL,
    metadata     TEXT    NOT NULL CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    prev_hash    TEXT    NOT NULL CHECK (length(prev_hash) = 64 AND prev_hash NOT GLOB '*[^0-9a-f]*'),
    hash         TEXT    NOT NULL CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),

    -- Two writers can never fork a workspace's chain.
    CONSTRAINT audit_logs_workspace_seq_key UNIQUE (workspace_id, seq)
) STRICT;

INSERT INTO audit_logs_v2 (id, workspace_id, seq, occurred_at, tenant_id, actor_type, actor_id, action,
                           subject_type, subject_id, metadata, prev_hash, hash)
    SELECT id, workspace_id, seq, occurred_at, tenant_id, actor_type, actor_id, action,
           subject_type, subject_id, metadata, prev_hash, hash
    FROM audit_logs;

CREATE TABLE audit_chain_heads_v2 (
    workspace_id INTEGER NOT NULL PRIMARY KEY CHECK (workspace_id > 0),
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    hash         TEXT    NOT NULL CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),
    CONSTRAINT audit_chain_heads_event_fkey
        FOREIGN KEY (workspace_id, seq) REFERENCES audit_logs_v2 (workspace_id, seq)
) STRICT;

INSERT INTO audit_chain_heads_v2 (workspace_id, seq, hash) SELECT workspace_id, seq, hash FROM audit_chain_heads;

DROP TABLE audit_chain_heads;
DROP TABLE audit_logs;

ALTER TABLE audit_logs_v2 RENAME TO audit_logs;
ALTER TABLE audit_chain_heads_v2 RENAME TO audit_chain_heads;

-- Filtered reads by seq: per tenant and per action (unfiltered reads use the unique key).
CREATE INDEX audit_logs_tenant_seq_idx ON audit_logs (workspace_id, tenant_id, seq);
CREATE INDEX audit_logs_action_seq_idx ON audit_logs (workspace_id, action, seq);

CREATE TRIGGER audit_logs_no_update
    BEFORE UPDATE ON audit_logs
BEGIN
    SELECT RAISE(ABORT, 'audit_logs is append-only');
END;

CREATE TRIGGER audit_logs_no_delete
    BEFORE DELETE ON audit_logs
BEGIN
    SELECT RAISE(ABORT, 'audit_logs is append-only');
END;
