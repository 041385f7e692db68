//! Port implementations written once for both storage adapters, as templates each adapter expands
//! for its store (docs/architecture.md, "Storage and schema").
//!
//! A template is the whole body of a port's implementation: the order of its statements, what it
//! binds, which transaction it runs in and how it maps the rows back. What differs between the
//! databases is supplied by the adapter, by name, in the module that expands the template:
//!
//! | name | what it is |
//! |---|---|
//! | `self.begin_write()` | a write transaction: derefs to the driver's connection, with `commit()` and `rollback()` returning `StoreError` |
//! | `self.reader()` | the pool reads run on |
//! | `append(&mut conn, event)` | appends an audit event to its workspace's chain inside the transaction |
//! | `store_error(sqlx::Error)` | the adapter's translation of a driver error |
//! | `stored_id(&Uuid)`, `stored_at(DateTime<Utc>)`, `stored_optional_at(Option<DateTime<Utc>>)` | the bound forms of an id and an instant |
//! | a `const` per statement a template names in capitals and [`crate::statements`] does not hold | the adapter's SQL |
//!
//! The templates are macros rather than functions generic over `sqlx::Database` because each
//! expansion is checked against one concrete driver: a generic function would have to restate
//! sqlx's encode, decode and executor bounds for every type it binds. A name missing at the
//! expansion site is a compile error there.

/// Implements `verdict_core::ports::ScheduleStore` for `$store`, whose rows decode with
/// `$dialect`. The adapter supplies `CLAIM_SCHEDULES` (`$1` owner, `$2` now, `$3` claim expiry,
/// `$4` limit, returning `schedule_columns!`) besides the names in the module documentation.
#[macro_export]
macro_rules! schedule_store {
    ($store:ty, $dialect:ty) => {
        const _: () = {
            use ::chrono::{DateTime, Utc};
            use ::verdict_core::domain::{LeaseOwner, PendingAuditEvent, ProviderConnectionId, Schedule, TenantId, WorkspaceId};
            use ::verdict_core::ports::{ScheduleStore, StoreError};
            use $crate::rows::ScheduleRow;
            use $crate::statements::{GET_SCHEDULE, REARM_SCHEDULE, REMOVE_SCHEDULE, SET_SCHEDULE};

            #[::async_trait::async_trait]
            impl ScheduleStore for $store {
                #[::tracing::instrument(level = "debug", skip_all, fields(connection_id = %schedule.provider_connection_id))]
                async fn set(&self, schedule: Schedule, event: PendingAuditEvent) -> Result<Schedule, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let row: ScheduleRow<$dialect> = ::sqlx::query_as(SET_SCHEDULE)
                        .bind(stored_id(schedule.provider_connection_id.as_uuid()))
                        .bind(schedule.workspace_id.get())
                        .bind(schedule.tenant_id.get())
                        .bind(schedule.flow.as_str())
                        .bind(schedule.interval.as_str())
                        .bind(schedule.interval.seconds())
                        .bind(stored_at(schedule.next_run_at))
                        .bind(stored_at(schedule.created_at))
                        .bind(stored_at(schedule.updated_at))
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    row.try_into()
                }

                async fn get(
                    &self,
                    workspace: WorkspaceId,
                    tenant: TenantId,
                    connection: ProviderConnectionId,
                ) -> Result<Option<Schedule>, StoreError> {
                    let row: Option<ScheduleRow<$dialect>> = ::sqlx::query_as(GET_SCHEDULE)
                        .bind(stored_id(connection.as_uuid()))
                        .bind(workspace.get())
                        .bind(tenant.get())
                        .fetch_optional(self.reader())
                        .await
                        .map_err(store_error)?;
                    row.map(Schedule::try_from).transpose()
                }

                async fn remove(
                    &self,
                    workspace: WorkspaceId,
                    tenant: TenantId,
                    connection: ProviderConnectionId,
                    event: PendingAuditEvent,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let deleted = ::sqlx::query(REMOVE_SCHEDULE)
                        .bind(stored_id(connection.as_uuid()))
                        .bind(workspace.get())
                        .bind(tenant.get())
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    if deleted.rows_affected() == 0 {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    Ok(true)
                }

                #[::tracing::instrument(level = "debug", skip_all, fields(owner = %owner))]
                async fn claim_due(
                    &self,
                    owner: &LeaseOwner,
                    now: DateTime<Utc>,
                    claim_until: DateTime<Utc>,
                    limit: u32,
                ) -> Result<Vec<Schedule>, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let rows: Vec<ScheduleRow<$dialect>> = ::sqlx::query_as(CLAIM_SCHEDULES)
                        .bind(owner.as_str())
                        .bind(stored_at(now))
                        .bind(stored_at(claim_until))
                        .bind(i64::from(limit))
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    tx.commit().await?;
                    let mut schedules = rows.into_iter().map(Schedule::try_from).collect::<Result<Vec<_>, _>>()?;
                    schedules.sort_by_key(|s| (s.next_run_at, s.provider_connection_id));
                    Ok(schedules)
                }

                async fn rearm(
                    &self,
                    connection: ProviderConnectionId,
                    owner: &LeaseOwner,
                    next_run_at: DateTime<Utc>,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let updated = ::sqlx::query(REARM_SCHEDULE)
                        .bind(stored_at(next_run_at))
                        .bind(stored_id(connection.as_uuid()))
                        .bind(owner.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    tx.commit().await?;
                    Ok(updated.rows_affected() == 1)
                }
            }
        };
    };
}

