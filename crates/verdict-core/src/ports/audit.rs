//! Reading the audit trail. Appends happen only inside the state-changing calls of the other
//! stores, so an action and its event are committed together; every store that appends must
//! assign `seq` 1, 2, 3 … per workspace without gaps and link `prev_hash` to the previous
//! event's hash, under any concurrency (the chain never forks).

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{AuditAction, AuditEvent, TenantId, WorkspaceId};

/// Which events to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// The workspace's chain.
    pub workspace: WorkspaceId,
    /// Only events of this tenant.
    pub tenant: Option<TenantId>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only events with a greater `seq`.
    pub after_seq: Option<u64>,
    /// At most this many (callers bound it; the API allows 100, chain verification more).
    pub limit: u32,
}

/// Where a workspace's chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The `seq` of its newest event.
    pub seq: u64,
}

impl ChainHead {
    /// Rebuilds a head from stored columns.
    ///
    /// # Errors
    /// [`crate::domain::ParseError`] for a non-positive workspace or a negative seq.
    pub fn from_stored(workspace: i64, seq: i64) -> Result<Self, crate::domain::ParseError> {
        Ok(Self {
            workspace: WorkspaceId::new(workspace)?,
            seq: u64::try_from(seq).map_err(|_| crate::domain::ParseError::new("seq", "must not be negative"))?,
        })
    }
}

/// The audit trail, read side.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Events matching `query`, ordered by `seq` ascending.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn events(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;

    /// Every workspace with at least one event and the `seq` of its newest, ordered by workspace
    /// (what a forwarder walks to find new events).
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError>;
}
