-- Runs: one execution of a flow for one identity (SPEC §3), and the durable run queue (§5.2).
-- Mirrors migrations/postgres in SQLite types. Conventions of every SQLite table of Verdict:
--   * STRICT tables, so a column only ever holds its declared type;
--   * UUIDs as lowercase hyphenated TEXT;
--   * instants as TEXT in exactly one form, RFC 3339 UTC with six fractional digits and `Z`
--     (e.g. 2026-01-02T03:04:05.000000Z), which sorts lexicographically in time order;
--   * JSON as TEXT that is always valid JSON.
CREATE TABLE operation_runs (
    id                     TEXT    NOT NULL PRIMARY KEY
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????'
               AND id NOT GLOB '*[^0-9a-f-]*'),
    workspace_id           INTEGER NOT NULL CHECK (workspace_id > 0),
    tenant_id              INTEGER NOT NULL CHECK (tenant_id > 0),
    provider_connection_id TEXT
        CHECK (provider_connection_id IS NULL
               OR (length(provider_connection_id) = 36
                   AND provider_connection_id GLOB '????????-????-????-????-????????????'
                   AND provider_connection_id NOT GLOB '*[^0-9a-f-]*')),
    type                   TEXT    NOT NULL
        CHECK (length(type) BETWEEN 1 AND 128 AND type GLOB '[a-z0-9]*' AND type NOT GLOB '*[^a-z0-9_.-]*'),
    run_identity_hash      TEXT    NOT NULL
        CHECK (length(run_identity_hash) = 64 AND run_identity_hash NOT GLOB '*[^0-9a-f]*'),
    status                 TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'completed')),
    outcome                TEXT    NOT NULL CHECK (outcome IN ('pending', 'succeeded', 'failed', 'blocked')),
    initiator_user_id      TEXT    CHECK (initiator_user_id IS NULL OR length(initiator_user_id) BETWEEN 1 AND 255),
    summary_counts         TEXT
        CHECK (summary_counts IS NULL OR (json_valid(summary_counts) AND json_type(summary_counts) = 'object')),
    failure_summary        TEXT    CHECK (failure_summary IS NULL OR json_valid(failure_summary)),
    -- The report lives at context.verification_report.
    context                TEXT    NOT NULL DEFAULT '{}'
        CHECK (json_valid(context) AND json_type(context) = 'object'),
    attempt                INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    lease_owner            TEXT    CHECK (lease_owner IS NULL OR length(lease_owner) BETWEEN 1 AND 200),
    lease_expires_at       TEXT
        CHECK (lease_expires_at IS NULL OR lease_expires_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    created_at             TEXT    NOT NULL
        CHECK (created_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    started_at             TEXT
        CHECK (started_at IS NULL OR started_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    completed_at           TEXT
        CHECK (completed_at IS NULL OR completed_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),

    -- Acknowledgements reference (id, workspace_id, tenant_id) so that an acknowledgement can
    -- never name a run of another workspace or tenant.
    CONSTRAINT operation_runs_scope_key UNIQUE (id, workspace_id, tenant_id),
    -- Only a completed run has an outcome and a completion time, and it always has a report.
    CONSTRAINT operation_runs_outcome_matches_status
        CHECK ((status = 'completed') = (outcome <> 'pending')),
    CONSTRAINT operation_runs_completed_at_matches_status
        CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
    CONSTRAINT operation_runs_completed_has_report
        CHECK (status <> 'completed'
               OR coalesce(json_type(context, '$.verification_report') = 'object', 0)),
    -- A lease is held exactly while running: owner and expiry together.
    CONSTRAINT operation_runs_lease_matches_status
        CHECK ((status = 'running') = (lease_owner IS NOT NULL)),
    CONSTRAINT operation_runs_lease_is_whole
        CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL)),
    CONSTRAINT operation_runs_queued_is_unclaimed
        CHECK (status <> 'queued' OR (attempt = 0 AND started_at IS NULL))
) STRICT;

-- One active (queued or running) run per identity: this index, not application code, makes
-- starting idempotent under any concurrency (SPEC §5.1).
CREATE UNIQUE INDEX operation_runs_active_identity_uidx
    ON operation_runs (tenant_id, run_identity_hash)
    WHERE status IN ('queued', 'running');

-- "Previous report" and "latest run" of an identity.
CREATE INDEX operation_runs_identity_recent_idx
    ON operation_runs (run_identity_hash, created_at DESC, id DESC);

-- The queue: claimable runs, oldest first.
CREATE INDEX operation_runs_queue_idx
    ON operation_runs (created_at, id)
    WHERE status IN ('queued', 'running');

-- Keyset listing of a tenant's runs, newest first.
CREATE INDEX operation_runs_listing_idx
    ON operation_runs (workspace_id, tenant_id, created_at DESC, id DESC);
