//! The run store as the API uses it: idempotent starts (the queued path and the blocked path),
//! and the reads behind the run view, the run list and the latest-run look-up. Workers use
//! [`super::RunQueue`] instead.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{
    Acknowledgement, Completion, NewRun, Outcome, PendingAuditEvent, Report, Run, RunCursor, RunId, RunIdentityHash,
    RunListQuery, RunPage, RunScope, WebhookEvent,
};
use crate::rules::blocked_stub_reason;

/// What a start did.
#[derive(Debug, Clone, PartialEq)]
pub enum StartOutcome {
    /// A new run was written (queued, or completed at once as a blocked stub), with its events.
    Created(Run),
    /// An existing run of the same identity is the answer; nothing was written.
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

/// A start whose prerequisites are missing: the blocked stub to write, unless the identity's
/// latest run already says the same (docs/contract.md, "Idempotent starts").
#[derive(Debug, Clone, PartialEq)]
pub struct BlockedStart {
    /// The run to insert, already completed.
    pub run: NewRun,
    /// Its completion: the stub report, outcome `blocked`.
    pub completion: Completion,
    /// `verification.started`.
    pub started: PendingAuditEvent,
    /// `verification.completed`.
    pub completed: PendingAuditEvent,
    /// The stub's webhook events, fanned out to the outbox with the insert (a blocked stub is a
    /// completion too).
    pub events: Vec<WebhookEvent>,
    /// When an existing stub answers this start instead.
    pub reuse: BlockedReuse,
}

/// The rule that makes blocked starts idempotent: the identity's latest run is a blocked stub for
/// the same reason, created after the connection last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedReuse {
    /// The stub's reason (its check's message).
    pub reason: String,
    /// When the connection last changed (`updated_at`); `None` when there is no connection.
    pub connection_changed_at: Option<DateTime<Utc>>,
}

impl BlockedReuse {
    /// Whether `latest`, the identity's most recent run, answers the start.
    #[must_use]
    pub fn reuses(&self, latest: &Run) -> bool {
        latest.outcome == Outcome::Blocked
            && latest.report.as_ref().and_then(blocked_stub_reason) == Some(self.reason.as_str())
            && self.connection_changed_at.is_none_or(|changed| changed <= latest.created_at)
    }
}

impl BlockedStart {
    /// Whether `latest`, the identity's most recent run, answers this start instead of a new
    /// stub: an active run always does, a stub when [`BlockedReuse::reuses`] it.
    #[must_use]
    pub fn answered_by(&self, latest: &Run) -> bool {
        latest.status.is_active() || self.reuse.reuses(latest)
    }
}

/// A run with what its view and its exports read besides it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInContext {
    /// The run, with its report.
    pub run: Run,
    /// Its acknowledgements, oldest first, expired ones included.
    pub acknowledgements: Vec<Acknowledgement>,
    /// The report the run's report links as previous, when it is still stored.
    pub previous: Option<Report>,
}

/// Whether the caller may see a run of this scope: authorization's answer, decided in core
/// (`crate::rules::authorize`) and handed to the store.
pub type ScopeVisible<'a> = &'a (dyn Fn(RunScope) -> bool + Send + Sync);

/// The reads behind [`RunStore::get_in_context`], on one connection of the adapter's: each
/// adapter states them in its SQL, and [`read_in_context`] orders them, so the rule — the scope
/// first, and nothing more for a run the caller may not see — is written once.
#[async_trait]
pub trait RunContextReads: Send {
    /// The run's scope; `None` when the run does not exist.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn scope(&mut self, run: RunId) -> Result<Option<RunScope>, StoreError>;
    /// The run, with its report.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn run(&mut self, run: RunId) -> Result<Option<Run>, StoreError>;
    /// The run's acknowledgements, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn acknowledgements(&mut self, run: RunId) -> Result<Vec<Acknowledgement>, StoreError>;
}

