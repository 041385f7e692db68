//! The run store: idempotent start decided by the partial unique index, the blocked-stub insert,
//! and the read side (one run, keyset pages, latest run, previous report). The queue half lives
//! in `queue.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use verdict_core::domain::{
    Completion, LeaseOwner, NewRun, PendingAuditEvent, Report, Run, RunCursor, RunId, RunIdentityHash, RunListQuery,
    RunPage, to_micros,
};
use verdict_core::ports::{CompleteError, LeaseError, RunStore, RunTally, StartOutcome, StoreError};

use crate::PgStore;
use crate::audit::append;
use crate::error::store_error;
use crate::queries::{ACTIVE_RUN, INSERT_COMPLETED, INSERT_QUEUED, LATEST_RUN, LIST_RUNS, PREVIOUS_REPORT, RUN_BY_ID};
use crate::rows::{RunRow, report_from_json};

/// How often a start retries when the active run it conflicted with completed before it could be
/// read. Each retry needs another run of the identity to complete in a window of microseconds.
const START_ATTEMPTS: usize = 16;

impl PgStore {
    /// One attempt at a start: insert unless the partial unique index finds an active run of the
    /// identity, else read that run. `None` when it completed before it could be read.
    async fn try_start(&self, run: &NewRun, started: &PendingAuditEvent) -> Result<Option<StartOutcome>, StoreError> {
        let identity_hash = run.identity_hash();
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        let inserted: Option<RunRow> = sqlx::query_as(INSERT_QUEUED)
            .bind(run.id.as_uuid())
            .bind(run.identity.workspace_id.get())
            .bind(run.identity.tenant_id.get())
            .bind(run.identity.provider_connection_id.map(|c| *c.as_uuid()))
            .bind(run.identity.flow.as_str())
            .bind(identity_hash.as_str())
            .bind(run.initiator_user_id.as_ref().map(|u| u.as_str()))
            .bind(to_micros(run.created_at))
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        if let Some(row) = inserted {
            let created = Run::try_from(row)?;
            append(&mut tx, started.clone()).await?;
            tx.commit().await.map_err(store_error)?;
            return Ok(Some(StartOutcome::Created(created)));
        }
        // The insert found a committed active run of the identity (waiting for a concurrent
        // inserter to finish first, if there was one); this statement's fresh snapshot sees it.
        let active: Option<RunRow> = sqlx::query_as(ACTIVE_RUN)
            .bind(run.identity.tenant_id.get())
            .bind(identity_hash.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.rollback().await.map_err(store_error)?;
        active.map(|row| Run::try_from(row).map(StartOutcome::Deduplicated)).transpose()
    }
}

#[async_trait]
impl RunStore for PgStore {
    #[tracing::instrument(skip_all, fields(run_id = %run.id))]
    async fn start_or_deduplicate(&self, run: NewRun, started: PendingAuditEvent) -> Result<StartOutcome, StoreError> {
        for _ in 0..START_ATTEMPTS {
            if let Some(outcome) = self.try_start(&run, &started).await? {
                return Ok(outcome);
            }
        }
        Err(StoreError::Unexpected(anyhow::anyhow!(
            "start kept conflicting with active runs that completed before they could be read"
        )))
    }

    #[tracing::instrument(skip_all, fields(run_id = %run.id))]
    async fn insert_completed(
        &self,
        run: NewRun,
        completion: Completion,
        started: PendingAuditEvent,
        completed: PendingAuditEvent,
    ) -> Result<Run, StoreError> {
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        let row: RunRow = sqlx::query_as(INSERT_COMPLETED)
            .bind(run.id.as_uuid())
            .bind(run.identity.workspace_id.get())
            .bind(run.identity.tenant_id.get())
            .bind(run.identity.provider_connection_id.map(|c| *c.as_uuid()))
            .bind(run.identity.flow.as_str())
            .bind(run.identity_hash().as_str())
            .bind(completion.outcome.as_str())
            .bind(run.initiator_user_id.as_ref().map(|u| u.as_str()))
            .bind(&completion.summary_counts)
            .bind(&completion.failure_summary)
            .bind(completion.report.to_json())
            .bind(to_micros(run.created_at))
            .bind(to_micros(completion.completed_at))
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        let stored = Run::try_from(row)?;
        append(&mut tx, started).await?;
        append(&mut tx, completed).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(stored)
    }

