-- Fleet status (docs/contract.md, "Fleet status and the operator view"): what a completion
-- derives from its report for the fleet, stored beside the run so that the fleet reads columns,
-- never reports; and the indexes that find each connection's newest run and newest completion.

-- The report's overall, once completed; backfilled from the stored reports.
ALTER TABLE operation_runs ADD COLUMN overall text NULL
    CHECK (overall IN ('ready', 'needs_attention', 'blocked'));
-- The change since the previous report (none / unchanged / changed). Runs completed before this
-- migration have none stored: the fleet shows their change as unknown.
ALTER TABLE operation_runs ADD COLUMN change_state text NULL
    CHECK (change_state IN ('none', 'unchanged', 'changed'));
-- The credential expiry the report's expiry check found.
ALTER TABLE operation_runs ADD COLUMN credential_expires_at timestamptz NULL;

UPDATE operation_runs SET overall = context -> 'verification_report' -> 'summary' ->> 'overall'
    WHERE status = 'completed';

ALTER TABLE operation_runs ADD CONSTRAINT operation_runs_overall_matches_status
    CHECK ((status = 'completed') = (overall IS NOT NULL));
ALTER TABLE operation_runs ADD CONSTRAINT operation_runs_change_state_only_completed
    CHECK (status = 'completed' OR (change_state IS NULL AND credential_expires_at IS NULL));

-- The newest run of a connection.
CREATE INDEX operation_runs_connection_recent_idx
    ON operation_runs (provider_connection_id, created_at DESC, id DESC)
    WHERE provider_connection_id IS NOT NULL;

-- The newest completion of a connection (staleness).
CREATE INDEX operation_runs_connection_completed_idx
    ON operation_runs (provider_connection_id, completed_at DESC)
    WHERE status = 'completed' AND provider_connection_id IS NOT NULL;

-- Connections in keyset order within a workspace.
CREATE INDEX provider_connections_fleet_idx
    ON provider_connections (workspace_id, tenant_id, id);