/// Implements `verdict_core::ports::WebhookStore` for `$store`, whose rows decode with `$dialect`,
/// with the names in the module documentation.
#[macro_export]
macro_rules! webhook_store {
    ($store:ty, $dialect:ty) => {
        const _: () = {
            use ::chrono::{DateTime, Utc};
            use ::verdict_core::domain::{PendingAuditEvent, SecretCiphertext, Webhook, WebhookId, WorkspaceId};
            use ::verdict_core::ports::{StoreError, WebhookStore};
            use $crate::rows::WebhookRow;
            use $crate::statements::{
                CREATE_WEBHOOK, DELETE_WEBHOOK, GET_WEBHOOK, LIST_WEBHOOKS, ROTATE_WEBHOOK_SECRET,
            };

            #[::async_trait::async_trait]
            impl WebhookStore for $store {
                #[::tracing::instrument(level = "debug", skip_all, fields(webhook_id = %webhook.id))]
                async fn create(&self, webhook: Webhook, event: PendingAuditEvent) -> Result<Webhook, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let row: WebhookRow<$dialect> = ::sqlx::query_as(CREATE_WEBHOOK)
                        .bind(stored_id(webhook.id.as_uuid()))
                        .bind(webhook.workspace_id.get())
                        .bind(webhook.url.as_str())
                        .bind(::sqlx::types::Json(&webhook.events))
                        .bind(webhook.description.as_str())
                        .bind(webhook.secret_ciphertext.as_bytes().to_vec())
                        .bind(stored_at(webhook.created_at))
                        .bind(stored_at(webhook.updated_at))
                        .bind(stored_at(webhook.secret_rotated_at))
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    row.try_into()
                }

                async fn get(&self, workspace: WorkspaceId, webhook: WebhookId) -> Result<Option<Webhook>, StoreError> {
                    let row: Option<WebhookRow<$dialect>> = ::sqlx::query_as(GET_WEBHOOK)
                        .bind(stored_id(webhook.as_uuid()))
                        .bind(workspace.get())
                        .fetch_optional(self.reader())
                        .await
                        .map_err(store_error)?;
                    row.map(Webhook::try_from).transpose()
                }

                async fn list(&self, workspace: WorkspaceId) -> Result<Vec<Webhook>, StoreError> {
                    let rows: Vec<WebhookRow<$dialect>> = ::sqlx::query_as(LIST_WEBHOOKS)
                        .bind(workspace.get())
                        .fetch_all(self.reader())
                        .await
                        .map_err(store_error)?;
                    rows.into_iter().map(Webhook::try_from).collect()
                }

                async fn delete(
                    &self,
                    workspace: WorkspaceId,
                    webhook: WebhookId,
                    event: PendingAuditEvent,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let deleted = ::sqlx::query(DELETE_WEBHOOK)
                        .bind(stored_id(webhook.as_uuid()))
                        .bind(workspace.get())
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    if deleted.rows_affected() == 0 {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn rotate_secret(
                    &self,
                    workspace: WorkspaceId,
                    webhook: WebhookId,
                    ciphertext: SecretCiphertext,
                    rotated_at: DateTime<Utc>,
                    event: PendingAuditEvent,
                ) -> Result<Option<Webhook>, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let row: Option<WebhookRow<$dialect>> = ::sqlx::query_as(ROTATE_WEBHOOK_SECRET)
                        .bind(ciphertext.as_bytes().to_vec())
                        .bind(stored_at(rotated_at))
                        .bind(stored_id(webhook.as_uuid()))
                        .bind(workspace.get())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    let Some(row) = row else {
                        tx.rollback().await?;
                        return Ok(None);
                    };
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    Webhook::try_from(row).map(Some)
                }
            }
        };
    };
}

