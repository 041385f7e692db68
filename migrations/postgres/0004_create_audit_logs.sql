-- The audit trail: one gap-free hash chain per workspace (SPEC §8). The chain head row is the
-- lock writers take to append, so two writers can never fork a chain; (workspace_id, seq) is
-- unique as a second line of defence. Hashes are computed by the application, never in SQL.
CREATE TABLE audit_chain_heads (
    workspace_id bigint PRIMARY KEY CHECK (workspace_id > 0),
    seq          bigint NOT NULL CHECK (seq >= 0),
    hash         text   NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);

CREATE TABLE audit_logs (
    id           uuid        PRIMARY KEY,
    workspace_id bigint      NOT NULL REFERENCES audit_chain_heads (workspace_id),
    seq          bigint      NOT NULL CHECK (seq >= 1),
    occurred_at  timestamptz NOT NULL,
    tenant_id    bigint      NULL CHECK (tenant_id > 0),
    actor_type   text        NOT NULL CHECK (actor_type IN ('user', 'system')),
    actor_id     text        NOT NULL CHECK (char_length(actor_id) >= 1),
    action       text        NOT NULL CHECK (action IN (
        'verification.started',
        'verification.completed',
        'verification.check_acknowledged',
        'provider_connection.created',
        'provider_connection.secret_rotated',
        'provider_connection.disabled'
    )),
    subject_type text        NOT NULL
        CHECK (subject_type IN ('operation_run', 'provider_connection', 'acknowledgement')),
    subject_id   text        NOT NULL,
    metadata     jsonb       NOT NULL CHECK (jsonb_typeof(metadata) = 'object'),
    prev_hash    text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash         text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),

    CONSTRAINT audit_logs_workspace_seq_key UNIQUE (workspace_id, seq)
);

-- Reads by tenant in seq order (the unique key above serves unfiltered and action reads).
CREATE INDEX audit_logs_tenant_seq_idx ON audit_logs (workspace_id, tenant_id, seq);

-- Append-only: the chain makes tampering evident, this makes it take deliberate effort (a test
-- that simulates tampering must disable the trigger first).
CREATE TRIGGER audit_logs_append_only
    BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION verdict_reject_change();
