//! The [`RunStore`] port: idempotent starts — the queued path decided by the partial unique index,
//! the blocked path serialized by a transaction-scoped lock on the identity and committed with the
//! workspace's other writes of the moment (`group.rs`) — and the read side
//! (scope, one run, keyset pages, latest run, previous report, queue depth). The queue half lives
//! in `queue.rs`.

use async_trait::async_trait;
use sqlx::{PgConnection, PgExecutor};
use verdict_core::domain::{
    Acknowledgement, GENESIS_HASH, NewRun, PendingAuditEvent, Report, Run, RunCursor, RunId, RunIdentityHash,
    RunListQuery, RunPage, RunScope, RunSummary, to_micros,
};
use verdict_core::ports::{
    BlockedStart, QueueDepth, RunContextReads, RunInContext, RunStore, ScopeVisible, StartOutcome, StoreError,
    read_in_context,
};

use crate::PgStore;
use crate::acks;
use crate::audit::append_after;
use crate::error::store_error;
use crate::queries::{self, ACTIVE_RUN, INSERT_QUEUED, LATEST_RUN, PREVIOUS_REPORT, QUEUE_DEPTH, RUN_BY_ID, RUN_SCOPE};
use crate::rows::{RunRow, RunSummaryRow};

/// A row of `INSERT_QUEUED`: the inserted run and the chain head it locked.
#[derive(sqlx::FromRow)]
struct StartedRow {
    #[sqlx(flatten)]
    run: RunRow,
    head_seq: i64,
    head_hash: String,
}

/// How often a start retries when the active run it conflicted with completed before it could be
/// read. Each retry needs another run of the identity to complete in a window of microseconds.
const START_ATTEMPTS: usize = 16;

async fn scope_of<'e>(executor: impl PgExecutor<'e>, run: RunId) -> Result<Option<RunScope>, StoreError> {
    let row: Option<(i64, i64)> =
        sqlx::query_as(RUN_SCOPE).bind(run.as_uuid()).fetch_optional(executor).await.map_err(store_error)?;
    Ok(row.map(|(workspace, tenant)| RunScope::from_stored(workspace, tenant)).transpose()?)
}

async fn run_by_id<'e>(executor: impl PgExecutor<'e>, run: RunId) -> Result<Option<Run>, StoreError> {
    let row: Option<RunRow> =
        sqlx::query_as(RUN_BY_ID).bind(run.as_uuid()).fetch_optional(executor).await.map_err(store_error)?;
    row.map(Run::try_from).transpose()
}

impl PgStore {
    /// One attempt at a start: insert unless the partial unique index finds an active run of the
    /// identity, else read that run. `None` when it completed before it could be read.
    async fn try_start(&self, run: &NewRun, started: &PendingAuditEvent) -> Result<Option<StartOutcome>, StoreError> {
        let identity_hash = run.identity_hash();
        let mut tx = self.begin_write().await?;
        let inserted: Option<StartedRow> = sqlx::query_as(INSERT_QUEUED)
            .bind(run.id.as_uuid())
            .bind(run.identity.workspace_id.get())
            .bind(run.identity.tenant_id.get())
            .bind(run.identity.provider_connection_id.map(|c| *c.as_uuid()))
            .bind(run.identity.flow.as_str())
            .bind(identity_hash.as_str())
            .bind(run.initiator_user_id.as_ref().map(|u| u.as_str()))
            .bind(to_micros(run.created_at))
            .bind(GENESIS_HASH)
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        if let Some(StartedRow { run: row, head_seq, head_hash }) = inserted {
            let created = Run::try_from(row)?;
            append_after(&mut tx, run.identity.workspace_id, (head_seq, head_hash), vec![started.clone()]).await?;
            tx.commit().await?;
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
        tx.rollback().await?;
        active.map(|row| Run::try_from(row).map(StartOutcome::Deduplicated)).transpose()
    }
}

/// The run view's reads on one connection.
struct OnConnection<'c>(&'c mut PgConnection);

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
impl RunStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run.id))]
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

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %start.run.id))]
    async fn start_blocked(&self, start: BlockedStart) -> Result<StartOutcome, StoreError> {
        // Committed with the workspace's other blocked starts of the moment (`crate::group`).
        self.start_blocked_in_group(start).await
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
        // One connection for every statement instead of a checkout per statement.
        self.reading(async |conn| read_in_context(&mut OnConnection(conn), run, visible).await).await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %query.workspace_id, tenant_id = %query.tenant_id))]
    async fn list(&self, query: RunListQuery) -> Result<RunPage, StoreError> {
        let rows: Vec<RunSummaryRow> = self
            .reading(async |conn| {
                queries::list_runs("", &query).build_query_as().fetch_all(conn).await.map_err(store_error)
            })
            .await?;
        let runs = rows.into_iter().map(RunSummary::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(RunPage::from_overfetched(runs, query.limit))
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
                sqlx::query_scalar(PREVIOUS_REPORT)
                    .bind(identity.as_str())
                    .bind(before.created_at)
                    .bind(before.id.as_uuid())
                    .fetch_optional(conn)
                    .await
                    .map_err(store_error)
            })
            .await?;
        Ok(report.flatten().as_deref().map(Report::from_stored_json).transpose()?)
    }
    async fn queue_depth(&self) -> Result<QueueDepth, StoreError> {
        let rows: Vec<(String, i64)> =
            self.reading(async |conn| sqlx::query_as(QUEUE_DEPTH).fetch_all(conn).await.map_err(store_error)).await?;
        Ok(QueueDepth::from_stored(&rows)?)
    }
}

pub(crate) async fn latest(conn: &mut PgConnection, identity: &RunIdentityHash) -> Result<Option<Run>, StoreError> {
    let row: Option<RunRow> =
        sqlx::query_as(LATEST_RUN).bind(identity.as_str()).fetch_optional(conn).await.map_err(store_error)?;
    row.map(Run::try_from).transpose()
}