/// Implements `verdict_core::ports::DeliveryOutbox` for `$store`, whose rows decode with
/// `$dialect`. The adapter supplies `LIST_DELIVERIES` (`$1` webhook, `$2` the cursor's event id or
/// null, `$3` the fetch size, newest first, returning `delivery_columns!`) and
/// `claim_deliveries(&mut conn, owner, now, claim_until, limit)`, which claims due deliveries
/// inside the write transaction and reads their subscription's URL and secret, besides the names in
/// the module documentation.
#[macro_export]
macro_rules! delivery_outbox {
    ($store:ty, $dialect:ty) => {
        const _: () = {
            use ::chrono::{DateTime, Utc};
            use ::verdict_core::domain::{
                AttemptRecord, ClaimedDelivery, Delivery, DeliveryCursor, DeliveryPage, LeaseOwner, PageLimit,
                WebhookEventId, WebhookId,
            };
            use ::verdict_core::ports::{DeliveryOutbox, StoreError};
            use $crate::Dialect;
            use $crate::rows::DeliveryRow;
            use $crate::statements::{COUNT_PENDING_DELIVERIES, NEXT_DELIVERY_DUE, RECORD_ATTEMPT};

            #[::async_trait::async_trait]
            impl DeliveryOutbox for $store {
                #[::tracing::instrument(level = "debug", skip_all, fields(owner = %owner))]
                async fn claim_due(
                    &self,
                    owner: &LeaseOwner,
                    now: DateTime<Utc>,
                    claim_until: DateTime<Utc>,
                    limit: u32,
                ) -> Result<Vec<ClaimedDelivery>, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let mut claimed = claim_deliveries(&mut tx, owner, now, claim_until, limit).await?;
                    tx.commit().await?;
                    claimed.sort_by_key(|c| (c.delivery.next_attempt_at, c.delivery.event_id));
                    Ok(claimed)
                }

                async fn record_attempt(
                    &self,
                    webhook: WebhookId,
                    event: WebhookEventId,
                    owner: &LeaseOwner,
                    attempt: u32,
                    record: AttemptRecord,
                ) -> Result<bool, StoreError> {
                    let attempt = <$dialect as Dialect>::Int4::try_from(attempt).map_err($crate::unexpected)?;
                    let mut tx = self.begin_write().await?;
                    let updated = ::sqlx::query(RECORD_ATTEMPT)
                        .bind(record.state().as_str())
                        .bind(stored_optional_at(record.next_attempt_at()))
                        .bind(record.status_code().map(<$dialect as Dialect>::Int4::from))
                        .bind(record.error_class().map(|c| c.as_str()))
                        .bind(stored_at(record.at()))
                        .bind(stored_id(webhook.as_uuid()))
                        .bind(stored_id(event.as_uuid()))
                        .bind(owner.as_str())
                        .bind(attempt)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    tx.commit().await?;
                    Ok(updated.rows_affected() == 1)
                }

                async fn list(
                    &self,
                    webhook: WebhookId,
                    after: Option<DeliveryCursor>,
                    limit: PageLimit,
                ) -> Result<DeliveryPage, StoreError> {
                    let rows: Vec<DeliveryRow<$dialect>> = ::sqlx::query_as(LIST_DELIVERIES)
                        .bind(stored_id(webhook.as_uuid()))
                        .bind(after.map(|cursor| stored_id(cursor.0.as_uuid())))
                        .bind(limit.fetch_limit())
                        .fetch_all(self.reader())
                        .await
                        .map_err(store_error)?;
                    let deliveries = rows.into_iter().map(Delivery::try_from).collect::<Result<Vec<_>, _>>()?;
                    Ok(DeliveryPage::from_overfetched(deliveries, limit))
                }

                async fn pending_count(&self) -> Result<u64, StoreError> {
                    let count: i64 = ::sqlx::query_scalar(COUNT_PENDING_DELIVERIES)
                        .fetch_one(self.reader())
                        .await
                        .map_err(store_error)?;
                    u64::try_from(count).map_err($crate::unexpected)
                }

                async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
                    let next: Option<Option<DateTime<Utc>>> = ::sqlx::query_scalar(NEXT_DELIVERY_DUE)
                        .fetch_optional(self.reader())
                        .await
                        .map_err(store_error)?;
                    Ok(next.flatten())
                }
            }
        };
    };
}

