//! The acknowledgement store. Uniqueness per (run, check) and the existence of the run are the
//! schema's constraints; their violations are recognised by name and become business outcomes.

use async_trait::async_trait;
use sqlx::PgExecutor;
use verdict_core::domain::{Acknowledgement, NewAcknowledgement, PendingAuditEvent, RunId, to_micros};
use verdict_core::ports::{AckInsertError, AcknowledgementStore, StoreError};

use verdict_sql::ack_columns;

use crate::PgStore;
use crate::audit::append;
use crate::error::{ACK_RUN_CHECK_KEY, ACK_RUN_FKEY, store_error, violated_constraint};
use crate::rows::AckRow;

/// Rows are immutable, so `created_at` and `updated_at` are the acknowledgement time.
const INSERT: &str = concat!(
    "INSERT INTO verification_check_acknowledgements (",
    ack_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $8) RETURNING ",
    ack_columns!()
);

const BY_RUN_AND_KEY: &str = concat!(
    "SELECT ",
    ack_columns!(),
    " FROM verification_check_acknowledgements WHERE operation_run_id = $1 AND check_key = $2"
);

const FOR_RUN: &str = concat!(
    "SELECT ",
    ack_columns!(),
    " FROM verification_check_acknowledgements WHERE operation_run_id = $1 ORDER BY acknowledged_at, id"
);

impl PgStore {
    async fn existing_acknowledgement(&self, ack: &NewAcknowledgement) -> Result<Acknowledgement, AckInsertError> {
        let row: AckRow = sqlx::query_as(BY_RUN_AND_KEY)
            .bind(ack.run_id.as_uuid())
            .bind(ack.check_key.as_str())
            .fetch_one(self.pool())
            .await
            .map_err(store_error)?;
        Ok(Acknowledgement::try_from(row)?)
    }
}

#[async_trait]
impl AcknowledgementStore for PgStore {
    #[tracing::instrument(skip_all, fields(run_id = %ack.run_id))]
    async fn acknowledge(
        &self,
        ack: NewAcknowledgement,
        event: PendingAuditEvent,
    ) -> Result<Acknowledgement, AckInsertError> {
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        let inserted = sqlx::query_as::<_, AckRow>(INSERT)
            .bind(ack.id.as_uuid())
            .bind(ack.workspace_id.get())
            .bind(ack.tenant_id.get())
            .bind(ack.run_id.as_uuid())
            .bind(ack.check_key.as_str())
            .bind(ack.reason.as_str())
            .bind(ack.expires_at.map(to_micros))
            .bind(to_micros(ack.acknowledged_at))
            .bind(ack.acknowledged_by.as_str())
            .fetch_one(&mut *tx)
            .await;
        let row = match inserted {
            Ok(row) => row,
            Err(err) => {
                // The transaction is aborted; drop it before looking at the winner.
                tx.rollback().await.map_err(store_error)?;
                return Err(match violated_constraint(&err) {
                    // The unique violation is reported only once the winner committed, so it
                    // is visible now.
                    Some(ACK_RUN_CHECK_KEY) => {
                        AckInsertError::AlreadyAcknowledged(Box::new(self.existing_acknowledgement(&ack).await?))
                    }
                    Some(ACK_RUN_FKEY) => AckInsertError::RunNotFound,
                    _ => AckInsertError::Store(store_error(err)),
                });
            }
        };
        let stored = Acknowledgement::try_from(row)?;
        append(&mut tx, event).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(stored)
    }

    async fn list_for_run(&self, run: RunId) -> Result<Vec<Acknowledgement>, StoreError> {
        for_run(self.pool(), run).await
    }
}

/// A run's acknowledgements, oldest first, on `executor` (the pool, or the connection a run
/// view reads everything on).
pub(crate) async fn for_run<'e>(executor: impl PgExecutor<'e>, run: RunId) -> Result<Vec<Acknowledgement>, StoreError> {
    let rows: Vec<AckRow> =
        sqlx::query_as(FOR_RUN).bind(run.as_uuid()).fetch_all(executor).await.map_err(store_error)?;
    rows.into_iter().map(Acknowledgement::try_from).collect()
}
