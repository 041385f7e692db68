//! Reading the audit trail. Appends happen only inside the state-changing calls of the other
//! stores, so an action and its event are committed together; every store that appends must
//! assign `seq` 1, 2, 3 … per workspace without gaps and link `prev_hash` to the previous
//! event's hash, under any concurrency (the chain never forks).

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{AuditAction, AuditEvent, ChainHeadRecord, TenantId, TenantScope, WorkspaceId};

/// Which events to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// The workspace's chain.
    pub workspace: WorkspaceId,
    /// Which events the reader may see: `All`, or the workspace-level events (no tenant) plus
    /// those of the listed tenants (docs/contract.md, "Authorization").
    pub visible: TenantScope,
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

impl AuditQuery {
    /// Every event of a workspace from `after_seq` on, for verification, export and forwarding.
    #[must_use]
    pub fn whole_chain(workspace: WorkspaceId, after_seq: Option<u64>, limit: u32) -> Self {
        Self { workspace, visible: TenantScope::All, tenant: None, action: None, after_seq, limit }
    }

    /// Whether `event` matches the query's filters (the in-memory store's reading of it).
    #[must_use]
    pub fn matches(&self, event: &AuditEvent) -> bool {
        let visible = match (&self.visible, event.tenant_id()) {
            (TenantScope::All, _) | (TenantScope::Only(_), None) => true,
            (TenantScope::Only(tenants), Some(tenant)) => tenants.contains(&tenant),
        };
        visible
            && event.workspace_id() == self.workspace
            && self.after_seq.is_none_or(|after| event.seq() > after)
            && self.tenant.is_none_or(|t| event.tenant_id() == Some(t))
            && self.action.is_none_or(|a| event.action() == a)
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

    /// The workspace's chain head: the `seq` and hash of its newest event as recorded by every
    /// append, or `None` when it never had an event. Verification compares the events with it.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn chain_head(&self, workspace: WorkspaceId) -> Result<Option<ChainHeadRecord>, StoreError>;

    /// Every workspace with at least one event and the `seq` of its newest, ordered by workspace
    /// (what a forwarder walks to find new events).
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError>;
}

/// A workspace's chain read page by page in `seq` order, in bounded memory: the one way
/// verification, export and the forwarder walk a chain.
pub struct ChainPages<'a> {
    log: &'a dyn AuditLog,
    workspace: WorkspaceId,
    after_seq: Option<u64>,
    page: u32,
    done: bool,
}

impl std::fmt::Debug for ChainPages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainPages").field("workspace", &self.workspace).field("after_seq", &self.after_seq).finish()
    }
}

impl<'a> ChainPages<'a> {
    /// Pages of `page` events of `workspace`'s chain after `after_seq` (from the start when
    /// `None`).
    #[must_use]
    pub fn new(log: &'a dyn AuditLog, workspace: WorkspaceId, after_seq: Option<u64>, page: u32) -> Self {
        Self { log, workspace, after_seq, page: page.max(1), done: false }
    }

    /// The next page; `None` once the chain is exhausted.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure (the same page is read again on the next call).
    pub async fn next_page(&mut self) -> Result<Option<Vec<AuditEvent>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let events = self.log.events(AuditQuery::whole_chain(self.workspace, self.after_seq, self.page)).await?;
        self.done = events.len() < self.page as usize;
        match events.last() {
            Some(last) => {
                self.after_seq = Some(last.seq());
                Ok(Some(events))
            }
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }
}