/// Implements `verdict_core::ports::ProviderConnectionStore` for `$store`, whose rows decode with
/// `$dialect` from the driver `$database`, with the names in the module documentation.
///
/// A rotation or a disable is one conditional `UPDATE` on an enabled connection; only when it
/// matches nothing does a second read tell a disabled connection (refused, or for a disable
/// returned unchanged with nothing written) from a missing one.
#[macro_export]
macro_rules! connection_store {
    ($store:ty, $dialect:ty, $database:ty) => {
        const _: () = {
            use ::chrono::{DateTime, Utc};
            use ::verdict_core::domain::{
                PendingAuditEvent, ProviderConnection, ProviderConnectionId, TenantId, WorkspaceId,
            };
            use ::verdict_core::ports::{ConnectionUpdateError, NewSecret, ProviderConnectionStore, StoreError};
            use $crate::rows::ConnectionRow;
            use $crate::statements::{
                DISABLE_CONNECTION, INSERT_CONNECTION, LIST_CONNECTIONS, ROTATE_CONNECTION_SECRET, SCOPED_CONNECTION,
            };

            /// The connection `connection` within `workspace` and `tenant`, read on `conn`.
            async fn scoped(
                conn: &mut <$database as ::sqlx::Database>::Connection,
                workspace: WorkspaceId,
                tenant: TenantId,
                connection: ProviderConnectionId,
            ) -> Result<Option<ProviderConnection>, StoreError> {
                let row: Option<ConnectionRow<$dialect>> = ::sqlx::query_as(SCOPED_CONNECTION)
                    .bind(stored_id(connection.as_uuid()))
                    .bind(workspace.get())
                    .bind(tenant.get())
                    .fetch_optional(conn)
                    .await
                    .map_err(store_error)?;
                row.map(ProviderConnection::try_from).transpose()
            }

            #[::async_trait::async_trait]
            impl ProviderConnectionStore for $store {
                #[::tracing::instrument(level = "debug", skip_all, fields(connection_id = %connection.id))]
                async fn create(
                    &self,
                    connection: ProviderConnection,
                    event: PendingAuditEvent,
                ) -> Result<ProviderConnection, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let row: ConnectionRow<$dialect> = ::sqlx::query_as(INSERT_CONNECTION)
                        .bind(stored_id(connection.id.as_uuid()))
                        .bind(connection.workspace_id.get())
                        .bind(connection.tenant_id.get())
                        .bind(connection.display_name.as_str())
                        .bind(connection.entra_tenant_id.to_string())
                        .bind(connection.client_id.to_string())
                        .bind(connection.client_secret_ciphertext.as_ref().map(|s| s.as_bytes().to_vec()))
                        .bind(stored_optional_at(connection.secret_updated_at))
                        .bind(stored_at(connection.created_at))
                        .bind(stored_at(connection.updated_at))
                        .bind(stored_optional_at(connection.disabled_at))
                        .bind(stored_optional_at(connection.client_secret_expires_at))
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    let stored = ProviderConnection::try_from(row)?;
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    Ok(stored)
                }

                async fn get(
                    &self,
                    workspace: WorkspaceId,
                    tenant: TenantId,
                    connection: ProviderConnectionId,
                ) -> Result<Option<ProviderConnection>, StoreError> {
                    let mut conn = self.reader().acquire().await.map_err(store_error)?;
                    scoped(&mut conn, workspace, tenant, connection).await
                }

                async fn list(
                    &self,
                    workspace: WorkspaceId,
                    tenant: TenantId,
                ) -> Result<Vec<ProviderConnection>, StoreError> {
                    let rows: Vec<ConnectionRow<$dialect>> = ::sqlx::query_as(LIST_CONNECTIONS)
                        .bind(workspace.get())
                        .bind(tenant.get())
                        .fetch_all(self.reader())
                        .await
                        .map_err(store_error)?;
                    rows.into_iter().map(ProviderConnection::try_from).collect()
                }

                #[::tracing::instrument(level = "debug", skip_all, fields(connection_id = %connection))]
                async fn rotate_secret(
                    &self,
                    workspace: WorkspaceId,
                    tenant: TenantId,
                    connection: ProviderConnectionId,
                    secret: NewSecret,
                    rotated_at: DateTime<Utc>,
                    event: PendingAuditEvent,
                ) -> Result<ProviderConnection, ConnectionUpdateError> {
                    let mut tx = self.begin_write().await?;
                    let row: Option<ConnectionRow<$dialect>> = ::sqlx::query_as(ROTATE_CONNECTION_SECRET)
                        .bind(stored_id(connection.as_uuid()))
                        .bind(workspace.get())
                        .bind(tenant.get())
                        .bind(secret.ciphertext.as_bytes().to_vec())
                        .bind(stored_at(rotated_at))
                        .bind(stored_optional_at(secret.expires_at))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    let Some(row) = row else {
                        let exists = scoped(&mut tx, workspace, tenant, connection).await?.is_some();
                        tx.rollback().await?;
                        return Err(if exists {
                            ConnectionUpdateError::Disabled
                        } else {
                            ConnectionUpdateError::NotFound
                        });
                    };
                    let rotated = ProviderConnection::try_from(row)?;
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    Ok(rotated)
                }

                #[::tracing::instrument(level = "debug", skip_all, fields(connection_id = %connection))]
                async fn disable(
                    &self,
                    workspace: WorkspaceId,
                    tenant: TenantId,
                    connection: ProviderConnectionId,
                    disabled_at: DateTime<Utc>,
                    event: PendingAuditEvent,
                ) -> Result<ProviderConnection, ConnectionUpdateError> {
                    let mut tx = self.begin_write().await?;
                    let row: Option<ConnectionRow<$dialect>> = ::sqlx::query_as(DISABLE_CONNECTION)
                        .bind(stored_id(connection.as_uuid()))
                        .bind(workspace.get())
                        .bind(tenant.get())
                        .bind(stored_at(disabled_at))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    let Some(row) = row else {
                        // Already disabled (idempotent: returned unchanged, nothing written) or missing.
                        let unchanged = scoped(&mut tx, workspace, tenant, connection).await?;
                        tx.rollback().await?;
                        return unchanged.ok_or(ConnectionUpdateError::NotFound);
                    };
                    let disabled = ProviderConnection::try_from(row)?;
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    Ok(disabled)
                }
            }
        };
    };
}

