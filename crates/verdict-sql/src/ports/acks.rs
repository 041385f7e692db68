//! The template of the acknowledgement store (see [`crate::ports`] for the names it uses).

/// Implements `verdict_core::ports::AcknowledgementStore` for `$store`, whose rows decode with
/// `$dialect` from the driver `$database`, and defines `acknowledgements_of_run(executor, run)` in
/// the expanding module for the run view's reads. Besides the names in the module documentation, the adapter supplies
/// `is_missing_run(&sqlx::Error)`: whether an insert failed on the foreign key from the
/// acknowledgement to its run (in the same workspace and tenant).
///
/// One immutable row per (run, check): the insert does nothing on a conflict, and the row that won
/// (committed, so visible to the next statement) is read back for the refusal.
#[macro_export]
macro_rules! acknowledgement_store {
    ($store:ty, $dialect:ty, $database:ty) => {
        /// A run's acknowledgements, oldest first, on `executor` (the reader pool, or the
        /// connection a run view reads everything on).
        pub(crate) async fn acknowledgements_of_run<'e>(
            executor: impl ::sqlx::Executor<'e, Database = $database>,
            run: ::verdict_core::domain::RunId,
        ) -> Result<Vec<::verdict_core::domain::Acknowledgement>, ::verdict_core::ports::StoreError> {
            let rows: Vec<$crate::rows::AckRow<$dialect>> =
                ::sqlx::query_as($crate::statements::ACKNOWLEDGEMENTS_OF_RUN)
                    .bind(stored_id(run.as_uuid()))
                    .fetch_all(executor)
                    .await
                    .map_err(store_error)?;
            rows.into_iter().map(::verdict_core::domain::Acknowledgement::try_from).collect()
        }

        const _: () = {
            use ::tracing::instrument;
            use ::verdict_core::domain::{Acknowledgement, NewAcknowledgement, PendingAuditEvent, RunId};
            use ::verdict_core::ports::{AckInsertError, AcknowledgementStore, StoreError};
            use $crate::rows::AckRow;
            use $crate::statements::{ACKNOWLEDGEMENT_OF_CHECK, INSERT_ACKNOWLEDGEMENT};

            #[::async_trait::async_trait]
            impl AcknowledgementStore for $store {
                #[instrument(level = "debug", skip_all, fields(run_id = %ack.run_id, check_key = %ack.check_key))]
                async fn acknowledge(
                    &self,
                    ack: NewAcknowledgement,
                    event: PendingAuditEvent,
                ) -> Result<Acknowledgement, AckInsertError> {
                    let mut tx = self.begin_write().await?;
                    let inserted: Result<Option<AckRow<$dialect>>, _> = ::sqlx::query_as(INSERT_ACKNOWLEDGEMENT)
                        .bind(stored_id(ack.id.as_uuid()))
                        .bind(ack.workspace_id.get())
                        .bind(ack.tenant_id.get())
                        .bind(stored_id(ack.run_id.as_uuid()))
                        .bind(ack.check_key.as_str())
                        .bind(ack.reason.as_str())
                        .bind(stored_optional_at(ack.expires_at))
                        .bind(stored_at(ack.acknowledged_at))
                        .bind(ack.acknowledged_by.as_str())
                        .fetch_optional(&mut *tx)
                        .await;
                    let row = match inserted {
                        Ok(row) => row,
                        Err(error) if is_missing_run(&error) => {
                            tx.rollback().await?;
                            return Err(AckInsertError::RunNotFound);
                        }
                        Err(error) => return Err(store_error(error).into()),
                    };
                    let Some(row) = row else {
                        let winner: AckRow<$dialect> = ::sqlx::query_as(ACKNOWLEDGEMENT_OF_CHECK)
                            .bind(stored_id(ack.run_id.as_uuid()))
                            .bind(ack.check_key.as_str())
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(store_error)?;
                        tx.rollback().await?;
                        return Err(AckInsertError::AlreadyAcknowledged(Box::new(winner.try_into()?)));
                    };
                    let stored = Acknowledgement::try_from(row)?;
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    Ok(stored)
                }

                async fn list_for_run(&self, run: RunId) -> Result<Vec<Acknowledgement>, StoreError> {
                    self.reading(async |conn| acknowledgements_of_run(conn, run).await).await
                }
            }
        };
    };
}
