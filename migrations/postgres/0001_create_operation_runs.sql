-- Runs: one execution of a flow for one identity, and the durable queue workers claim from
-- (SPEC §3, §5). The report lives at context->'verification_report'.
CREATE TABLE operation_runs (
    id                     uuid        PRIMARY KEY,
    workspace_id           bigint      NOT NULL CHECK (workspace_id > 0),
    tenant_id              bigint      NOT NULL CHECK (tenant_id > 0),
    provider_connection_id uuid        NULL,
    type                   text        NOT NULL CHECK (type ~ '^[a-z0-9][a-z0-9_.-]{0,127}$'),
    run_identity_hash      text        NOT NULL CHECK (run_identity_hash ~ '^[0-9a-f]{64}$'),
    status                 text        NOT NULL CHECK (status IN ('queued', 'running', 'completed')),
    outcome                text        NOT NULL CHECK (outcome IN ('pending', 'succeeded', 'failed', 'blocked')),
    initiator_user_id      text        NULL CHECK (char_length(initiator_user_id) BETWEEN 1 AND 255),
    summary_counts         jsonb       NULL CHECK (jsonb_typeof(summary_counts) = 'object'),
    failure_summary        jsonb       NULL,
    context                jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(context) = 'object'),
    attempt                integer     NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    lease_owner            text        NULL CHECK (char_length(lease_owner) BETWEEN 1 AND 200),
    lease_expires_at       timestamptz NULL,
    created_at             timestamptz NOT NULL,
    started_at             timestamptz NULL,
    completed_at           timestamptz NULL,

    -- Acknowledgements reference (id, workspace_id, tenant_id) so that an acknowledgement can
    -- never name a run of another workspace or tenant.
    CONSTRAINT operation_runs_scope_key UNIQUE (id, workspace_id, tenant_id),
    -- Only a completed run has an outcome and a completion time, and it always has a report.
    CONSTRAINT operation_runs_outcome_matches_status
        CHECK ((status = 'completed') = (outcome <> 'pending')),
    CONSTRAINT operation_runs_completed_at_matches_status
        CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
    CONSTRAINT operation_runs_completed_has_report
        CHECK (status <> 'completed' OR coalesce(jsonb_typeof(context -> 'verification_report') = 'object', false)),
    -- A lease is held exactly while running: owner and expiry together.
    CONSTRAINT operation_runs_lease_matches_status
        CHECK ((status = 'running') = (lease_owner IS NOT NULL)),
    CONSTRAINT operation_runs_lease_is_whole
        CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL)),
    CONSTRAINT operation_runs_queued_is_unclaimed
        CHECK (status <> 'queued' OR (attempt = 0 AND started_at IS NULL))
);

-- This index, not application code, makes starting idempotent under any concurrency: at most
-- one active run per identity (SPEC §5.1).
CREATE UNIQUE INDEX operation_runs_active_identity_uidx
    ON operation_runs (tenant_id, run_identity_hash)
    WHERE status IN ('queued', 'running');

-- "Latest run" and "previous report" of an identity: newest first by (created_at, id).
CREATE INDEX operation_runs_identity_recent_idx
    ON operation_runs (run_identity_hash, created_at DESC, id DESC);

-- The queue, as two partial indexes so that a claim never walks rows it cannot take, whatever
-- the planner's statistics: queued runs in claim order, and running runs by lease expiry (the
-- runs of crashed workers). A claim takes the older of the first claimable entry of each.
CREATE INDEX operation_runs_queue_idx
    ON operation_runs (created_at, id)
    WHERE status = 'queued';

CREATE INDEX operation_runs_lease_expiry_idx
    ON operation_runs (lease_expires_at)
    WHERE status = 'running';

-- Keyset listing of a tenant's runs, newest first.
CREATE INDEX operation_runs_listing_idx
    ON operation_runs (workspace_id, tenant_id, created_at DESC, id DESC);
