//! The [`RunStore`] port: idempotent starts — the queued path decided by the partial unique index
//! `operation_runs_active_identity_uidx`, the blocked path serialized by the single writer — and
//! the read side (scope, get, keyset listing, latest and previous report, queue depth).

use async_trait::async_trait;
use sqlx::{SqliteConnection, SqliteExecutor};
use verdict_core::domain::{
    Acknowledgement, Completion, FlowId, NewRun, Report, Run, RunCursor, RunId, RunIdentityHash, RunListQuery, RunPage,
    RunScope, RunStatus, RunSummary,
};
use verdict_core::ports::{
    BlockedStart, QueueDepth, RunContextReads, RunInContext, RunStore, ScopeVisible, StartOutcome, StoreError,
    read_in_context,
};

use verdict_sql::run_summary_columns;

use crate::SqliteStore;
use crate::acks;
use crate::audit::{append, append_all};
use crate::errors::{invariant, store_error};
use crate::rows::{RunRow, RunSummaryRow, run_columns, stored_at, stored_optional_at};

async fn scope_of<'e>(executor: impl SqliteExecutor<'e>, run: RunId) -> Result<Option<RunScope>, StoreError> {
    let row: Option<(i64, i64)> = sqlx::query_as("SELECT workspace_id, tenant_id FROM operation_runs WHERE id = ?")
        .bind(run.to_string())
        .fetch_optional(executor)
        .await
        .map_err(store_error)?;
    Ok(row.map(|(workspace, tenant)| RunScope::from_stored(workspace, tenant)).transpose()?)
}

async fn run_by_id<'e>(executor: impl SqliteExecutor<'e>, run: RunId) -> Result<Option<Run>, StoreError> {
    let row: Option<RunRow> = sqlx::query_as(concat!("SELECT ", run_columns!(), " FROM operation_runs WHERE id = ?"))
        .bind(run.to_string())
        .fetch_optional(executor)
        .await
        .map_err(store_error)?;
    row.map(Run::try_from).transpose()
}

