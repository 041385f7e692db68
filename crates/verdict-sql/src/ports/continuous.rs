//! The templates of the continuous-verification ports: schedules, webhook subscriptions and the
//! delivery outbox (see the module documentation of [`crate::ports`] for the names they use).

/// Implements `verdict_core::ports::ScheduleStore` for `$store`, whose rows decode with
/// `$dialect`. The adapter supplies `CLAIM_SCHEDULES` (`$1` owner, `$2` now, `$3` claim expiry,
/// `$4` limit, returning `schedule_columns!`) besides the names in the module documentation.
#[macro_export]
macro_rules! schedule_store {
    ($store:ty, $dialect:ty) => {
        const _: () = {
            use ::chrono::{DateTime, Utc};
            use ::tracing::instrument;
            use ::verdict_core::domain::{
                LeaseOwner, PendingAuditEvent, ProviderConnectionId, Schedule, TenantId, WorkspaceId,
            };
            use ::verdict_core::ports::{ScheduleStore, StoreError};
            use $crate::rows::ScheduleRow;
            use $crate::statements::{GET_SCHEDULE, REARM_SCHEDULE, REMOVE_SCHEDULE, SET_SCHEDULE};

            #[::async_trait::async_trait]
            impl ScheduleStore for $store {
                #[instrument(level = "debug", skip_all, fields(connection_id = %schedule.provider_connection_id))]
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
                    let row: Option<ScheduleRow<$dialect>> = self
                        .reading(async |conn| {
                            ::sqlx::query_as(GET_SCHEDULE)
                                .bind(stored_id(connection.as_uuid()))
                                .bind(workspace.get())
                                .bind(tenant.get())
                                .fetch_optional(conn)
                                .await
                                .map_err(store_error)
                        })
                        .await?;
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

                #[instrument(level = "debug", skip_all, fields(owner = %owner))]
                async fn claim_due(
                    &self,
                    owner: &LeaseOwner,
                    now: DateTime<Utc>,
                    claim_until: DateTime<Utc>,
                    limit: u32,
                ) -> Result<Vec<Schedule>, StoreError> {
                    let mut tx = self.begin_one_statement().await?;
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
                    let mut tx = self.begin_one_statement().await?;
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
            use ::tracing::instrument;
            use ::verdict_core::domain::{PendingAuditEvent, SecretCiphertext, Webhook, WebhookId, WorkspaceId};
            use ::verdict_core::ports::{StoreError, WebhookStore};
            use $crate::rows::WebhookRow;
            use $crate::statements::{
                CREATE_WEBHOOK, DELETE_WEBHOOK, GET_WEBHOOK, LIST_WEBHOOKS, ROTATE_WEBHOOK_SECRET,
            };

            #[::async_trait::async_trait]
            impl WebhookStore for $store {
                #[instrument(level = "debug", skip_all, fields(webhook_id = %webhook.id))]
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
                    let row: Option<WebhookRow<$dialect>> = self
                        .reading(async |conn| {
                            ::sqlx::query_as(GET_WEBHOOK)
                                .bind(stored_id(webhook.as_uuid()))
                                .bind(workspace.get())
                                .fetch_optional(conn)
                                .await
                                .map_err(store_error)
                        })
                        .await?;
                    row.map(Webhook::try_from).transpose()
                }

                async fn list(&self, workspace: WorkspaceId) -> Result<Vec<Webhook>, StoreError> {
                    let rows: Vec<WebhookRow<$dialect>> = self
                        .reading(async |conn| {
                            ::sqlx::query_as(LIST_WEBHOOKS)
                                .bind(workspace.get())
                                .fetch_all(conn)
                                .await
                                .map_err(store_error)
                        })
                        .await?;
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
/// `claim_deliveries(&mut conn, owner, now, claim_until, limit)`, which claims due deliveries with
/// their subscription's URL and secret inside `begin_one_statement`'s write (one statement on
/// PostgreSQL; on SQLite, where that write is the single writer's transaction, the claim and its
/// reads), besides the names in the module documentation.
#[macro_export]
macro_rules! delivery_outbox {
    ($store:ty, $dialect:ty) => {
        const _: () = {
            use ::chrono::{DateTime, Utc};
            use ::tracing::instrument;
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
                #[instrument(level = "debug", skip_all, fields(owner = %owner))]
                async fn claim_due(
                    &self,
                    owner: &LeaseOwner,
                    now: DateTime<Utc>,
                    claim_until: DateTime<Utc>,
                    limit: u32,
                ) -> Result<Vec<ClaimedDelivery>, StoreError> {
                    let mut tx = self.begin_one_statement().await?;
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
                    let mut tx = self.begin_one_statement().await?;
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
                    let rows: Vec<DeliveryRow<$dialect>> = self
                        .reading(async |conn| {
                            ::sqlx::query_as(LIST_DELIVERIES)
                                .bind(stored_id(webhook.as_uuid()))
                                .bind(after.map(|cursor| stored_id(cursor.0.as_uuid())))
                                .bind(limit.fetch_limit())
                                .fetch_all(conn)
                                .await
                                .map_err(store_error)
                        })
                        .await?;
                    let deliveries = rows.into_iter().map(Delivery::try_from).collect::<Result<Vec<_>, _>>()?;
                    Ok(DeliveryPage::from_overfetched(deliveries, limit))
                }

                async fn pending_count(&self) -> Result<u64, StoreError> {
                    let count: i64 = self
                        .reading(async |conn| {
                            ::sqlx::query_scalar(COUNT_PENDING_DELIVERIES).fetch_one(conn).await.map_err(store_error)
                        })
                        .await?;
                    u64::try_from(count).map_err($crate::unexpected)
                }

                async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
                    let next: Option<Option<DateTime<Utc>>> = self
                        .reading(async |conn| {
                            ::sqlx::query_scalar(NEXT_DELIVERY_DUE).fetch_optional(conn).await.map_err(store_error)
                        })
                        .await?;
                    Ok(next.flatten())
                }
            }
        };
    };
}
