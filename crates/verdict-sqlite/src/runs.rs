//! The [`RunStore`] port: idempotent start decided by the partial unique index
//! `operation_runs_active_identity_uidx`, the blocked-stub insert, and the read side (get,
//! keyset listing, latest and previous report of an identity). The queue lives in `queue`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use verdict_core::domain::{
    Completion, FlowId, LeaseOwner, NewRun, PendingAuditEvent, Report, Run, RunCursor, RunId, RunIdentityHash,
    RunListQuery, RunPage, RunStatus,
};
use verdict_core::ports::{CompleteError, LeaseError, RunStore, RunTally, StartOutcome, StoreError};

use crate::SqliteStore;
use crate::audit::append;
use crate::errors::{corrupt, invariant, store_error};
use crate::rows::{RunRow, convert_all, optional_timestamp, run_columns, timestamp};

/// The `context` document holding a report.
pub(crate) fn context_json(report: &Report) -> Result<String, StoreError> {
    serde_json::to_string(&serde_json::json!({ "verification_report": report.to_json() }))
        .map_err(|e| StoreError::Unexpected(e.into()))
}

/// JSON text of a summary column.
pub(crate) fn json_text(value: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Unexpected(e.into()))
}

/// Inserts `run` as queued unless the active-identity index already holds an active run of the
/// identity; returns the inserted run, or `None` when the index refused it.
async fn insert_queued(tx: &mut SqliteConnection, run: &NewRun) -> Result<Option<Run>, StoreError> {
    let row: Option<RunRow> = sqlx::query_as(concat!(
        "INSERT INTO operation_runs (id, workspace_id, tenant_id, provider_connection_id, type, run_identity_hash, \
         status, outcome, initiator_user_id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, 'queued', 'pending', ?, ?) \
         ON CONFLICT (tenant_id, run_identity_hash) WHERE status IN ('queued', 'running') DO NOTHING \
         RETURNING ",
        run_columns!()
    ))
    .bind(run.id.to_string())
    .bind(run.identity.workspace_id.get())
    .bind(run.identity.tenant_id.get())
    .bind(run.identity.provider_connection_id.map(|id| id.to_string()))
    .bind(run.identity.flow.as_str())
    .bind(run.identity_hash().as_str())
    .bind(run.initiator_user_id.as_ref().map(|u| u.as_str()))
    .bind(timestamp(run.created_at))
    .fetch_optional(&mut *tx)
    .await
    .map_err(store_error)?;
    row.map(RunRow::into_run).transpose()
}

async fn active_run(tx: &mut SqliteConnection, run: &NewRun) -> Result<Run, StoreError> {
    let row: Option<RunRow> = sqlx::query_as(concat!(
        "SELECT ",
        run_columns!(),
        " FROM operation_runs WHERE tenant_id = ? AND run_identity_hash = ? AND status IN ('queued', 'running')"
    ))
    .bind(run.identity.tenant_id.get())
    .bind(run.identity_hash().as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(store_error)?;
    row.ok_or_else(|| invariant("a start conflicted with an active run that does not exist"))?.into_run()
}

async fn insert_completed_row(tx: &mut SqliteConnection, run: &NewRun, done: &Completion) -> Result<Run, StoreError> {
    let row: RunRow = sqlx::query_as(concat!(
        "INSERT INTO operation_runs (id, workspace_id, tenant_id, provider_connection_id, type, run_identity_hash, \
         status, outcome, initiator_user_id, summary_counts, failure_summary, context, created_at, completed_at) \
         VALUES (?, ?, ?, ?, ?, ?, 'completed', ?, ?, ?, ?, ?, ?, ?) \
         RETURNING ",
        run_columns!()
    ))
    .bind(run.id.to_string())
    .bind(run.identity.workspace_id.get())
    .bind(run.identity.tenant_id.get())
    .bind(run.identity.provider_connection_id.map(|id| id.to_string()))
    .bind(run.identity.flow.as_str())
    .bind(run.identity_hash().as_str())
    .bind(done.outcome.as_str())
    .bind(run.initiator_user_id.as_ref().map(|u| u.as_str()))
    .bind(json_text(&done.summary_counts)?)
    .bind(json_text(&done.failure_summary)?)
    .bind(context_json(&done.report)?)
    .bind(timestamp(run.created_at))
    .bind(timestamp(done.completed_at))
    .fetch_one(&mut *tx)
    .await
    .map_err(store_error)?;
    row.into_run()
}

impl SqliteStore {
    async fn list_page(&self, query: &RunListQuery) -> Result<Vec<Run>, StoreError> {
        // Filters bound as NULL match everything; the listing index serves the order either way.
        macro_rules! select {
            ($keyset:literal) => {
                concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM operation_runs WHERE workspace_id = ?1 AND tenant_id = ?2 \
                     AND (?3 IS NULL OR type = ?3) AND (?4 IS NULL OR status = ?4) \
                     AND (?5 IS NULL OR provider_connection_id = ?5)",
                    $keyset,
                    " ORDER BY created_at DESC, id DESC LIMIT ?8"
                )
            };
        }
        let sql = if query.after.is_some() {
            select!(" AND (created_at, id) < (?6, ?7)")
        } else {
            select!(" AND ?6 IS NULL AND ?7 IS NULL")
        };
        let rows: Vec<RunRow> = sqlx::query_as(sql)
            .bind(query.workspace_id.get())
            .bind(query.tenant_id.get())
            .bind(query.flow.as_ref().map(FlowId::as_str))
            .bind(query.status.map(RunStatus::as_str))
            .bind(query.provider_connection_id.map(|id| id.to_string()))
            .bind(optional_timestamp(query.after.map(|c| c.created_at)))
            .bind(query.after.map(|c| c.id.to_string()))
            // One more than the page tells whether another page follows.
            .bind(i64::from(query.limit.get()) + 1)
            .fetch_all(&self.reader)
            .await
            .map_err(store_error)?;
        convert_all(rows, RunRow::into_run)
    }
}

