-- Fleet status (docs/contract.md, "Fleet status and the operator view"): what a completion
-- derives from its report for the fleet, stored beside the run so that the fleet reads columns,
-- never reports; and the indexes that find each connection's newest run and newest completion.
-- Mirrors migrations/postgres/0008. SQLite checks a new column's CHECK against existing rows and
-- cannot add a table constraint, so the pairing with `status` is kept by triggers, created after
-- the backfill.

-- The report's overall, once completed.
ALTER TABLE operation_runs ADD COLUMN overall TEXT
    CHECK (overall IS NULL OR overall IN ('ready', 'needs_attention', 'blocked'));
-- The change since the previous report. Runs completed before this migration have none stored:
-- the fleet shows their change as unknown.
ALTER TABLE operation_runs ADD COLUMN change_state TEXT
    CHECK (change_state IS NULL OR change_state IN ('none', 'unchanged', 'changed'));
-- The credential expiry the report's expiry check found.
ALTER TABLE operation_runs ADD COLUMN credential_expires_at TEXT
    CHECK (credential_expires_at IS NULL OR credential_expires_at GLOB
           '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z');

UPDATE operation_runs SET overall = json_extract(context, '$.verification_report.summary.overall')
    WHERE status = 'completed';

CREATE TRIGGER operation_runs_overall_matches_status_on_insert
    BEFORE INSERT ON operation_runs
    WHEN (NEW.status = 'completed') <> (NEW.overall IS NOT NULL)
      OR (NEW.status <> 'completed' AND (NEW.change_state IS NOT NULL OR NEW.credential_expires_at IS NOT NULL))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: operation_runs_overall_matches_status');
END;

CREATE TRIGGER operation_runs_overall_matches_status_on_update
    BEFORE UPDATE ON operation_runs
    WHEN (NEW.status = 'completed') <> (NEW.overall IS NOT NULL)
      OR (NEW.status <> 'completed' AND (NEW.change_state IS NOT NULL OR NEW.credential_expires_at IS NOT NULL))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: operation_runs_overall_matches_status');
END;

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