/// The `context` document holding a report.
pub(crate) fn context_json(report: &Report) -> String {
    format!(r#"{{"verification_report":{}}}"#, report.to_json_text())
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
    .bind(stored_at(run.created_at))
    .fetch_optional(&mut *tx)
    .await
    .map_err(store_error)?;
    row.map(Run::try_from).transpose()
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
    row.ok_or_else(|| invariant("a start conflicted with an active run that does not exist"))?.try_into()
}

async fn insert_completed(tx: &mut SqliteConnection, run: &NewRun, done: &Completion) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO operation_runs (id, workspace_id, tenant_id, provider_connection_id, type, run_identity_hash, \
         status, outcome, initiator_user_id, summary_counts, failure_summary, context, created_at, completed_at, \
         overall, change_state, credential_expires_at) \
         VALUES (?, ?, ?, ?, ?, ?, 'completed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(run.id.to_string())
    .bind(run.identity.workspace_id.get())
    .bind(run.identity.tenant_id.get())
    .bind(run.identity.provider_connection_id.map(|id| id.to_string()))
    .bind(run.identity.flow.as_str())
    .bind(run.identity_hash().as_str())
    .bind(done.outcome().as_str())
    .bind(run.initiator_user_id.as_ref().map(|u| u.as_str()))
    .bind(done.summary_counts_json())
    .bind(done.failure_summary_json())
    .bind(context_json(done.report()))
    .bind(stored_at(run.created_at))
    .bind(stored_at(done.completed_at()))
    .bind(done.overall().as_str())
    .bind(done.change_state().as_str())
    .bind(stored_optional_at(done.credential_expires_at()))
    .execute(&mut *tx)
    .await
    .map_err(store_error)?;
    Ok(())
}

async fn latest(conn: &mut SqliteConnection, identity: &RunIdentityHash) -> Result<Option<Run>, StoreError> {
    let row: Option<RunRow> = sqlx::query_as(concat!(
        "SELECT ",
        run_columns!(),
        " FROM operation_runs WHERE run_identity_hash = ? ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(identity.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(store_error)?;
    row.map(Run::try_from).transpose()
}

impl SqliteStore {
    async fn list_page(&self, query: &RunListQuery) -> Result<Vec<RunSummary>, StoreError> {
        // Filters bound as NULL match everything; the listing index serves the order either way.
        macro_rules! select {
            ($keyset:literal) => {
                concat!(
                    "SELECT ",
                    run_summary_columns!(),
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
        let rows: Vec<RunSummaryRow> = self
            .reading(async |conn| {
                sqlx::query_as(sql)
                    .bind(query.workspace_id.get())
                    .bind(query.tenant_id.get())
                    .bind(query.flow.as_ref().map(FlowId::as_str))
                    .bind(query.status.map(RunStatus::as_str))
                    .bind(query.provider_connection_id.map(|id| id.to_string()))
                    .bind(stored_optional_at(query.after.map(|c| c.created_at)))
                    .bind(query.after.map(|c| c.id.to_string()))
                    .bind(query.fetch_limit())
                    .fetch_all(conn)
                    .await
                    .map_err(store_error)
            })
            .await?;
        rows.into_iter().map(RunSummary::try_from).collect()
    }
}

/// The run view's reads on one connection.
struct OnConnection<'c>(&'c mut SqliteConnection);

#[async_trait]
impl RunContextReads for OnConnection<'_> {
    async fn scope(&mut self, run: RunId) -> Result<Option<RunScope>, StoreError> {
        scope_of(&mut *self.0, run).await
    }

    async fn run(&mut self, run: RunId) -> Result<Option<Run>, StoreError> {
        run_by_id(&mut *self.0, run).await
    }

    async fn acknowledgements(&mut self, run: RunId) -> Result<Vec<Acknowledgement>, StoreError> {
        acks::acknowledgements_of_run(&mut *self.0, run).await
    }
}

#[async_trait]
impl RunStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run.id))]
    async fn start_or_deduplicate(
        &self,
        run: NewRun,
        started: verdict_core::domain::PendingAuditEvent,
    ) -> Result<StartOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(created) = insert_queued(tx.conn(), &run).await? {
            append(tx.conn(), started).await?;
            tx.commit().await?;
            return Ok(StartOutcome::Created(created));
        }
        let active = active_run(tx.conn(), &run).await?;
        tx.rollback().await?;
        Ok(StartOutcome::Deduplicated(active))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %start.run.id))]
    async fn start_blocked(&self, start: BlockedStart) -> Result<StartOutcome, StoreError> {
        // The write transaction holds the database's write lock: starts of the identity run
        // one after the other, and each sees the stub the previous one wrote.
        let mut tx = self.begin_write().await?;
        if let Some(latest) = latest(tx.conn(), &start.run.identity_hash()).await?
            && start.answered_by(&latest)
        {
            tx.rollback().await?;
            return Ok(StartOutcome::Deduplicated(latest));
        }
        insert_completed(tx.conn(), &start.run, &start.completion).await?;
        append_all(tx.conn(), vec![start.started, start.completed]).await?;
        crate::continuous::enqueue(tx.conn(), &start.events).await?;
        tx.commit().await?;
        // What the row holds, without reading it back (`NewRun::completed`).
        Ok(StartOutcome::Created(start.run.completed(start.completion)))
    }

    async fn scope(&self, run: RunId) -> Result<Option<RunScope>, StoreError> {
        self.reading(async |conn| scope_of(conn, run).await).await
    }

    async fn get(&self, run: RunId) -> Result<Option<Run>, StoreError> {
        self.reading(async |conn| run_by_id(conn, run).await).await
    }

    async fn get_in_context<'a>(
        &self,
        run: RunId,
        visible: ScopeVisible<'a>,
    ) -> Result<Option<RunInContext>, StoreError> {
        // One reader connection for every statement instead of a checkout per statement.
        self.reading(async |conn| read_in_context(&mut OnConnection(conn), run, visible).await).await
    }

    async fn list(&self, query: RunListQuery) -> Result<RunPage, StoreError> {
        Ok(RunPage::from_overfetched(self.list_page(&query).await?, query.limit))
    }

    async fn latest_for_identity(&self, identity: &RunIdentityHash) -> Result<Option<Run>, StoreError> {
        self.reading(async |conn| latest(conn, identity).await).await
    }

    async fn previous_completed_report(
        &self,
        identity: &RunIdentityHash,
        before: RunCursor,
    ) -> Result<Option<Report>, StoreError> {
        let report: Option<Option<String>> = self
            .reading(async |conn| {
                sqlx::query_scalar(
                    "SELECT context -> '$.verification_report' FROM operation_runs \
             WHERE run_identity_hash = ? AND (created_at, id) < (?, ?) \
             AND status = 'completed' AND context -> '$.verification_report' IS NOT NULL \
             ORDER BY created_at DESC, id DESC LIMIT 1",
                )
                .bind(identity.as_str())
                .bind(stored_at(before.created_at))
                .bind(before.id.to_string())
                .fetch_optional(conn)
                .await
                .map_err(store_error)
            })
            .await?;
        Ok(report.flatten().as_deref().map(Report::from_stored_json).transpose()?)
    }

    async fn queue_depth(&self) -> Result<QueueDepth, StoreError> {
        // `status IN (...)` is the queue index's predicate: the count walks active runs only.
        let rows: Vec<(String, i64)> = self
            .reading(async |conn| {
                sqlx::query_as(
                    "SELECT status, count(*) FROM operation_runs WHERE status IN ('queued', 'running') GROUP BY status",
                )
                .fetch_all(conn)
                .await
                .map_err(store_error)
            })
            .await?;
        Ok(QueueDepth::from_stored(&rows)?)
    }
}
