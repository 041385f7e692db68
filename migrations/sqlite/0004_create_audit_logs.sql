-- The tamper-evident audit trail (SPEC §8): one hash chain per workspace, seq 1, 2, 3 … without
-- gaps. Hashes are computed by verdict-core, never in SQL. Append-only.
CREATE TABLE audit_logs (
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
                     'provider_connection.disabled')),
    subject_type TEXT    NOT NULL CHECK (subject_type IN ('operation_run', 'provider_connection', 'acknowledgement')),
    subject_id   TEXT    NOT NULL,
    metadata     TEXT    NOT NULL CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    prev_hash    TEXT    NOT NULL CHECK (length(prev_hash) = 64 AND prev_hash NOT GLOB '*[^0-9a-f]*'),
    hash         TEXT    NOT NULL CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),

    -- Two writers can never fork a workspace's chain.
    CONSTRAINT audit_logs_workspace_seq_key UNIQUE (workspace_id, seq)
) STRICT;

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
