//! The schedule store: one schedule per provider connection, set and removed with their audit
//! events, and claimed by schedulers when due.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{LeaseOwner, PendingAuditEvent, ProviderConnectionId, Schedule, TenantId, WorkspaceId};

/// Schedules of provider connections.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Inserts the connection's schedule, or replaces it (keeping its `created_at`), with its
    /// audit event, atomically. Replacing drops any scheduler's claim on it, so a scheduler that
    /// fired the old schedule cannot re-arm the new one.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure (including a connection that does not exist); nothing
    /// is written then.
    async fn set(&self, schedule: Schedule, event: PendingAuditEvent) -> Result<Schedule, StoreError>;

    /// The schedule of a connection of this workspace and tenant.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn get(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        connection: ProviderConnectionId,
    ) -> Result<Option<Schedule>, StoreError>;

    /// Removes the connection's schedule with its audit event, atomically. `false` (and nothing
    /// written) when it has none.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure; nothing is written then.
    async fn remove(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        connection: ProviderConnectionId,
        event: PendingAuditEvent,
    ) -> Result<bool, StoreError>;

    /// Claims up to `limit` due schedules — `next_run_at <= now`, not held under a claim that
    /// lasts beyond `now` — oldest due first, for `owner` until `claim_until`. Two concurrent
    /// callers never get the same schedule (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the
    /// single writer). A claim whose holder died expires, and the schedule is due again.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure; nothing is claimed then.
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Schedule>, StoreError>;

    /// Sets the next run of a schedule `owner` holds and releases the claim. `false` (nothing
    /// written) when the claim is no longer `owner`'s: the schedule was removed or set again,
    /// or another scheduler took it over after the claim expired.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn rearm(
        &self,
        connection: ProviderConnectionId,
        owner: &LeaseOwner,
        next_run_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}
