//! The run store: a durable queue of runs with idempotent start, leases and immutable
//! completion.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{
    Completion, LeaseOwner, NewRun, Outcome, PendingAuditEvent, Report, Run, RunCursor, RunId, RunIdentityHash,
    RunListQuery, RunPage, RunStatus,
};

/// What a start did.
#[derive(Debug, Clone, PartialEq)]
pub enum StartOutcome {
    /// A new run was queued (and `verification.started` written).
    Created(Run),
    /// An active run of the same identity already existed; it is returned, nothing is written.
    Deduplicated(Run),
}

impl StartOutcome {
    /// The run, created or found.
    #[must_use]
    pub fn run(&self) -> &Run {
        match self {
            Self::Created(run) | Self::Deduplicated(run) => run,
        }
    }
}

/// How many runs are in one (status, outcome), for operators' metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunTally {
    /// The status.
    pub status: RunStatus,
    /// The outcome.
    pub outcome: Outcome,
    /// How many runs.
    pub count: u64,
}

impl RunTally {
    /// Rebuilds a tally from stored columns.
    ///
    /// # Errors
    /// [`crate::domain::ParseError`] for an unknown status or outcome or a negative count.
    pub fn from_stored(status: &str, outcome: &str, count: i64) -> Result<Self, crate::domain::ParseError> {
        Ok(Self {
            status: RunStatus::parse(status)?,
            outcome: Outcome::parse(outcome)?,
            count: u64::try_from(count).map_err(|_| crate::domain::ParseError::new("count", "must not be negative"))?,
        })
    }
}

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

/// The durable run queue.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Inserts `run` as `queued` together with `started`, unless an active (queued or running)
    /// run with the same `(tenant_id, run_identity_hash)` exists, in which case that run is
    /// returned and nothing is written. Must be decided by the store's own uniqueness guarantee
    /// (a partial unique index), never by read-then-write: any number of concurrent calls for
    /// one identity create exactly one run.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure; nothing is written then.
    async fn start_or_deduplicate(&self, run: NewRun, started: PendingAuditEvent) -> Result<StartOutcome, StoreError>;

    /// Inserts a run that is already completed (the blocked stub of SPEC §5.3), with its
    /// `verification.started` and `verification.completed` events, atomically.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure; nothing is written then.
    async fn insert_completed(
        &self,
        run: NewRun,
        completion: Completion,
        started: PendingAuditEvent,
        completed: PendingAuditEvent,
    ) -> Result<Run, StoreError>;

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

    /// Hands a lease back early (graceful shutdown): the run stays `running` with its lease
    /// expiring at `now`, so the next claim picks it up.
    ///
    /// # Errors
    /// [`LeaseError::LeaseLost`] when the run is not running under `owner`.
    async fn release(&self, run: RunId, owner: &LeaseOwner, now: DateTime<Utc>) -> Result<(), LeaseError>;

    /// Replaces the live report of a running run held by `owner`.
    ///
    /// # Errors
    /// [`LeaseError::LeaseLost`] when the run is not running under `owner` (a completed run's
    /// report can never be changed this way).
    async fn write_live_report(&self, run: RunId, owner: &LeaseOwner, report: &Report) -> Result<(), LeaseError>;

    /// Completes a running run held by `owner`: final report, outcome, summary counts, failure
    /// summary, `completed_at`, lease cleared, and `completed` written — all in one transaction.
    ///
    /// # Errors
    /// [`CompleteError::AlreadyCompleted`] when it completed before (nothing changes),
    /// [`CompleteError::LeaseLost`] when another owner holds it, [`CompleteError::NotFound`].
    async fn complete(
        &self,
        run: RunId,
        owner: &LeaseOwner,
        completion: Completion,
        completed: PendingAuditEvent,
    ) -> Result<Run, CompleteError>;

    /// One run.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn get(&self, run: RunId) -> Result<Option<Run>, StoreError>;

    /// A page of a tenant's runs, newest first by `(created_at, id)`, after the query's cursor.
    /// Pages never repeat or skip a run that existed when the first page was read.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn list(&self, query: RunListQuery) -> Result<RunPage, StoreError>;

    /// The most recently created run of an identity, whatever its status.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn latest_for_identity(&self, identity: &RunIdentityHash) -> Result<Option<Run>, StoreError>;

    /// The report of the most recent run of the identity created before `before` (by
    /// `(created_at, id)`) that is completed and has a report.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn previous_completed_report(
        &self,
        identity: &RunIdentityHash,
        before: RunCursor,
    ) -> Result<Option<Report>, StoreError>;

    /// How many runs are in each (status, outcome) present, across all workspaces.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn tally(&self) -> Result<Vec<RunTally>, StoreError>;
}