/// Implements `verdict_core::ports::AcknowledgementStore` for `$store`, whose rows decode with
/// `$dialect` from the driver `$database`, and defines `acknowledgements_of_run(executor, run)` in the expanding module for
/// the run view's reads. Besides the names in the module documentation, the adapter supplies
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
            let rows: Vec<$crate::rows::AckRow<$dialect>> = ::sqlx::query_as($crate::statements::ACKNOWLEDGEMENTS_OF_RUN)
                .bind(stored_id(run.as_uuid()))
                .fetch_all(executor)
                .await
                .map_err(store_error)?;
            rows.into_iter().map(::verdict_core::domain::Acknowledgement::try_from).collect()
        }

        const _: () = {
            use ::verdict_core::domain::{Acknowledgement, NewAcknowledgement, PendingAuditEvent, RunId};
            use ::verdict_core::ports::{AckInsertError, AcknowledgementStore, StoreError};
            use $crate::rows::AckRow;
            use $crate::statements::{ACKNOWLEDGEMENT_OF_CHECK, INSERT_ACKNOWLEDGEMENT};

            #[::async_trait::async_trait]
            impl AcknowledgementStore for $store {
                #[::tracing::instrument(level = "debug", skip_all, fields(run_id = %ack.run_id, check_key = %ack.check_key))]
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
                    acknowledgements_of_run(self.reader(), run).await
                }
            }
        };
    };
}

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
            use ::verdict_core::domain::{Completion, LeaseOwner, PendingAuditEvent, Report, Run, RunId, WebhookEvent};
            use ::verdict_core::ports::{CompleteError, LeaseError, RunQueue, StoreError};
            use $crate::rows::RunRow;
            use $crate::statements::RUN_STATUS;

            #[::async_trait::async_trait]
            impl RunQueue for $store {
                #[::tracing::instrument(level = "debug", skip_all, fields(owner = %owner))]
                async fn claim_next(
                    &self,
                    owner: &LeaseOwner,
                    now: DateTime<Utc>,
                    lease_until: DateTime<Utc>,
                ) -> Result<Option<Run>, StoreError> {
                    let mut tx = self.begin_write().await?;
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

                #[::tracing::instrument(level = "debug", skip_all, fields(run_id = %run))]
                async fn heartbeat(
                    &self,
                    run: RunId,
                    owner: &LeaseOwner,
                    lease_until: DateTime<Utc>,
                ) -> Result<(), LeaseError> {
                    self.fenced(HEARTBEAT, run, owner, &[stored_at(lease_until)]).await
                }

                #[::tracing::instrument(level = "debug", skip_all, fields(run_id = %run))]
                async fn release(&self, run: RunId, owner: &LeaseOwner, now: DateTime<Utc>) -> Result<(), LeaseError> {
                    self.fenced(RELEASE, run, owner, &[stored_at(now)]).await
                }

                #[::tracing::instrument(level = "debug", skip_all, fields(run_id = %run))]
                async fn write_live_report(
                    &self,
                    run: RunId,
                    owner: &LeaseOwner,
                    report: &Report,
                ) -> Result<(), LeaseError> {
                    self.fenced(WRITE_LIVE_REPORT, run, owner, &[report.to_json_text(), report.summary_counts_json()])
                        .await
                }

                #[::tracing::instrument(level = "debug", skip_all, fields(run_id = %run))]
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
