//! The [`RunQueue`] port, expanded from the template of `verdict_sql::ports`: claim, lease
//! fencing (heartbeat, release, live report) and immutable completion. Every change is one
//! conditional `UPDATE` in a write transaction; when it matches no row, a read in the same
//! transaction tells which refusal applies.
//!
//! [`RunQueue`]: verdict_core::ports::RunQueue

use verdict_core::domain::{LeaseOwner, RunId};
use verdict_core::ports::{LeaseError, StoreError};
use verdict_sql::run_queue;
use verdict_sql::statements::RUN_STATUS;

use crate::SqliteStore;
use crate::audit::append;
use crate::continuous::enqueue;
use crate::errors::store_error;
use crate::rows::{run_columns, stored_at, stored_id, stored_optional_at};

/// Claims the oldest claimable run for `$1` at `$2` until `$3`. `status IN (...)` repeats the
/// queue index's predicate so SQLite can walk that index in (created_at, id) order and stop at
/// the first claimable run.
const CLAIM_NEXT: &str = concat!(
    "UPDATE operation_runs SET status = 'running', attempt = attempt + 1, \
     started_at = COALESCE(started_at, $2), lease_owner = $1, lease_expires_at = $3 \
     WHERE id = (SELECT id FROM operation_runs WHERE status IN ('queued', 'running') \
                 AND (status = 'queued' OR lease_expires_at IS NULL OR lease_expires_at <= $2) \
                 ORDER BY created_at, id LIMIT 1) \
     RETURNING ",
    run_columns!()
);

/// Extends the lease of run `$1` held by `$2` to `$3`.
const HEARTBEAT: &str =
    "UPDATE operation_runs SET lease_expires_at = $3 WHERE id = $1 AND status = 'running' AND lease_owner = $2";

/// Hands the lease of run `$1` held by `$2` back at `$3` without spending an attempt.
const RELEASE: &str = "UPDATE operation_runs SET lease_expires_at = $3, attempt = max(attempt - 1, 0) \
     WHERE id = $1 AND status = 'running' AND lease_owner = $2";

/// Replaces the live report (`$3`) and its counts (`$4`) of run `$1` held by `$2`.
const WRITE_LIVE_REPORT: &str = "UPDATE operation_runs \
     SET context = json_set(context, '$.verification_report', json($3)), summary_counts = $4 \
     WHERE id = $1 AND status = 'running' AND lease_owner = $2";

/// Completes run `$1` held by `$2` (the parameters are listed in `verdict_sql::run_queue!`).
const COMPLETE_RUN: &str = concat!(
    "UPDATE operation_runs SET status = 'completed', outcome = $3, summary_counts = $4, failure_summary = $5, \
     context = json_set(context, '$.verification_report', json($6)), completed_at = $7, \
     overall = $8, change_state = $9, credential_expires_at = $10, \
     lease_owner = NULL, lease_expires_at = NULL \
     WHERE id = $1 AND status = 'running' AND lease_owner = $2 \
     RETURNING ",
    run_columns!()
);

impl SqliteStore {
    /// Runs one lease-fenced `UPDATE` (`$1` run, `$2` owner, then `values`) and commits it, or
    /// rolls back and says why it matched no row.
    async fn fenced(
        &self,
        sql: &'static str,
        run: RunId,
        owner: &LeaseOwner,
        values: &[String],
    ) -> Result<(), LeaseError> {
        let mut tx = self.begin_write().await?;
        let mut query = sqlx::query(sql).bind(stored_id(run.as_uuid())).bind(owner.as_str());
        for value in values {
            query = query.bind(value.as_str());
        }
        let updated = query.execute(&mut *tx).await.map_err(store_error)?;
        if updated.rows_affected() == 0 {
            let status: Option<String> = sqlx::query_scalar(RUN_STATUS)
                .bind(stored_id(run.as_uuid()))
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
            tx.rollback().await?;
            return Err(LeaseError::refused(status.as_deref()).map_err(StoreError::from)?);
        }
        tx.commit().await?;
        Ok(())
    }
}

run_queue!(SqliteStore, verdict_sql::Sqlite);
