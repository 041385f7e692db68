-- The fleet status's look-ups of a connection's newest run and newest completion (`fleet.rs`)
-- match the connection, its workspace and its tenant. With the connection alone in the
-- newest-run index, SQLite preferred the tenant's listing index, which gives the order for free
-- but reads every run of the tenant per connection (over a second for a page of 6 000
-- connections, found by `cargo xtask bench http`). With the scope columns in both indexes, each
-- is the best match for its look-up.
DROP INDEX operation_runs_connection_recent_idx;
CREATE INDEX operation_runs_connection_recent_idx
    ON operation_runs (provider_connection_id, workspace_id, tenant_id, created_at DESC, id DESC)
    WHERE provider_connection_id IS NOT NULL;

DROP INDEX operation_runs_connection_completed_idx;
CREATE INDEX operation_runs_connection_completed_idx
    ON operation_runs (provider_connection_id, workspace_id, tenant_id, completed_at DESC)
    WHERE status = 'completed' AND provider_connection_id IS NOT NULL;
