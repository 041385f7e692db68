//! Reading the fleet status (docs/contract.md, "Fleet status and the operator view"): one query
//! over connections, their latest run and their schedule.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{FleetQuery, FleetRow};

/// The fleet status of a workspace.
#[async_trait]
pub trait FleetStatusStore: Send + Sync {
    /// Up to `query.fetch_limit` rows, ordered by `(tenant_id, provider_connection_id)` after
    /// `query.after`: every connection of `query.workspace_id` in a tenant `query.visible`
    /// covers, disabled ones included, with its latest run (newest by `(created_at, id)`),
    /// admitted by every filter the query sets.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the store cannot answer; [`StoreError::Corrupt`] when a
    /// stored row does not parse.
    async fn fleet_status(&self, query: &FleetQuery) -> Result<Vec<FleetRow>, StoreError>;
}
