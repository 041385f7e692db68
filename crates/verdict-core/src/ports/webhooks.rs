//! Webhook subscriptions and the delivery outbox. Deliveries are written only by completions
//! (see [`super::RunQueue::complete`] and [`super::RunStore::start_blocked`]), which fan their
//! events out to the workspace's matching subscriptions in their own transaction; dispatchers
//! claim them here and record each attempt.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{
    AttemptRecord, ClaimedDelivery, DeliveryCursor, DeliveryPage, LeaseOwner, PageLimit, PendingAuditEvent,
    SecretCiphertext, Webhook, WebhookEventId, WebhookId, WorkspaceId,
};

/// A workspace's webhook subscriptions.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Inserts a subscription with its audit event, atomically.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure; nothing is written then.
    async fn create(&self, webhook: Webhook, event: PendingAuditEvent) -> Result<Webhook, StoreError>;

    /// One subscription of the workspace; one of another workspace is `None`.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn get(&self, workspace: WorkspaceId, id: WebhookId) -> Result<Option<Webhook>, StoreError>;

    /// The workspace's subscriptions, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn list(&self, workspace: WorkspaceId) -> Result<Vec<Webhook>, StoreError>;

    /// Deletes a subscription and its deliveries with the audit event, atomically. `false` (and
    /// nothing written) when there is no such subscription in the workspace.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure; nothing is written then.
    async fn delete(&self, workspace: WorkspaceId, id: WebhookId, event: PendingAuditEvent)
    -> Result<bool, StoreError>;

    /// Replaces the secret with its audit event, atomically; every later attempt, retries
    /// included, reads the new one. `None` (nothing written) when there is no such subscription.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure; nothing is written then.
    async fn rotate_secret(
        &self,
        workspace: WorkspaceId,
        id: WebhookId,
        ciphertext: SecretCiphertext,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<Option<Webhook>, StoreError>;
}

/// The delivery outbox, as dispatchers and the deliveries endpoint use it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DeliveryOutbox: Send + Sync {
    /// Claims up to `limit` due deliveries — `pending` with `next_attempt_at <= now` — oldest
    /// due first: counts the attempt, names `owner`, and pushes `next_attempt_at` to
    /// `claim_until`, so a delivery whose dispatcher died becomes due again then. Each comes with
    /// its subscription's URL and current secret. Two concurrent callers never get the same
    /// delivery (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the single writer).
    ///
    /// # Errors
    /// [`StoreError`] on storage failure; nothing is claimed then.
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records the end of attempt number `attempt` of a delivery `owner` claimed. `false`
    /// (nothing written) when it is no longer that claim: another dispatcher claimed it after
    /// the claim expired, or the subscription was deleted.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn record_attempt(
        &self,
        webhook: WebhookId,
        event: WebhookEventId,
        owner: &LeaseOwner,
        attempt: u32,
        record: AttemptRecord,
    ) -> Result<bool, StoreError>;

    /// A page of a subscription's deliveries, newest event first, after `after`.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn list(
        &self,
        webhook: WebhookId,
        after: Option<DeliveryCursor>,
        limit: PageLimit,
    ) -> Result<DeliveryPage, StoreError>;

    /// How many deliveries are pending, across workspaces: the outbox depth operators watch. Its
    /// cost is bounded by the pending deliveries (a partial index), never by the history.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn pending_count(&self) -> Result<u64, StoreError>;

    /// When the earliest pending delivery is due (what a dispatcher sleeps until), if any.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
}
