//! [`FleetStatusStore`] on SQLite: one query walking the workspace's connections in keyset
//! order (`provider_connections_fleet_idx`), each connection's newest run and newest completion
//! (staleness, and the credential expiry its report found) found through their indexes by
//! correlated sub-queries.

use async_trait::async_trait;
use verdict_core::domain::{FleetQuery, FleetRow, TenantScope};
use verdict_core::ports::{FleetStatusStore, StoreError};

use crate::SqliteStore;
use crate::errors::store_error;
use crate::rows::{FleetRowRecord, stored_optional_at};

/// `?1` workspace, `?2` the entitled tenants as a JSON array (NULL: all), `?3` one tenant,
/// `(?4, ?5)` the position (first page: before every connection), `?6` the overall (`running`:
/// an active newest run), `?7` the expiry cut-off, `?8` the staleness cut-off, `?9` the limit.
/// Instants are canonical text, so comparing text compares time.
pub const FLEET_STATUS: &str = "SELECT c.tenant_id, c.id AS provider_connection_id, c.display_name, \
     c.client_secret_expires_at, r.id AS run_id, r.type AS flow, r.status, r.overall, r.outcome, r.completed_at, \
     r.change_state, lc.credential_expires_at AS run_credential_expires_at, s.schedule_interval, \
     s.interval_seconds, s.next_run_at \
     FROM provider_connections c \
     LEFT JOIN operation_runs r ON r.id = (SELECT n.id FROM operation_runs n \
         WHERE n.provider_connection_id = c.id AND n.workspace_id = c.workspace_id AND n.tenant_id = c.tenant_id \
         ORDER BY n.created_at DESC, n.id DESC LIMIT 1) \
     LEFT JOIN operation_runs lc ON lc.id = (SELECT d.id FROM operation_runs d \
         WHERE d.provider_connection_id = c.id AND d.status = 'completed' \
         AND d.workspace_id = c.workspace_id AND d.tenant_id = c.tenant_id \
         ORDER BY d.completed_at DESC LIMIT 1) \
     LEFT JOIN verification_schedules s ON s.provider_connection_id = c.id \
     WHERE c.workspace_id = ?1 \
     AND (?2 IS NULL OR c.tenant_id IN (SELECT value FROM json_each(?2))) \
     AND (?3 IS NULL OR c.tenant_id = ?3) \
     AND (c.tenant_id, c.id) > (?4, ?5) \
     AND (?6 IS NULL OR CASE WHEN r.status IN ('queued', 'running') THEN 'running' ELSE r.overall END = ?6) \
     AND (?7 IS NULL OR COALESCE(c.client_secret_expires_at, lc.credential_expires_at) <= ?7) \
     AND (?8 IS NULL OR COALESCE(lc.completed_at, '') < ?8) \
     ORDER BY c.tenant_id, c.id LIMIT ?9";

#[async_trait]
impl FleetStatusStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(workspace_id = query.workspace_id.get()))]
    async fn fleet_status(&self, query: &FleetQuery) -> Result<Vec<FleetRow>, StoreError> {
        let visible = match &query.visible {
            TenantScope::All => None,
            TenantScope::Only(tenants) => {
                Some(format!("[{}]", tenants.iter().map(|t| t.get().to_string()).collect::<Vec<_>>().join(",")))
            }
        };
        // The first page starts before every connection: tenant ids are positive.
        let (after_tenant, after_id) = query.after.map_or_else(
            || (0, sqlx::types::uuid::Uuid::nil().to_string()),
            |c| (c.tenant_id.get(), c.provider_connection_id.to_string()),
        );
        let rows: Vec<FleetRowRecord> = self
            .reading(async |conn| {
                sqlx::query_as(FLEET_STATUS)
                    .bind(query.workspace_id.get())
                    .bind(visible)
                    .bind(query.tenant_id.map(|t| t.get()))
                    .bind(after_tenant)
                    .bind(after_id)
                    .bind(query.overall.map(|o| o.as_str()))
                    .bind(stored_optional_at(query.expiring_before))
                    .bind(stored_optional_at(query.stale_before))
                    .bind(i64::from(query.fetch_limit))
                    .fetch_all(conn)
                    .await
                    .map_err(store_error)
            })
            .await?;
        rows.into_iter().map(FleetRow::try_from).collect()
    }
}
