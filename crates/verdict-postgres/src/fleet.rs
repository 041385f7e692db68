//! [`FleetStatusStore`] on PostgreSQL: one query (`queries::FLEET_STATUS`) walking the
//! workspace's connections in keyset order, with each connection's newest run found through an
//! index — never a scan of the runs table.

use async_trait::async_trait;
use uuid::Uuid;
use verdict_core::domain::{FleetQuery, FleetRow, TenantScope};
use verdict_core::ports::{FleetStatusStore, StoreError};

use crate::PgStore;
use crate::error::store_error;
use crate::queries::FLEET_STATUS;
use crate::rows::FleetRowRecord;

#[async_trait]
impl FleetStatusStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(workspace_id = query.workspace_id.get()))]
    async fn fleet_status(&self, query: &FleetQuery) -> Result<Vec<FleetRow>, StoreError> {
        let visible: Option<Vec<i64>> = match &query.visible {
            TenantScope::All => None,
            TenantScope::Only(tenants) => Some(tenants.iter().map(|t| t.get()).collect()),
        };
        // The first page starts before every connection: tenant ids are positive.
        let (after_tenant, after_id) =
            query.after.map_or((0, Uuid::nil()), |c| (c.tenant_id.get(), *c.provider_connection_id.as_uuid()));
        let rows: Vec<FleetRowRecord> = sqlx::query_as(FLEET_STATUS)
            .bind(query.workspace_id.get())
            .bind(visible)
            .bind(query.tenant_id.map(|t| t.get()))
            .bind(after_tenant)
            .bind(after_id)
            .bind(query.overall.map(|o| o.as_str()))
            .bind(query.expiring_before)
            .bind(query.stale_before)
            .bind(i64::from(query.fetch_limit))
            .fetch_all(self.pool())
            .await
            .map_err(store_error)?;
        rows.into_iter().map(FleetRow::try_from).collect()
    }
}
