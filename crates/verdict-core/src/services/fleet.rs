//! The fleet status of a workspace (docs/contract.md, "Fleet status and the operator view"):
//! the latest verification of every connection the caller may see, with filters and pages.

use super::Ports;
use crate::domain::{
    ExpiringWithinDays, FleetCursor, FleetPage, FleetQuery, Overall, PageLimit, Principal, StaleAfterHours, TenantId,
    WorkspaceId,
};
use crate::ports::StoreError;
use crate::rules::{AccessDenied, authorize};

/// Why the fleet status could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FleetStatusError {
    /// Not a member of the workspace, or not entitled to the requested tenant.
    #[error("not found")]
    NotFound,
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccessDenied> for FleetStatusError {
    fn from(_: AccessDenied) -> Self {
        // Reading needs membership and entitlement only, never a capability.
        Self::NotFound
    }
}

/// A fleet-status request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFleetStatus {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Only this tenant.
    pub tenant_id: Option<TenantId>,
    /// Only rows with this overall (`running`: an active latest run).
    pub overall: Option<Overall>,
    /// Only credentials expiring within this many days (expired ones included).
    pub expiring_within_days: Option<ExpiringWithinDays>,
    /// Only connections with no completed verification for this many hours.
    pub stale_after_hours: Option<StaleAfterHours>,
    /// Start after this position.
    pub cursor: Option<FleetCursor>,
    /// Page size.
    pub limit: PageLimit,
}

/// The fleet status use case.
#[derive(Debug, Clone)]
pub struct FleetService {
    ports: Ports,
}

impl FleetService {
    /// Over `ports`.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Decides whether `principal` may see the workspace's fleet, before a request's filters are
    /// even read.
    ///
    /// # Errors
    /// [`FleetStatusError::NotFound`] when the caller is not a member.
    pub fn authorize(&self, principal: &Principal, workspace: WorkspaceId) -> Result<(), FleetStatusError> {
        Ok(authorize(principal, workspace, None, None)?)
    }

    /// A page of the fleet status, by tenant then connection.
    ///
    /// # Errors
    /// See [`FleetStatusError`].
    #[tracing::instrument(skip_all, fields(workspace_id = request.workspace_id.get()))]
    pub async fn status(&self, principal: &Principal, request: ReadFleetStatus) -> Result<FleetPage, FleetStatusError> {
        authorize(principal, request.workspace_id, request.tenant_id, None)?;
        let visible = principal.membership(request.workspace_id).ok_or(FleetStatusError::NotFound)?.tenant_ids.clone();
        let now = self.ports.clock.now();
        let query = FleetQuery {
            workspace_id: request.workspace_id,
            visible,
            tenant_id: request.tenant_id,
            overall: request.overall,
            expiring_before: request.expiring_within_days.map(|d| d.cutoff(now)),
            stale_before: request.stale_after_hours.map(|h| h.cutoff(now)),
            after: request.cursor,
            fetch_limit: request.limit.get() + 1,
        };
        let rows = self.ports.fleet.fleet_status(&query).await?;
        Ok(FleetPage::from_overfetched(rows, request.limit))
    }
}
