//! The template of the run queue (see [`crate::ports`] for the names it uses).

/// Implements `verdict_core::ports::RunQueue` for `$store`, whose rows decode with `$dialect`.
/// Besides the names in the module documentation, the adapter supplies:
///
/// - `CLAIM_NEXT`: claims the oldest claimable run (queued, or running with an expired lease) for
///   `$1` (owner) at `$2` (now) until `$3`, returning `run_columns!`;
/// - `HEARTBEAT` (`$3` the new lease expiry), `RELEASE` (`$3` now; the attempt is not spent) and
///   `WRITE_LIVE_REPORT` (`$3` the report, `$4` its counts): lease-fenced changes of run `$1` held
///   by `$2`, which `self.fenced(sql, run, owner, values)` runs and turns into `LeaseError`;
/// - `COMPLETE_RUN`: completes run `$1` held by `$2` with `$3` outcome, `$4` counts, `$5` failure
///   summary, `$6` report, `$7` completion time, `$8` overall, `$9` change state, `$10` credential
///   expiry, returning `run_columns!`, or no row when the lease is not the caller's;
/// - `enqueue(&mut conn, &events)`: the webhook fan-out of a completion, in its transaction.
///
/// A completion fans its webhook events out and appends its audit event in the same transaction,
/// the audit append last: on PostgreSQL its chain-head lock is then held for the shortest time.
#[macro_export]
macro_rules! run_queue {
    ($store:ty, $dialect:ty) => {
        const _: () = {
            use ::chrono::{DateTime, Utc};
            use ::tracing::instrument;
            use ::verdict_core::domain::{Completion, LeaseOwner, PendingAuditEvent, Report, Run, RunId, WebhookEvent};
            use ::verdict_core::ports::{CompleteError, LeaseError, RunQueue, StoreError};
            use $crate::rows::RunRow;
            use $crate::statements::RUN_STATUS;

            #[::async_trait::async_trait]
            impl RunQueue for $store {
                #[instrument(level = "debug", skip_all, fields(owner = %owner))]
                async fn claim_next(
                    &self,
                    owner: &LeaseOwner,
                    now: DateTime<Utc>,
                    lease_until: DateTime<Utc>,
                ) -> Result<Option<Run>, StoreError> {
                    let mut tx = self.begin_one_statement().await?;
                    let row: Option<RunRow<$dialect>> = ::sqlx::query_as(CLAIM_NEXT)
                        .bind(owner.as_str())
                        .bind(stored_at(now))
                        .bind(stored_at(lease_until))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    let claimed = row.map(Run::try_from).transpose()?;
                    tx.commit().await?;
                    Ok(claimed)
                }

                #[instrument(level = "debug", skip_all, fields(run_id = %run))]
                async fn heartbeat(
                    &self,
                    run: RunId,
                    owner: &LeaseOwner,
                    lease_until: DateTime<Utc>,
                ) -> Result<(), LeaseError> {
                    self.fenced(HEARTBEAT, run, owner, &[stored_at(lease_until)]).await
                }

                #[instrument(level = "debug", skip_all, fields(run_id = %run))]
                async fn release(&self, run: RunId, owner: &LeaseOwner, now: DateTime<Utc>) -> Result<(), LeaseError> {
                    self.fenced(RELEASE, run, owner, &[stored_at(now)]).await
                }

                #[instrument(level = "debug", skip_all, fields(run_id = %run))]
                async fn write_live_report(
                    &self,
                    run: RunId,
                    owner: &LeaseOwner,
                    report: &Report,
                ) -> Result<(), LeaseError> {
                    self.fenced(WRITE_LIVE_REPORT, run, owner, &[report.to_json_text(), report.summary_counts_json()])
                        .await
                }

                #[instrument(level = "debug", skip_all, fields(run_id = %run))]
                async fn complete(
                    &self,
                    run: RunId,
                    owner: &LeaseOwner,
                    completion: Completion,
                    completed: PendingAuditEvent,
                    events: Vec<WebhookEvent>,
                ) -> Result<Run, CompleteError> {
                    let mut tx = self.begin_write().await?;
                    let row: Option<RunRow<$dialect>> = ::sqlx::query_as(COMPLETE_RUN)
                        .bind(stored_id(run.as_uuid()))
                        .bind(owner.as_str())
                        .bind(completion.outcome().as_str())
                        .bind(completion.summary_counts_json())
                        .bind(completion.failure_summary_json())
                        .bind(completion.report().to_json_text())
                        .bind(stored_at(completion.completed_at()))
                        .bind(completion.overall().as_str())
                        .bind(completion.change_state().as_str())
                        .bind(stored_optional_at(completion.credential_expires_at()))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    let Some(row) = row else {
                        let status: Option<String> = ::sqlx::query_scalar(RUN_STATUS)
                            .bind(stored_id(run.as_uuid()))
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(store_error)?;
                        tx.rollback().await?;
                        return Err(CompleteError::refused(status.as_deref()).map_err(StoreError::from)?);
                    };
                    let done = Run::try_from(row)?;
                    enqueue(&mut tx, &events).await?;
                    append(&mut tx, completed).await?;
                    tx.commit().await?;
                    Ok(done)
                }
            }
        };
    };
}
