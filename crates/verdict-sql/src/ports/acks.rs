//! The template of the acknowledgement store (see [`crate::ports`] for the names it uses).

/// Implements `verdict_core::ports::AcknowledgementStore` for `$store`, whose rows decode with
/// `$dialect` from the driver `$database`, and defines in the expanding module
/// `acknowledgements_of_run(executor, run)` for the run view's reads,
/// `insert_acknowledgement(conn, &ack)` (one acknowledgement's statements inside an open
/// transaction) and `acknowledge_alone(store, ack, event)` (one acknowledgement in a transaction
/// of its own). Besides the names in the module documentation, the adapter supplies
/// `is_missing_run(&sqlx::Error)`: whether an insert failed on the foreign key from the
/// acknowledgement to its run (in the same workspace and tenant). The port's `acknowledge` calls
/// `acknowledge_alone`, or the function named by a fourth argument, with the same signature, that
/// runs `insert_acknowledgement` its own way (PostgreSQL commits a workspace's acknowledgements
/// in groups).
///
/// One immutable row per (run, check): the insert does nothing on a conflict, and the row that won
/// (committed, or written earlier in the same transaction: visible to the next statement either
/// way) is read back for the refusal.
#[macro_export]
macro_rules! acknowledgement_store {
    ($store:ty, $dialect:ty, $database:ty) => {
        $crate::acknowledgement_store!($store, $dialect, $database, acknowledge_alone);
    };
    ($store:ty, $dialect:ty, $database:ty, $acknowledge:ident) => {
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

        /// Inserts `ack` within the open transaction `conn`: the stored acknowledgement, or
        /// [`AckInsertError::AlreadyAcknowledged`] with the row that won (nothing written, the
        /// transaction goes on), or [`AckInsertError::RunNotFound`] (the statement failed: the
        /// transaction must be rolled back), or a storage failure.
        ///
        /// [`AckInsertError::AlreadyAcknowledged`]: ::verdict_core::ports::AckInsertError::AlreadyAcknowledged
        /// [`AckInsertError::RunNotFound`]: ::verdict_core::ports::AckInsertError::RunNotFound
        pub(crate) async fn insert_acknowledgement(
            conn: &mut <$database as ::sqlx::Database>::Connection,
            ack: &::verdict_core::domain::NewAcknowledgement,
        ) -> Result<::verdict_core::domain::Acknowledgement, ::verdict_core::ports::AckInsertError> {
            use ::verdict_core::ports::AckInsertError;
            use $crate::rows::AckRow;
            use $crate::statements::{ACKNOWLEDGEMENT_OF_CHECK, INSERT_ACKNOWLEDGEMENT};
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
                .fetch_optional(&mut *conn)
                .await;
            match inserted {
                Ok(Some(row)) => Ok(row.try_into()?),
                Ok(None) => {
                    let winner: AckRow<$dialect> = ::sqlx::query_as(ACKNOWLEDGEMENT_OF_CHECK)
                        .bind(stored_id(ack.run_id.as_uuid()))
                        .bind(ack.check_key.as_str())
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    Err(AckInsertError::AlreadyAcknowledged(Box::new(winner.try_into()?)))
                }
                Err(error) if is_missing_run(&error) => Err(AckInsertError::RunNotFound),
                Err(error) => Err(store_error(error).into()),
            }
        }

        /// An acknowledgement in a transaction of its own: [`insert_acknowledgement`], then its
        /// audit event, committed; a refusal rolls back.
        pub(crate) async fn acknowledge_alone(
            store: &$store,
            ack: ::verdict_core::domain::NewAcknowledgement,
            event: ::verdict_core::domain::PendingAuditEvent,
        ) -> Result<::verdict_core::domain::Acknowledgement, ::verdict_core::ports::AckInsertError> {
            let mut tx = store.begin_write().await?;
            match insert_acknowledgement(&mut tx, &ack).await {
                Ok(stored) => {
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    Ok(stored)
                }
                Err(error @ ::verdict_core::ports::AckInsertError::Store(_)) => Err(error),
                Err(refused) => {
                    tx.rollback().await?;
                    Err(refused)
                }
            }
        }

        const _: () = {
            use ::tracing::instrument;
            use ::verdict_core::domain::{Acknowledgement, NewAcknowledgement, PendingAuditEvent, RunId};
            use ::verdict_core::ports::{AckInsertError, AcknowledgementStore, StoreError};

            #[::async_trait::async_trait]
            impl AcknowledgementStore for $store {
                #[instrument(level = "debug", skip_all, fields(run_id = %ack.run_id, check_key = %ack.check_key))]
                async fn acknowledge(
                    &self,
                    ack: NewAcknowledgement,
                    event: PendingAuditEvent,
                ) -> Result<Acknowledgement, AckInsertError> {
                    $acknowledge(self, ack, event).await
                }

                async fn list_for_run(&self, run: RunId) -> Result<Vec<Acknowledgement>, StoreError> {
                    self.reading(async |conn| acknowledgements_of_run(conn, run).await).await
                }
            }
        };
    };
}
