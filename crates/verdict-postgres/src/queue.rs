//! The [`RunQueue`] port: claiming with `FOR UPDATE SKIP LOCKED`, and the lease-fenced updates
//! (heartbeat, release, live report, completion). A fenced update changes a run only
//! while it is `running` under the caller's lease, so a worker whose lease was taken over — or a
//! run that completed — can never be changed by a stale owner.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use verdict_core::domain::{Completion, LeaseOwner, PendingAuditEvent, Report, Run, RunId, WebhookEvent, to_micros};
use verdict_core::ports::{CompleteError, LeaseError, RunQueue, StoreError};

use crate::PgStore;
use crate::audit::append;
use crate::error::store_error;
use crate::queries::{CLAIM_NEXT, COMPLETE_RUN, HEARTBEAT, RELEASE, RUN_STATUS, WRITE_LIVE_REPORT};
use crate::rows::RunRow;

/// A fenced update's answer: whether it changed the run, and whether the run exists.
fn fenced(changed: bool, found: bool) -> Result<(), LeaseError> {
    match (changed, found) {
        (true, _) => Ok(()),
        (false, true) => Err(LeaseError::LeaseLost),
        (false, false) => Err(LeaseError::NotFound),
    }
}

#[async_trait]
impl RunQueue for PgStore {
    #[tracing::instrument(skip_all, fields(owner = %owner))]
    async fn claim_next(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Run>, StoreError> {
        let row: Option<RunRow> = sqlx::query_as(CLAIM_NEXT)
            .bind(owner.as_str())
            .bind(to_micros(now))
            .bind(to_micros(lease_until))
            .fetch_optional(self.pool())
            .await
            .map_err(store_error)?;
        row.map(Run::try_from).transpose()
    }

    #[tracing::instrument(skip_all, fields(run_id = %run))]
    async fn heartbeat(&self, run: RunId, owner: &LeaseOwner, lease_until: DateTime<Utc>) -> Result<(), LeaseError> {
        let (changed, found): (bool, bool) = sqlx::query_as(HEARTBEAT)
            .bind(run.as_uuid())
            .bind(owner.as_str())
            .bind(to_micros(lease_until))
            .fetch_one(self.pool())
            .await
            .map_err(store_error)?;
        fenced(changed, found)
    }

    #[tracing::instrument(skip_all, fields(run_id = %run))]
    async fn release(&self, run: RunId, owner: &LeaseOwner, now: DateTime<Utc>) -> Result<(), LeaseError> {
        let (changed, found, _woken): (bool, bool, i64) = sqlx::query_as(RELEASE)
            .bind(run.as_uuid())
            .bind(owner.as_str())
            .bind(to_micros(now))
            .fetch_one(self.pool())
            .await
            .map_err(store_error)?;
        fenced(changed, found)
    }

    #[tracing::instrument(skip_all, fields(run_id = %run))]
    async fn write_live_report(&self, run: RunId, owner: &LeaseOwner, report: &Report) -> Result<(), LeaseError> {
        let counts = report.summary_counts_json();
        let (changed, found): (bool, bool) = sqlx::query_as(WRITE_LIVE_REPORT)
            .bind(run.as_uuid())
            .bind(owner.as_str())
            .bind(report.to_json_text())
            .bind(counts)
            .fetch_one(self.pool())
            .await
            .map_err(store_error)?;
        fenced(changed, found)
    }

    #[tracing::instrument(skip_all, fields(run_id = %run))]
    async fn complete(
        &self,
        run: RunId,
        owner: &LeaseOwner,
        completion: Completion,
        completed: PendingAuditEvent,
        events: Vec<WebhookEvent>,
    ) -> Result<Run, CompleteError> {
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        let row: Option<RunRow> = sqlx::query_as(COMPLETE_RUN)
            .bind(run.as_uuid())
            .bind(owner.as_str())
            .bind(completion.outcome().as_str())
            .bind(completion.summary_counts_json())
            .bind(completion.failure_summary_json())
            .bind(completion.report().to_json_text())
            .bind(completion.completed_at())
            .bind(completion.overall().as_str())
            .bind(completion.change_state().as_str())
            .bind(completion.credential_expires_at())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        let Some(row) = row else {
            let status: Option<String> = sqlx::query_scalar(RUN_STATUS)
                .bind(run.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
            tx.rollback().await.map_err(store_error)?;
            return Err(CompleteError::refused(status.as_deref()).map_err(StoreError::from)?);
        };
        let done = Run::try_from(row)?;
        // The workspace's chain head last: its lock is held until the commit.
        crate::continuous::enqueue(&mut tx, &events).await?;
        append(&mut tx, completed).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(done)
    }
}
