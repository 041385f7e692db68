//! Runs: one execution of a flow for one identity, as the store keeps it, and the values the run
//! lifecycle passes through the store ports (new run, claim, completion, listing).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Completion, Counts, FailureSummary, FlowId, ParseError, ProviderConnectionId, Report, RunId, RunIdentity,
    RunIdentityHash, TenantId, UserId, WorkspaceId,
};

/// Where a run is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for a worker.
    Queued,
    /// Claimed by a worker holding a lease.
    Running,
    /// Finished; its report never changes again.
    Completed,
}

impl RunStatus {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
        }
    }

    /// Parses a stored name.
    ///
    /// # Errors
    /// [`ParseError`] for an unknown name.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        match value {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "completed" => Ok(Self::Completed),
            _ => Err(ParseError::new("status", "must be queued, running or completed")),
        }
    }

    /// Queued or running: at most one such run exists per identity.
    #[must_use]
    pub const fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

/// How a run ended (docs/contract.md#outcomes-and-abandoned-runs). `Pending` until it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not completed yet.
    Pending,
    /// Completed with overall `ready` or `needs_attention`.
    Succeeded,
    /// Completed with overall `blocked`, or abandoned.
    Failed,
    /// Completed before it could run: prerequisites missing (docs/contract.md#blocked-runs).
    Blocked,
}

impl Outcome {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
        }
    }

    /// Parses a stored name.
    ///
    /// # Errors
    /// [`ParseError`] for an unknown name.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        match value {
            "pending" => Ok(Self::Pending),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            "blocked" => Ok(Self::Blocked),
            _ => Err(ParseError::new("outcome", "must be pending, succeeded, failed or blocked")),
        }
    }
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The run (and report) id.
    pub id: RunId,
    /// What it verifies.
    pub identity: RunIdentity,
    /// Hash of `identity`.
    pub identity_hash: RunIdentityHash,
    /// Lifecycle state.
    pub status: RunStatus,
    /// How it ended.
    pub outcome: Outcome,
    /// Who started it; `None` for system-started runs.
    pub initiator_user_id: Option<UserId>,
    /// Counts of the report's summary, once written.
    pub summary_counts: Option<Counts>,
    /// Keys and reason codes of failing checks, once completed.
    pub failure_summary: Option<FailureSummary>,
    /// The live or final report; `None` while queued.
    pub report: Option<Report>,
    /// How many times a worker has claimed it.
    pub attempt: u32,
    /// The worker holding the lease, while running.
    pub lease_owner: Option<LeaseOwner>,
    /// When the lease runs out, while running.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// First claim time.
    pub started_at: Option<DateTime<Utc>>,
    /// Completion time.
    pub completed_at: Option<DateTime<Utc>>,
}

impl Run {
    /// Ends the run with `completion`, as every store writes a completion: the report, its
    /// counts and failure summary, the outcome and the time, and no lease.
    pub fn complete(&mut self, completion: Completion) {
        self.status = RunStatus::Completed;
        self.outcome = completion.outcome();
        self.summary_counts = Some(*completion.summary_counts());
        self.failure_summary = Some(completion.failure_summary().clone());
        self.completed_at = Some(completion.completed_at());
        self.report = Some(completion.into_report());
        self.lease_owner = None;
        self.lease_expires_at = None;
    }

    /// The keyset position of this run in newest-first listings.
    #[must_use]
    pub fn cursor(&self) -> RunCursor {
        RunCursor { created_at: self.created_at, id: self.id }
    }

    /// The run as a page of runs shows it.
    #[must_use]
    pub fn summary(&self) -> RunSummary {
        RunSummary {
            id: self.id,
            identity: self.identity.clone(),
            status: self.status,
            outcome: self.outcome,
            initiator_user_id: self.initiator_user_id.clone(),
            attempt: self.attempt,
            created_at: self.created_at,
            started_at: self.started_at,
            completed_at: self.completed_at,
        }
    }

    /// The workspace and tenant the run belongs to.
    #[must_use]
    pub fn scope(&self) -> RunScope {
        RunScope { workspace_id: self.identity.workspace_id, tenant_id: self.identity.tenant_id }
    }
}

/// Where a run belongs: all that authorization needs, read before anything large is loaded so
/// that a foreign run and a missing one cost the same (docs/contract.md, "Authorization").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunScope {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The tenant.
    pub tenant_id: TenantId,
}

