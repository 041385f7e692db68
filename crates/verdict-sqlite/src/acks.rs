//! The [`AcknowledgementStore`] port: one immutable row per (run, check), decided by the unique
//! constraint `verification_check_acknowledgements_run_check_key` and by the foreign key
//! `verification_check_acknowledgements_run_fkey` to the run in the same workspace and tenant.

use async_trait::async_trait;
use sqlx::{SqliteConnection, SqliteExecutor};
use verdict_core::domain::{Acknowledgement, NewAcknowledgement, PendingAuditEvent, RunId};
use verdict_core::ports::{AckInsertError, AcknowledgementStore, StoreError};

use crate::SqliteStore;
use crate::audit::append;
use crate::errors::{invariant, is_foreign_key_violation, store_error};
use verdict_sql::ack_columns;

use crate::rows::{AckRow, stored_at, stored_optional_at};

/// Inserts `ack` unless its (run, check) is taken; `None` when it is. A run that does not exist
/// in the acknowledgement's workspace and tenant violates the table's only foreign key (SQLite
/// names no constraint in its errors, so the kind identifies it) and becomes
/// [`AckInsertError::RunNotFound`].
async fn insert(
    tx: &mut SqliteConnection,
    ack: &NewAcknowledgement,
) -> Result<Option<Acknowledgement>, AckInsertError> {
    let at = stored_at(ack.acknowledged_at);
    let row: Option<AckRow> = sqlx::query_as(concat!(
        "INSERT INTO verification_check_acknowledgements (",
        ack_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (operation_run_id, check_key) DO NOTHING RETURNING ",
        ack_columns!()
    ))
    .bind(ack.id.to_string())
    .bind(ack.workspace_id.get())
    .bind(ack.tenant_id.get())
    .bind(ack.run_id.to_string())
    .bind(ack.check_key.as_str())
    .bind(ack.reason.as_str())
    .bind(stored_optional_at(ack.expires_at))
    .bind(at.as_str())
    .bind(ack.acknowledged_by.as_str())
    .bind(at.as_str())
    .bind(at.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| if is_foreign_key_violation(&e) { AckInsertError::RunNotFound } else { store_error(e).into() })?;
    Ok(row.map(Acknowledgement::try_from).transpose()?)
}

async fn existing(tx: &mut SqliteConnection, ack: &NewAcknowledgement) -> Result<Acknowledgement, StoreError> {
    let row: Option<AckRow> = sqlx::query_as(concat!(
        "SELECT ",
        ack_columns!(),
        " FROM verification_check_acknowledgements WHERE operation_run_id = ? AND check_key = ?"
    ))
    .bind(ack.run_id.to_string())
    .bind(ack.check_key.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(store_error)?;
    row.ok_or_else(|| invariant("an acknowledgement conflicted with one that does not exist"))?.try_into()
}

#[async_trait]
impl AcknowledgementStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %ack.run_id, check_key = %ack.check_key))]
    async fn acknowledge(
        &self,
        ack: NewAcknowledgement,
        event: PendingAuditEvent,
    ) -> Result<Acknowledgement, AckInsertError> {
        let mut tx = self.begin_write().await?;
        let inserted = match insert(tx.conn(), &ack).await {
            Ok(inserted) => inserted,
            Err(AckInsertError::RunNotFound) => {
                tx.rollback().await?;
                return Err(AckInsertError::RunNotFound);
            }
            Err(other) => return Err(other),
        };
        let Some(stored) = inserted else {
            let winner = existing(tx.conn(), &ack).await?;
            tx.rollback().await?;
            return Err(AckInsertError::AlreadyAcknowledged(Box::new(winner)));
        };
        append(tx.conn(), event).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn list_for_run(&self, run: RunId) -> Result<Vec<Acknowledgement>, StoreError> {
        for_run(&self.reader, run).await
    }
}

/// A run's acknowledgements, oldest first, on `executor` (the reader pool, or the connection a
/// run view reads everything on).
pub(crate) async fn for_run<'e>(
    executor: impl SqliteExecutor<'e>,
    run: RunId,
) -> Result<Vec<Acknowledgement>, StoreError> {
    let rows: Vec<AckRow> = sqlx::query_as(concat!(
        "SELECT ",
        ack_columns!(),
        " FROM verification_check_acknowledgements WHERE operation_run_id = ? ORDER BY acknowledged_at, id"
    ))
    .bind(run.to_string())
    .fetch_all(executor)
    .await
    .map_err(store_error)?;
    rows.into_iter().map(Acknowledgement::try_from).collect()
}
