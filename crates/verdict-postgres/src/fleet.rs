//! [`FleetStatusStore`] on PostgreSQL: one query (`queries::fleet_status`, holding only the
//! filters asked for) walking the workspace's connections in keyset order, with each connection's
//! newest run found through an index — never a scan of the runs table.

use async_trait::async_trait;
use verdict_core::domain::{FleetQuery, FleetRow};
use verdict_core::ports::{FleetStatusStore, StoreError};

use crate::PgStore;
use crate::error::store_error;
use crate::queries;
use crate::rows::FleetRowRecord;

#[async_trait]
impl FleetStatusStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(workspace_id = query.workspace_id.get()))]
    async fn fleet_status(&self, query: &FleetQuery) -> Result<Vec<FleetRow>, StoreError> {
        let rows: Vec<FleetRowRecord> = self
            .reading(async |conn| {
                queries::fleet_status("", query).build_query_as().fetch_all(conn).await.map_err(store_error)
            })
            .await?;
        rows.into_iter().map(FleetRow::try_from).collect()
    }
}