impl RunScope {
    /// Rebuilds a scope from stored columns.
    ///
    /// # Errors
    /// [`ParseError`] for a non-positive id.
    pub fn from_stored(workspace_id: i64, tenant_id: i64) -> Result<Self, ParseError> {
        Ok(Self { workspace_id: WorkspaceId::new(workspace_id)?, tenant_id: TenantId::new(tenant_id)? })
    }
}

/// A run about to be inserted.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// A fresh UUIDv7.
    pub id: RunId,
    /// What it verifies.
    pub identity: RunIdentity,
    /// Who starts it.
    pub initiator_user_id: Option<UserId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl NewRun {
    /// The identity hash the store deduplicates on.
    #[must_use]
    pub fn identity_hash(&self) -> RunIdentityHash {
        self.identity.hash()
    }

    /// The run every store holds once this one is inserted: queued, never claimed, its creation
    /// time at the microsecond the databases keep.
    #[must_use]
    pub fn queued(self) -> Run {
        Run {
            id: self.id,
            identity_hash: self.identity.hash(),
            identity: self.identity,
            status: RunStatus::Queued,
            outcome: Outcome::Pending,
            initiator_user_id: self.initiator_user_id,
            summary_counts: None,
            failure_summary: None,
            report: None,
            attempt: 0,
            lease_owner: None,
            lease_expires_at: None,
            created_at: super::to_micros(self.created_at),
            started_at: None,
            completed_at: None,
        }
    }

    /// The run every store holds once this one is inserted already completed (a blocked start's
    /// stub): a store that wrote it answers with this instead of reading its row back, and the
    /// conformance suite holds the two equal.
    #[must_use]
    pub fn completed(self, completion: Completion) -> Run {
        let mut run = self.queued();
        run.complete(completion);
        run
    }
}

/// A worker's name on a lease: 1–200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseOwner(String);

impl LeaseOwner {
    /// Parses a lease owner.
    ///
    /// # Errors
    /// [`ParseError`] when blank, too long or containing control characters.
    pub fn parse(value: impl Into<String>) -> Result<Self, ParseError> {
        let value = value.into();
        let len = value.chars().count();
        if len == 0 || len > 200 || value.chars().any(char::is_control) {
            return Err(ParseError::new("lease_owner", "must be 1 to 200 printable characters"));
        }
        Ok(Self(value))
    }

    /// A fresh unique owner name for a worker on this host.
    #[must_use]
    pub fn generate(prefix: &str) -> Self {
        Self(format!("{prefix}-{}", uuid::Uuid::now_v7().simple()))
    }

    /// The owner as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LeaseOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Filters and page position for listing a tenant's runs, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct RunListQuery {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Only this flow.
    pub flow: Option<FlowId>,
    /// Only this status.
    pub status: Option<RunStatus>,
    /// Only this provider connection.
    pub provider_connection_id: Option<ProviderConnectionId>,
    /// Page size, 1..=100.
    pub limit: PageLimit,
    /// Continue after this position.
    pub after: Option<RunCursor>,
}

impl RunListQuery {
    /// How many rows a store fetches: one more than the page, which tells whether another page
    /// follows (see [`RunPage::from_overfetched`]).
    #[must_use]
    pub fn fetch_limit(&self) -> i64 {
        self.limit.fetch_limit()
    }
}

/// A page size between 1 and 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    /// The largest page.
    pub const MAX: u32 = 100;

    /// How many rows a store fetches for a page of this size: one more, which tells whether
    /// another page follows (the pages' `from_overfetched`).
    #[must_use]
    pub fn fetch_limit(self) -> i64 {
        i64::from(self.0) + 1
    }

    /// Parses a page size.
    ///
    /// # Errors
    /// [`ParseError`] outside 1..=100.
    pub fn new(value: u32) -> Result<Self, ParseError> {
        if (1..=Self::MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(ParseError::new("limit", "must be between 1 and 100"))
        }
    }

    /// The size.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(50)
    }
}

/// A keyset position: `(created_at, id)`, descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunCursor {
    /// Creation time of the last run seen.
    pub created_at: DateTime<Utc>,
    /// Its id (breaks ties).
    pub id: RunId,
}

impl RunCursor {
    /// The pattern of the text form: every string that matches it is a cursor, so the OpenAPI
    /// document can describe the parameter exactly.
    pub const PATTERN: &'static str = "^[0-9]{16}-[0-9a-f]{32}$";

