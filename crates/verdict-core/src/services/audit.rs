//! Reading and verifying a workspace's audit trail. Events of a tenant are visible only to callers
//! entitled to that tenant; workspace-level events (no tenant) need `audit.read` alone.

use super::Ports;
use crate::domain::{
    AuditAction, AuditEvent, Capability, ChainVerification, ChainVerifier, Principal, TenantId, WorkspaceId,
};
use crate::ports::{AuditLog, AuditQuery, ChainPages, StoreError};
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
    Store(#[from] StoreError),
}

impl From<AccessDenied> for AuditReadError {
    fn from(denied: AccessDenied) -> Self {
        match denied {
            AccessDenied::NotFound => Self::NotFound,
            AccessDenied::Forbidden => Self::Forbidden,
        }
    }
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

    /// Decides whether `principal` may read the workspace's trail at all, before a request's
    /// filters are even read.
    ///
    /// # Errors
    /// [`AuditReadError::NotFound`] or [`AuditReadError::Forbidden`].
    pub fn authorize_read(&self, principal: &Principal, workspace: WorkspaceId) -> Result<(), AuditReadError> {
        Ok(authorize(principal, workspace, None, Some(Capability::AuditRead))?)
    }

    /// A page of the events the caller may see, by `seq`.
    ///
    /// # Errors
    /// See [`AuditReadError`].
    pub async fn events(
        &self,
        principal: &Principal,
        request: ReadAuditEvents,
    ) -> Result<Vec<AuditEvent>, AuditReadError> {
        authorize(principal, request.workspace, request.tenant, Some(Capability::AuditRead))?;
        let visible = principal.membership(request.workspace).ok_or(AuditReadError::NotFound)?.tenant_ids.clone();
        Ok(self
            .ports
            .audit
            .events(AuditQuery {
                workspace: request.workspace,
                visible,
                tenant: request.tenant,
                action: request.action,
                after_seq: request.after_seq,
                limit: request.limit.get(),
            })
            .await?)
    }

    /// Recomputes the workspace's whole chain and compares it with the stored chain head. The
    /// answer names counts and a `seq`, never an event's content, so `audit.read` suffices.
    ///
    /// # Errors
    /// See [`AuditReadError`].
    pub async fn verify(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
    ) -> Result<ChainVerification, AuditReadError> {
        authorize(principal, workspace, None, Some(Capability::AuditRead))?;
        Ok(verify_chain(self.ports.audit.as_ref(), workspace).await?)
    }
}

/// Streams a workspace's chain through a [`ChainVerifier`], [`VERIFY_PAGE`] events at a time,
/// stopping at the first break, then compares it with the stored chain head — which is what
/// detects deleted newest events (docs/contract.md, "Audit chain").
///
/// The head is read before the events. An event past it is either a concurrent append (then a
/// fresh read of the head covers it, and verification goes on to that head) or one written
/// outside Verdict without moving the head (then the chain breaks right after the head).
///
/// # Errors
/// [`StoreError`] on storage failure.
pub async fn verify_chain(log: &dyn AuditLog, workspace: WorkspaceId) -> Result<ChainVerification, StoreError> {
    let mut head = log.chain_head(workspace).await?;
    let mut verifier = ChainVerifier::new();
    let mut pages = ChainPages::new(log, workspace, None, VERIFY_PAGE);
    let mut past_head = false;
    'pages: while let Some(page) = pages.next_page().await? {
        for event in &page {
            if head.as_ref().is_none_or(|h| event.seq() > h.seq) {
                head = log.chain_head(workspace).await?;
                if head.as_ref().is_none_or(|h| event.seq() > h.seq) {
                    past_head = true;
                    break 'pages;
                }
            }
            if !verifier.push(event) {
                break 'pages;
            }
        }
    }
    let mut verdict = verifier.finish_against(head.as_ref());
    if past_head && verdict.valid {
        verdict.valid = false;
        verdict.first_broken_seq = Some(head.map_or(1, |h| h.seq + 1));
    }
    Ok(verdict)
}
