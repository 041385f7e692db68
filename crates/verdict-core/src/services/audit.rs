//! Reading and verifying a workspace's audit trail.

use super::{Failure, Ports};
use crate::domain::{
    AuditAction, AuditEvent, Capability, ChainVerification, ChainVerifier, Principal, TenantId, WorkspaceId,
};
use crate::ports::{AuditLog, AuditQuery};
use crate::rules::{AccessDenied, authorize};

/// Events read per round trip while verifying a chain: bounded memory whatever its length.
pub const VERIFY_PAGE: u32 = 1000;

/// Why the audit trail could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuditReadError {
    /// Not a member of the workspace (or not entitled to the tenant filter).
    #[error("not found")]
    NotFound,
    /// Member without `audit.read`.
    #[error("forbidden")]
    Forbidden,
    /// Storage failure.
    #[error(transparent)]
    Failure(#[from] Failure),
}

/// Filters for reading events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAuditEvents {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// Only this tenant.
    pub tenant: Option<TenantId>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// After this seq.
    pub after_seq: Option<u64>,
    /// Page size, 1..=100.
    pub limit: crate::domain::PageLimit,
}

/// Reading and verifying the audit trail.
#[derive(Debug, Clone)]
pub struct AuditService {
    ports: Ports,
}

impl AuditService {
    /// Builds the service.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    fn authorize(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
        tenant: Option<TenantId>,
    ) -> Result<(), AuditReadError> {
        authorize(principal, workspace, tenant, Some(Capability::AuditRead)).map_err(|d| match d {
            AccessDenied::NotFound => AuditReadError::NotFound,
            AccessDenied::Forbidden => AuditReadError::Forbidden,
        })
    }

    /// A page of events, by `seq`.
    ///
    /// # Errors
    /// See [`AuditReadError`].
    pub async fn events(
        &self,
        principal: &Principal,
        request: ReadAuditEvents,
    ) -> Result<Vec<AuditEvent>, AuditReadError> {
        self.authorize(principal, request.workspace, request.tenant)?;
        Ok(self
            .ports
            .audit
            .events(AuditQuery {
                workspace: request.workspace,
                tenant: request.tenant,
                action: request.action,
                after_seq: request.after_seq,
                limit: request.limit.get(),
            })
            .await
            .map_err(Failure::from)?)
    }

    /// Recomputes the workspace's whole chain.
    ///
    /// # Errors
    /// See [`AuditReadError`].
    pub async fn verify(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
    ) -> Result<ChainVerification, AuditReadError> {
        self.authorize(principal, workspace, None)?;
        Ok(verify_chain(self.ports.audit.as_ref(), workspace).await?)
    }
}

/// Streams a workspace's chain through a [`ChainVerifier`], [`VERIFY_PAGE`] events at a time,
/// stopping at the first break.
///
/// # Errors
/// [`Failure`] on storage failure.
pub async fn verify_chain(log: &dyn AuditLog, workspace: WorkspaceId) -> Result<ChainVerification, Failure> {
    let mut verifier = ChainVerifier::new();
    let mut after_seq = None;
    loop {
        let page =
            log.events(AuditQuery { workspace, tenant: None, action: None, after_seq, limit: VERIFY_PAGE }).await?;
        let Some(last) = page.last() else { break };
        after_seq = Some(last.seq());
        let full = page.len() == VERIFY_PAGE as usize;
        if !page.iter().all(|e| verifier.push(e)) || !full {
            break;
        }
    }
    Ok(verifier.finish())
}
