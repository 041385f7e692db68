//! The run queue: claim, lease fencing (heartbeat, release, live report) and immutable
//! completion. Every change is one conditional `UPDATE` in a write transaction; when it matches
//! no row, a read in the same transaction tells which refusal applies.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use verdict_core::domain::{Completion, LeaseOwner, PendingAuditEvent, Report, Run, RunId, RunStatus};
use verdict_core::ports::{CompleteError, LeaseError, StoreError};
use verdict_core::rules::summary_counts;

use crate::SqliteStore;
use crate::audit::append;
use crate::errors::{corrupt, store_error};
use crate::rows::{RunRow, run_columns, timestamp};
use crate::runs::json_text;

/// Why a fenced update matched no row.
enum Refusal {
    NotFound,
    Completed,
    LeaseLost,
}

async fn refusal(tx: &mut SqliteConnection, run: RunId) -> Result<Refusal, StoreError> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM operation_runs WHERE id = ?")
        .bind(run.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
    let Some(status) = status else { return Ok(Refusal::NotFound) };
    match RunStatus::parse(&status).map_err(|e| corrupt("status", e))? {
        RunStatus::Completed => Ok(Refusal::Completed),
        RunStatus::Queued | RunStatus::Running => Ok(Refusal::LeaseLost),
    }
}

fn lease_error(refusal: Refusal) -> LeaseError {
    match refusal {
        Refusal::NotFound => LeaseError::NotFound,
        Refusal::Completed | Refusal::LeaseLost => LeaseError::LeaseLost,
    }
}

fn complete_error(refusal: Refusal) -> CompleteError {
    match refusal {
        Refusal::NotFound => CompleteError::NotFound,
        Refusal::Completed => CompleteError::AlreadyCompleted,
        Refusal::LeaseLost => CompleteError::LeaseLost,
    }
}

async fn complete_row(
    tx: &mut SqliteConnection,
    run: RunId,
    owner: &LeaseOwner,
    done: &Completion,
) -> Result<Option<Run>, StoreError> {
    let row: Option<RunRow> = sqlx::query_as(concat!(
        "UPDATE operation_runs SET status = 'completed', outcome = ?, summary_counts = ?, failure_summary = ?, \
         context = json_set(context, '$.verification_report', json(?)), completed_at = ?, \
         lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = ? AND status = 'running' AND lease_owner = ? \
         RETURNING ",
        run_columns!()
    ))
    .bind(done.outcome.as_str())
    .bind(json_text(&done.summary_counts)?)
    .bind(json_text(&done.failure_summary)?)
    .bind(report_json(&done.report)?)
    .bind(timestamp(done.completed_at))
    .bind(run.to_string())
    .bind(owner.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(store_error)?;
    row.map(RunRow::into_run).transpose()
}

fn report_json(report: &Report) -> Result<String, StoreError> {
    json_text(&report.to_json())
}

impl SqliteStore {
    /// Claims the oldest claimable run (see `RunStore::claim_next`).
    ///
    /// # Errors
    /// [`StoreError`] on storage failure; nothing is claimed then.
    #[tracing::instrument(level = "debug", skip_all, fields(owner = %owner))]
    pub(crate) async fn claim(
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
        .bind(timestamp(now))
        .bind(owner.as_str())
        .bind(timestamp(lease_until))
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let claimed = row.map(RunRow::into_run).transpose()?;
        tx.commit().await.map_err(store_error)?;
        Ok(claimed)
    }

    /// Sets the lease expiry of a run running under `owner` (heartbeat and release).
    ///
    /// # Errors
    /// [`LeaseError::LeaseLost`] when the run is not running under `owner`.
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run))]
    pub(crate) async fn set_lease_expiry(
        &self,
        run: RunId,
        owner: &LeaseOwner,
        expires_at: DateTime<Utc>,
    ) -> Result<(), LeaseError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE operation_runs SET lease_expires_at = ? WHERE id = ? AND status = 'running' AND lease_owner = ?",
        )
        .bind(timestamp(expires_at))
        .bind(run.to_string())
        .bind(owner.as_str())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        if updated.rows_affected() == 0 {
            return Err(lease_error(refusal(&mut tx, run).await?));
        }
        tx.commit().await.map_err(store_error)?;
        Ok(())
    }

    /// Replaces the live report of a run running under `owner`.
    ///
    /// # Errors
    /// [`LeaseError::LeaseLost`] when the run is not running under `owner`.
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run))]
    pub(crate) async fn replace_live_report(
        &self,
        run: RunId,
        owner: &LeaseOwner,
        report: &Report,
    ) -> Result<(), LeaseError> {
        let counts = json_text(&summary_counts(&report.summary().counts))?;
        let report = report_json(report)?;
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE operation_runs SET context = json_set(context, '$.verification_report', json(?)), \
             summary_counts = ? WHERE id = ? AND status = 'running' AND lease_owner = ?",
        )
        .bind(report)
        .bind(counts)
        .bind(run.to_string())
        .bind(owner.as_str())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        if updated.rows_affected() == 0 {
            return Err(lease_error(refusal(&mut tx, run).await?));
        }
        tx.commit().await.map_err(store_error)?;
        Ok(())
    }

    /// Completes a run running under `owner`, with its audit event, in one transaction.
    ///
    /// # Errors
    /// See `RunStore::complete`.
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run))]
    pub(crate) async fn finish(
        &self,
        run: RunId,
        owner: &LeaseOwner,
        completion: Completion,
        completed: PendingAuditEvent,
    ) -> Result<Run, CompleteError> {
        let mut tx = self.begin_write().await?;
        let Some(done) = complete_row(&mut tx, run, owner, &completion).await? else {
            return Err(complete_error(refusal(&mut tx, run).await?));
        };
        append(&mut tx, completed).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(done)
    }
}