    async fn claim_next(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Run>, StoreError> {
        crate::queue::claim_next(self, owner, now, lease_until).await
    }

    async fn heartbeat(&self, run: RunId, owner: &LeaseOwner, lease_until: DateTime<Utc>) -> Result<(), LeaseError> {
        crate::queue::heartbeat(self, run, owner, lease_until).await
    }

    async fn release(&self, run: RunId, owner: &LeaseOwner, now: DateTime<Utc>) -> Result<(), LeaseError> {
        crate::queue::release(self, run, owner, now).await
    }

    async fn write_live_report(&self, run: RunId, owner: &LeaseOwner, report: &Report) -> Result<(), LeaseError> {
        crate::queue::write_live_report(self, run, owner, report).await
    }

    async fn complete(
        &self,
        run: RunId,
        owner: &LeaseOwner,
        completion: Completion,
        completed: PendingAuditEvent,
    ) -> Result<Run, CompleteError> {
        crate::queue::complete(self, run, owner, completion, completed).await
    }

    async fn get(&self, run: RunId) -> Result<Option<Run>, StoreError> {
        let row: Option<RunRow> =
            sqlx::query_as(RUN_BY_ID).bind(run.as_uuid()).fetch_optional(self.pool()).await.map_err(store_error)?;
        row.map(Run::try_from).transpose()
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %query.workspace_id, tenant_id = %query.tenant_id))]
    async fn list(&self, query: RunListQuery) -> Result<RunPage, StoreError> {
        let limit = query.limit.get() as usize;
        let rows: Vec<RunRow> = sqlx::query_as(LIST_RUNS)
            .bind(query.workspace_id.get())
            .bind(query.tenant_id.get())
            .bind(query.flow.as_ref().map(|f| f.as_str()))
            .bind(query.status.map(|s| s.as_str()))
            .bind(query.provider_connection_id.map(|c| *c.as_uuid()))
            .bind(query.after.map(|c| c.created_at))
            .bind(query.after.map(|c| *c.id.as_uuid()))
            // One more than the page tells whether another page follows.
            .bind(i64::from(query.limit.get()) + 1)
            .fetch_all(self.pool())
            .await
            .map_err(store_error)?;
        let more = rows.len() > limit;
        let runs = rows.into_iter().take(limit).map(Run::try_from).collect::<Result<Vec<_>, _>>()?;
        let next = if more { runs.last().map(Run::cursor) } else { None };
        Ok(RunPage { runs, next })
    }

    async fn latest_for_identity(&self, identity: &RunIdentityHash) -> Result<Option<Run>, StoreError> {
        let row: Option<RunRow> = sqlx::query_as(LATEST_RUN)
            .bind(identity.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(store_error)?;
        row.map(Run::try_from).transpose()
    }

    async fn previous_completed_report(
        &self,
        identity: &RunIdentityHash,
        before: RunCursor,
    ) -> Result<Option<Report>, StoreError> {
        let report: Option<Option<serde_json::Value>> = sqlx::query_scalar(PREVIOUS_REPORT)
            .bind(identity.as_str())
            .bind(before.created_at)
            .bind(before.id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .map_err(store_error)?;
        report.flatten().map(report_from_json).transpose()
    }
    async fn tally(&self) -> Result<Vec<RunTally>, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT status, outcome, count(*) FROM operation_runs GROUP BY status, outcome ORDER BY status, outcome",
        )
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|(status, outcome, count)| {
                RunTally::from_stored(&status, &outcome, count).map_err(|e| StoreError::Unexpected(e.into()))
            })
            .collect()
    }
}