    /// The text form handed to API callers: the creation instant in microseconds since the
    /// epoch (16 digits) and the run id's 32 hex digits. Callers treat it as opaque.
    #[must_use]
    pub fn encode(&self) -> String {
        format!("{:016}-{}", self.created_at.timestamp_micros().max(0), self.id.as_uuid().simple())
    }

    /// Parses a cursor.
    ///
    /// # Errors
    /// [`ParseError`] unless the text matches [`RunCursor::PATTERN`].
    pub fn decode(text: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::new("cursor", "is not a cursor returned by this API");
        let (micros, id) = text.split_once('-').ok_or_else(bad)?;
        if micros.len() != 16 || !micros.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if id.len() != 32 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad());
        }
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        let created_at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
        let id = uuid::Uuid::try_parse(id).map_err(|_| bad())?;
        Ok(Self { created_at, id: RunId::from_uuid(id) })
    }
}

/// A run as a page of runs lists it: what a list shows and nothing it would have to read more
/// columns for (no report, summaries, lease or identity hash). Stores select only these columns
/// (docs/architecture.md, "Invariants and where they are enforced").
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The run (and report) id.
    pub id: RunId,
    /// What it verifies.
    pub identity: RunIdentity,
    /// Lifecycle state.
    pub status: RunStatus,
    /// How it ended.
    pub outcome: Outcome,
    /// Who started it; `None` for system-started runs.
    pub initiator_user_id: Option<UserId>,
    /// How many times a worker has claimed it.
    pub attempt: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// First claim time.
    pub started_at: Option<DateTime<Utc>>,
    /// Completion time.
    pub completed_at: Option<DateTime<Utc>>,
}

impl RunSummary {
    /// The keyset position of this run in newest-first listings.
    #[must_use]
    pub fn cursor(&self) -> RunCursor {
        RunCursor { created_at: self.created_at, id: self.id }
    }
}

/// One page of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    /// The runs, newest first.
    pub runs: Vec<RunSummary>,
    /// Where the next page starts, if there may be one.
    pub next: Option<RunCursor>,
}

impl RunPage {
    /// A page from up to [`RunListQuery::fetch_limit`] rows in listing order: the extra row, if
    /// present, only says that another page follows.
    #[must_use]
    pub fn from_overfetched(mut runs: Vec<RunSummary>, limit: PageLimit) -> Self {
        let limit = limit.get() as usize;
        let more = runs.len() > limit;
        runs.truncate(limit);
        let next = if more { runs.last().map(RunSummary::cursor) } else { None };
        Self { runs, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_anything_off_its_pattern() {
        let cursor = RunCursor { created_at: super::super::to_micros(Utc::now()), id: RunId::generate() };
        let text = cursor.encode();
        assert_eq!(RunCursor::decode(&text), Ok(cursor));
        assert!(regex::Regex::new(RunCursor::PATTERN).unwrap().is_match(&text), "{text}");
        for bad in ["", "!!", "bm90IGEgY3Vyc29y", "1-2", &text.to_uppercase(), &format!("{text}0"), &text[1..]] {
            assert!(RunCursor::decode(bad).is_err(), "{bad}");
        }
        // Every string of the pattern is a cursor: the extremes decode too.
        for edge in
            ["0000000000000000-00000000000000000000000000000000", "9999999999999999-ffffffffffffffffffffffffffffffff"]
        {
            assert!(RunCursor::decode(edge).is_ok(), "{edge}");
        }
    }

    #[test]
    fn page_limit_is_between_1_and_100() {
        assert!(PageLimit::new(0).is_err());
        assert!(PageLimit::new(1).is_ok());
        assert!(PageLimit::new(100).is_ok());
        assert!(PageLimit::new(101).is_err());
    }

    #[test]
    fn status_and_outcome_names_round_trip() {
        for s in [RunStatus::Queued, RunStatus::Running, RunStatus::Completed] {
            assert_eq!(RunStatus::parse(s.as_str()), Ok(s));
        }
        for o in [Outcome::Pending, Outcome::Succeeded, Outcome::Failed, Outcome::Blocked] {
            assert_eq!(Outcome::parse(o.as_str()), Ok(o));
        }
        assert!(RunStatus::parse("blocked").is_err());
    }
}