#[async_trait]
impl RunStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run.id))]
    async fn start_or_deduplicate(&self, run: NewRun, started: PendingAuditEvent) -> Result<StartOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(created) = insert_queued(&mut tx, &run).await? {
            append(&mut tx, started).await?;
            tx.commit().await.map_err(store_error)?;
            return Ok(StartOutcome::Created(created));
        }
        let active = active_run(&mut tx, &run).await?;
        tx.rollback().await.map_err(store_error)?;
        Ok(StartOutcome::Deduplicated(active))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run.id))]
    async fn insert_completed(
        &self,
        run: NewRun,
        completion: Completion,
        started: PendingAuditEvent,
        completed: PendingAuditEvent,
    ) -> Result<Run, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = insert_completed_row(&mut tx, &run, &completion).await?;
        append(&mut tx, started).await?;
        append(&mut tx, completed).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(row)
    }

    async fn claim_next(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Run>, StoreError> {
        self.claim(owner, now, lease_until).await
    }

    async fn heartbeat(&self, run: RunId, owner: &LeaseOwner, lease_until: DateTime<Utc>) -> Result<(), LeaseError> {
        self.set_lease_expiry(run, owner, lease_until).await
    }

    async fn release(&self, run: RunId, owner: &LeaseOwner, now: DateTime<Utc>) -> Result<(), LeaseError> {
        self.set_lease_expiry(run, owner, now).await
    }

    async fn write_live_report(&self, run: RunId, owner: &LeaseOwner, report: &Report) -> Result<(), LeaseError> {
        self.replace_live_report(run, owner, report).await
    }

    async fn complete(
        &self,
        run: RunId,
        owner: &LeaseOwner,
        completion: Completion,
        completed: PendingAuditEvent,
    ) -> Result<Run, CompleteError> {
        self.finish(run, owner, completion, completed).await
    }

    async fn get(&self, run: RunId) -> Result<Option<Run>, StoreError> {
        let row: Option<RunRow> =
            sqlx::query_as(concat!("SELECT ", run_columns!(), " FROM operation_runs WHERE id = ?"))
                .bind(run.to_string())
                .fetch_optional(&self.reader)
                .await
                .map_err(store_error)?;
        row.map(RunRow::into_run).transpose()
    }

    async fn list(&self, query: RunListQuery) -> Result<RunPage, StoreError> {
        let mut runs = self.list_page(&query).await?;
        let limit = query.limit.get() as usize;
        let more = runs.len() > limit;
        runs.truncate(limit);
        let next = if more { runs.last().map(Run::cursor) } else { None };
        Ok(RunPage { runs, next })
    }

    async fn latest_for_identity(&self, identity: &RunIdentityHash) -> Result<Option<Run>, StoreError> {
        let row: Option<RunRow> = sqlx::query_as(concat!(
            "SELECT ",
            run_columns!(),
            " FROM operation_runs WHERE run_identity_hash = ? ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(identity.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        row.map(RunRow::into_run).transpose()
    }

    async fn previous_completed_report(
        &self,
        identity: &RunIdentityHash,
        before: RunCursor,
    ) -> Result<Option<Report>, StoreError> {
        let report: Option<Option<String>> = sqlx::query_scalar(
            "SELECT context -> '$.verification_report' FROM operation_runs \
             WHERE run_identity_hash = ? AND (created_at, id) < (?, ?) \
             AND status = 'completed' AND context -> '$.verification_report' IS NOT NULL \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(identity.as_str())
        .bind(timestamp(before.created_at))
        .bind(before.id.to_string())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?;
        report.flatten().map(|json| serde_json::from_str(&json).map_err(|e| corrupt("context", e))).transpose()
    }
    async fn tally(&self) -> Result<Vec<RunTally>, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT status, outcome, count(*) FROM operation_runs GROUP BY status, outcome ORDER BY status, outcome",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|(status, outcome, count)| {
                RunTally::from_stored(&status, &outcome, count).map_err(|e| StoreError::Unexpected(e.into()))
            })
            .collect()
    }
}