/// [`RunStore::get_in_context`] over an adapter's [`RunContextReads`].
///
/// # Errors
/// [`StoreError`] on storage failure.
pub async fn read_in_context(
    reads: &mut (impl RunContextReads + ?Sized),
    run: RunId,
    visible: ScopeVisible<'_>,
) -> Result<Option<RunInContext>, StoreError> {
    if !reads.scope(run).await?.is_some_and(visible) {
        return Ok(None);
    }
    let Some(run) = reads.run(run).await? else { return Ok(None) };
    let acknowledgements = reads.acknowledgements(run.id).await?;
    let previous = match run.report.as_ref().and_then(Report::previous_report_id) {
        Some(previous) => reads.run(previous).await?.and_then(|r| r.report),
        None => None,
    };
    Ok(Some(RunInContext { run, acknowledgements, previous }))
}

/// Runs as the API reads and writes them.
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

    /// Serialized per identity (a transaction-scoped lock on its hash, or the single writer):
    /// returns the identity's latest run when it is active or when [`BlockedReuse::reuses`] it;
    /// otherwise inserts the completed stub with both audit events and its webhook deliveries
    /// (fanned out as [`super::RunQueue::complete`] does), atomically. Any number of
    /// concurrent calls for one identity write at most one stub.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure; nothing is written then.
    async fn start_blocked(&self, start: BlockedStart) -> Result<StartOutcome, StoreError>;

    /// Where a run belongs, read without loading it: what authorization needs.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn scope(&self, run: RunId) -> Result<Option<RunScope>, StoreError>;

    /// One run.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn get(&self, run: RunId) -> Result<Option<Run>, StoreError>;

    /// The run with its acknowledgements and the report it links as previous, read with one
    /// database connection (one pool checkout for the request, not one per statement) — and only
    /// when `visible` accepts its scope, which is read first: for a run the caller may not see
    /// nothing more is read, so it costs what a missing run costs (docs/contract.md#authorization).
    /// `None` when the run is missing or not visible.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn get_in_context<'a>(
        &self,
        run: RunId,
        visible: ScopeVisible<'a>,
    ) -> Result<Option<RunInContext>, StoreError>;

    /// A page of a tenant's runs, newest first by `(created_at, id)`, after the query's cursor.
    /// Pages never repeat or skip a run that existed when the first page was read.
    ///
    /// The runs come as [`RunSummary`](crate::domain::RunSummary)s, only the columns a page
    /// shows: reading, parsing and then discarding fifty stored reports was most of a page's
    /// cost, the summaries' JSON a tenth of what remained, and decoding columns a page does not
    /// show a tenth again (docs/benchmarks.md, "The page of runs"). A run's report and
    /// summaries are read with [`RunStore::get`].
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

    /// How many runs are queued and running, across workspaces: the queue depth operators watch.
    /// Its cost is bounded by the active runs (the queue index), never by the run history.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn queue_depth(&self) -> Result<QueueDepth, StoreError>;
}

/// Active runs by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Waiting for a worker.
    pub queued: u64,
    /// Claimed by a worker.
    pub running: u64,
}

impl QueueDepth {
    /// Rebuilds the depth from stored `(status, count)` pairs of active runs.
    ///
    /// # Errors
    /// [`crate::domain::ParseError`] for a status other than queued or running, or a negative
    /// count.
    pub fn from_stored(rows: &[(String, i64)]) -> Result<Self, crate::domain::ParseError> {
        let mut depth = Self::default();
        for (status, count) in rows {
            let count =
                u64::try_from(*count).map_err(|_| crate::domain::ParseError::new("count", "must not be negative"))?;
            match crate::domain::RunStatus::parse(status)? {
                crate::domain::RunStatus::Queued => depth.queued += count,
                crate::domain::RunStatus::Running => depth.running += count,
                crate::domain::RunStatus::Completed => {
                    return Err(crate::domain::ParseError::new("status", "a completed run is not in the queue"));
                }
            }
        }
        Ok(depth)
    }
}
