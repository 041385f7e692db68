//! The [`RunQueue`] port: claim, lease fencing (heartbeat, release, live report) and immutable
//! completion. Every change is one conditional `UPDATE` in a write transaction; when it matches
//! no row, a read in the same transaction tells which refusal applies.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use verdict_core::domain::{Completion, LeaseOwner, PendingAuditEvent, Report, Run, RunId, WebhookEvent};
use verdict_core::ports::{CompleteError, LeaseError, RunQueue, StoreError};

use crate::SqliteStore;
use crate::audit::append;
use crate::errors::store_error;
use crate::rows::{RunRow, run_columns, stored_at, stored_optional_at};
use crate::write::WriteTx;

/// The stored status of `run` (`None` when there is no such run), to explain a refusal.
async fn status_of(tx: &mut WriteTx, run: RunId) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar("SELECT status FROM operation_runs WHERE id = ?")
        .bind(run.to_string())
        .fetch_optional(tx.conn())
        .await
        .map_err(store_error)
}

impl SqliteStore {
    /// Runs one lease-fenced `UPDATE` (`?1` run, `?2` owner, then `values`) and commits it, or
    /// rolls back and says why it matched no row.
    async fn fenced(
        &self,
        sql: &'static str,
        run: RunId,
        owner: &LeaseOwner,
        values: &[String],
    ) -> Result<(), LeaseError> {
        let mut tx = self.begin_write().await?;
        let mut query = sqlx::query(sql).bind(run.to_string()).bind(owner.as_str());
        for value in values {
            query = query.bind(value.as_str());
        }
        let updated = query.execute(tx.conn()).await.map_err(store_error)?;
        if updated.rows_affected() == 0 {
            let status = status_of(&mut tx, run).await?;
            tx.rollback().await?;
            return Err(LeaseError::refused(status.as_deref()).map_err(StoreError::from)?);
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl RunQueue for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(owner = %owner))]
    async fn claim_next(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Run>, StoreError> {
        let mut tx = self.begin_write().await?;
        // `status IN (...)` repeats the queue index's predicate so SQLite can walk that index in
        // (created_at, id) order and stop at the first claimable run.
        let row: Option<RunRow> = sqlx::query_as(concat!(
            "UPDATE operation_runs SET status = 'running', attempt = attempt + 1, \
             started_at = COALESCE(started_at, ?1), lease_owner = ?2, lease_expires_at = ?3 \
             WHERE id = (SELECT id FROM operation_runs WHERE status IN ('queued', 'running') \
                         AND (status = 'queued' OR lease_expires_at IS NULL OR lease_expires_at <= ?1) \
                         ORDER BY created_at, id LIMIT 1) \
             RETURNING ",
            run_columns!()
        ))
        .bind(stored_at(now))
        .bind(owner.as_str())
        .bind(stored_at(lease_until))
        .fetch_optional(tx.conn())
        .await
        .map_err(store_error)?;
        let claimed = row.map(Run::try_from).transpose()?;
        tx.commit().await?;
        Ok(claimed)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run))]
    async fn heartbeat(&self, run: RunId, owner: &LeaseOwner, lease_until: DateTime<Utc>) -> Result<(), LeaseError> {
        self.fenced(
            "UPDATE operation_runs SET lease_expires_at = ?3 WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
            run,
            owner,
            &[stored_at(lease_until)],
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run))]
    async fn release(&self, run: RunId, owner: &LeaseOwner, now: DateTime<Utc>) -> Result<(), LeaseError> {
        self.fenced(
            "UPDATE operation_runs SET lease_expires_at = ?3, attempt = max(attempt - 1, 0) \
             WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
            run,
            owner,
            &[stored_at(now)],
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run))]
    async fn write_live_report(&self, run: RunId, owner: &LeaseOwner, report: &Report) -> Result<(), LeaseError> {
        let counts = report.summary_counts_json();
        self.fenced(
            "UPDATE operation_runs SET context = json_set(context, '$.verification_report', json(?3)), \
             summary_counts = ?4 WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
            run,
            owner,
            &[report.to_json_text(), counts],
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run))]
    async fn complete(
        &self,
        run: RunId,
        owner: &LeaseOwner,
        completion: Completion,
        completed: PendingAuditEvent,
        events: Vec<WebhookEvent>,
    ) -> Result<Run, CompleteError> {
        let mut tx = self.begin_write().await?;
        let row: Option<RunRow> = sqlx::query_as(concat!(
            "UPDATE operation_runs SET status = 'completed', outcome = ?, summary_counts = ?, failure_summary = ?, \
             context = json_set(context, '$.verification_report', json(?)), completed_at = ?, \
             overall = ?, change_state = ?, credential_expires_at = ?, \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = ? AND status = 'running' AND lease_owner = ? \
             RETURNING ",
            run_columns!()
        ))
        .bind(completion.outcome().as_str())
        .bind(completion.summary_counts_json())
        .bind(completion.failure_summary_json())
        .bind(completion.report().to_json_text())
        .bind(stored_at(completion.completed_at()))
        .bind(completion.overall().as_str())
        .bind(completion.change_state().as_str())
        .bind(stored_optional_at(completion.credential_expires_at()))
        .bind(run.to_string())
        .bind(owner.as_str())
        .fetch_optional(tx.conn())
        .await
        .map_err(store_error)?;
        let Some(row) = row else {
            let status = status_of(&mut tx, run).await?;
            tx.rollback().await?;
            return Err(CompleteError::refused(status.as_deref()).map_err(StoreError::from)?);
        };
        let done = row.try_into()?;
        append(tx.conn(), completed).await?;
        crate::continuous::enqueue(tx.conn(), &events).await?;
        tx.commit().await?;
        Ok(done)
    }
}
