//! The run queue as workers use it: claim with a lease, keep the lease alive, hand it back,
//! write the live report, complete. Every call after the claim is fenced by the lease: it changes
//! a run only while it is `running` under the caller's lease.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{
    Completion, LeaseOwner, ParseError, PendingAuditEvent, Report, Run, RunId, RunStatus, WebhookEvent,
};

/// Why a lease operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// No such run.
    #[error("no such run")]
    NotFound,
    /// The run is not running under this owner any more (re-claimed or completed).
    #[error("the lease is held by someone else or the run is no longer running")]
    LeaseLost,
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LeaseError {
    /// Why a fenced update matched no row, from the run's stored status (`None`: no such run).
    ///
    /// # Errors
    /// [`ParseError`] for a status Verdict never writes.
    pub fn refused(status: Option<&str>) -> Result<Self, ParseError> {
        Ok(match status.map(RunStatus::parse).transpose()? {
            None => Self::NotFound,
            Some(_) => Self::LeaseLost,
        })
    }
}

/// Why completing a run was refused.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    /// No such run.
    #[error("no such run")]
    NotFound,
    /// The run already completed: its report never changes again.
    #[error("the run has already completed")]
    AlreadyCompleted,
    /// The run is running under another owner.
    #[error("the lease is held by someone else")]
    LeaseLost,
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CompleteError {
    /// Why a fenced completion matched no row, from the run's stored status.
    ///
    /// # Errors
    /// [`ParseError`] for a status Verdict never writes.
    pub fn refused(status: Option<&str>) -> Result<Self, ParseError> {
        Ok(match status.map(RunStatus::parse).transpose()? {
            None => Self::NotFound,
            Some(RunStatus::Completed) => Self::AlreadyCompleted,
            Some(RunStatus::Queued | RunStatus::Running) => Self::LeaseLost,
        })
    }
}

/// The durable run queue.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RunQueue: Send + Sync {
    /// Claims the oldest claimable run — `queued`, or `running` with a lease that expired at or
    /// before `now` — setting it `running`, `attempt + 1`, `started_at` (first claim only) and
    /// the lease `(owner, lease_until)`. Two concurrent callers never get the same run.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure; nothing is claimed then.
    async fn claim_next(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Run>, StoreError>;

    /// Extends the lease of a running run held by `owner`.
    ///
    /// # Errors
    /// [`LeaseError::LeaseLost`] when the run is not running under `owner`.
    async fn heartbeat(&self, run: RunId, owner: &LeaseOwner, lease_until: DateTime<Utc>) -> Result<(), LeaseError>;

    /// Hands a lease back early (graceful shutdown) without spending an attempt: the run stays
    /// `running` with its lease expiring at `now` and `attempt - 1`, so the next claim picks it
    /// up at once and counts the same attempt again. Only a lease that expired because its
    /// worker died counts towards abandonment.
    ///
    /// # Errors
    /// [`LeaseError::LeaseLost`] when the run is not running under `owner`.
    async fn release(&self, run: RunId, owner: &LeaseOwner, now: DateTime<Utc>) -> Result<(), LeaseError>;

    /// Replaces the live report (and `summary_counts`) of a running run held by `owner`.
    ///
    /// # Errors
    /// [`LeaseError::LeaseLost`] when the run is not running under `owner` (a completed run's
    /// report can never be changed this way).
    async fn write_live_report(&self, run: RunId, owner: &LeaseOwner, report: &Report) -> Result<(), LeaseError>;

    /// Completes a running run held by `owner`: final report, outcome, summary counts, failure
    /// summary, `completed_at`, lease cleared, `completed` written, and each of `events` fanned
    /// out as a pending delivery to every subscription of its workspace that receives its type
    /// (the outbox) — all in one transaction, so a completion is never seen without its
    /// deliveries, nor a delivery without its completion.
    ///
    /// # Errors
    /// [`CompleteError::AlreadyCompleted`] when it completed before (nothing changes),
    /// [`CompleteError::LeaseLost`] when another owner holds it, [`CompleteError::NotFound`];
    /// nothing is written on error.
    async fn complete(
        &self,
        run: RunId,
        owner: &LeaseOwner,
        completion: Completion,
        completed: PendingAuditEvent,
        events: Vec<WebhookEvent>,
    ) -> Result<Run, CompleteError>;
}
