//! The [`ScheduleStore`], [`WebhookStore`] and [`DeliveryOutbox`] ports, and the outbox fan-out
//! completions call inside their write transaction. Claims are conditional `UPDATE`s in a write
//! transaction: the single writer decides, so two claimers never get the same row.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use verdict_core::domain::{
    AttemptRecord, ClaimedDelivery, Delivery, DeliveryCursor, DeliveryPage, LeaseOwner, PageLimit, PendingAuditEvent,
    ProviderConnectionId, Schedule, SecretCiphertext, TenantId, Webhook, WebhookEvent, WebhookEventId, WebhookId,
    WebhookUrl, WorkspaceId,
};
use verdict_core::ports::{DeliveryOutbox, ScheduleStore, StoreError, WebhookStore};
use verdict_sql::{delivery_columns, schedule_columns};

use crate::SqliteStore;
use crate::audit::append;
use crate::errors::store_error;
use crate::rows::{DeliveryRow, ScheduleRow, WebhookRow, optional_timestamp, timestamp};

macro_rules! webhook_columns {
    () => {
        "id, workspace_id, url, events, description, secret_ciphertext, created_at, updated_at, secret_rotated_at"
    };
}

/// Fans `events` out to every subscription of their workspace that receives their type, inside
/// the caller's write transaction (the completion's), in one statement for all of them.
pub(crate) async fn enqueue(tx: &mut SqliteConnection, events: &[WebhookEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut insert = QueryBuilder::<Sqlite>::new(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, workspace_id, event_type, run_id, payload, state, \
         attempts, next_attempt_at, created_at) \
         SELECT w.id, e.column1, w.workspace_id, e.column2, e.column3, e.column4, 'pending', 0, e.column5, e.column5 \
         FROM (",
    );
    insert.push_values(events, |mut values, event| {
        values
            .push_bind(event.id.to_string())
            .push_bind(event.event_type.as_str())
            .push_bind(event.run_id.to_string())
            .push_bind(event.payload.as_str())
            .push_bind(timestamp(event.occurred_at))
            .push_bind(event.workspace_id.get());
    });
    insert.push(
        ") AS e JOIN webhooks AS w ON w.workspace_id = e.column6 \
         WHERE EXISTS (SELECT 1 FROM json_each(w.events) WHERE json_each.value = e.column2)",
    );
    insert.build().execute(&mut *tx).await.map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl ScheduleStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(connection_id = %schedule.provider_connection_id))]
    async fn set(&self, schedule: Schedule, event: PendingAuditEvent) -> Result<Schedule, StoreError> {
        let mut tx = self.begin_write().await?;
        let row: ScheduleRow = sqlx::query_as(concat!(
            "INSERT INTO verification_schedules (",
            schedule_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (provider_connection_id) DO UPDATE SET flow = excluded.flow, \
             schedule_interval = excluded.schedule_interval, interval_seconds = excluded.interval_seconds, \
             next_run_at = excluded.next_run_at, updated_at = excluded.updated_at, \
             claimed_by = NULL, claim_expires_at = NULL \
             RETURNING ",
            schedule_columns!()
        ))
        .bind(schedule.provider_connection_id.to_string())
        .bind(schedule.workspace_id.get())
        .bind(schedule.tenant_id.get())
        .bind(schedule.flow.as_str())
        .bind(schedule.interval.as_str())
        .bind(schedule.interval.seconds())
        .bind(timestamp(schedule.next_run_at))
        .bind(timestamp(schedule.created_at))
        .bind(timestamp(schedule.updated_at))
        .fetch_one(tx.conn())
        .await
        .map_err(store_error)?;
        append(tx.conn(), event).await?;
        tx.commit().await?;
        row.try_into()
    }

    async fn get(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        connection: ProviderConnectionId,
    ) -> Result<Option<Schedule>, StoreError> {
        let row: Option<ScheduleRow> = sqlx::query_as(concat!(
            "SELECT ",
            schedule_columns!(),
            " FROM verification_schedules \
             WHERE provider_connection_id = ? AND workspace_id = ? AND tenant_id = ?"
        ))
        .bind(connection.to_string())
        .bind(workspace.get())
        .bind(tenant.get())
        .fetch_optional(&self.reader)
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
        let deleted = sqlx::query(
            "DELETE FROM verification_schedules WHERE provider_connection_id = ? AND workspace_id = ? AND tenant_id = ?",
        )
        .bind(connection.to_string())
        .bind(workspace.get())
        .bind(tenant.get())
        .execute(tx.conn())
        .await
        .map_err(store_error)?;
        if deleted.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        append(tx.conn(), event).await?;
        tx.commit().await?;
        Ok(true)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(owner = %owner))]
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Schedule>, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows: Vec<ScheduleRow> = sqlx::query_as(concat!(
            "UPDATE verification_schedules SET claimed_by = ?1, claim_expires_at = ?3 \
             WHERE provider_connection_id IN (SELECT provider_connection_id FROM verification_schedules \
                 WHERE next_run_at <= ?2 AND (claim_expires_at IS NULL OR claim_expires_at <= ?2) \
                 ORDER BY next_run_at, provider_connection_id LIMIT ?4) \
             RETURNING ",
            schedule_columns!()
        ))
        .bind(owner.as_str())
        .bind(timestamp(now))
        .bind(timestamp(claim_until))
        .bind(i64::from(limit))
        .fetch_all(tx.conn())
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
        let updated = sqlx::query(
            "UPDATE verification_schedules SET next_run_at = ?, claimed_by = NULL, claim_expires_at = NULL \
             WHERE provider_connection_id = ? AND claimed_by = ?",
        )
        .bind(timestamp(next_run_at))
        .bind(connection.to_string())
        .bind(owner.as_str())
        .execute(tx.conn())
        .await
        .map_err(store_error)?;
        tx.commit().await?;
        Ok(updated.rows_affected() == 1)
    }
}

#[async_trait]
impl WebhookStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(webhook_id = %webhook.id))]
    async fn create(&self, webhook: Webhook, event: PendingAuditEvent) -> Result<Webhook, StoreError> {
        let mut tx = self.begin_write().await?;
        let row: WebhookRow = sqlx::query_as(concat!(
            "INSERT INTO webhooks (",
            webhook_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
            webhook_columns!()
        ))
        .bind(webhook.id.to_string())
        .bind(webhook.workspace_id.get())
        .bind(webhook.url.as_str())
        .bind(webhook.events_json())
        .bind(webhook.description.as_str())
        .bind(webhook.secret_ciphertext.as_bytes().to_vec())
        .bind(timestamp(webhook.created_at))
        .bind(timestamp(webhook.updated_at))
        .bind(timestamp(webhook.secret_rotated_at))
        .fetch_one(tx.conn())
        .await
        .map_err(store_error)?;
        append(tx.conn(), event).await?;
        tx.commit().await?;
        row.try_into()
    }

    async fn get(&self, workspace: WorkspaceId, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        let row: Option<WebhookRow> =
            sqlx::query_as(concat!("SELECT ", webhook_columns!(), " FROM webhooks WHERE id = ? AND workspace_id = ?"))
                .bind(id.to_string())
                .bind(workspace.get())
                .fetch_optional(&self.reader)
                .await
                .map_err(store_error)?;
        row.map(Webhook::try_from).transpose()
    }

    async fn list(&self, workspace: WorkspaceId) -> Result<Vec<Webhook>, StoreError> {
        let rows: Vec<WebhookRow> = sqlx::query_as(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE workspace_id = ? ORDER BY created_at, id"
        ))
        .bind(workspace.get())
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(Webhook::try_from).collect()
    }

    async fn delete(
        &self,
        workspace: WorkspaceId,
        id: WebhookId,
        event: PendingAuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        // The deliveries go with it (ON DELETE CASCADE).
        let deleted = sqlx::query("DELETE FROM webhooks WHERE id = ? AND workspace_id = ?")
            .bind(id.to_string())
            .bind(workspace.get())
            .execute(tx.conn())
            .await
            .map_err(store_error)?;
        if deleted.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        append(tx.conn(), event).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn rotate_secret(
        &self,
        workspace: WorkspaceId,
        id: WebhookId,
        ciphertext: SecretCiphertext,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<Option<Webhook>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row: Option<WebhookRow> = sqlx::query_as(concat!(
            "UPDATE webhooks SET secret_ciphertext = ?1, secret_rotated_at = ?2, updated_at = ?2 \
             WHERE id = ?3 AND workspace_id = ?4 RETURNING ",
            webhook_columns!()
        ))
        .bind(ciphertext.as_bytes().to_vec())
        .bind(timestamp(at))
        .bind(id.to_string())
        .bind(workspace.get())
        .fetch_optional(tx.conn())
        .await
        .map_err(store_error)?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        append(tx.conn(), event).await?;
        tx.commit().await?;
        row.try_into().map(Some)
    }
}

#[derive(Debug, sqlx::FromRow)]
struct ClaimedRow {
    #[sqlx(flatten)]
    delivery: DeliveryRow,
    payload: String,
}

#[async_trait]
impl DeliveryOutbox for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(owner = %owner))]
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows: Vec<ClaimedRow> = sqlx::query_as(concat!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, claimed_by = ?1, next_attempt_at = ?3 \
             WHERE (webhook_id, event_id) IN (SELECT webhook_id, event_id FROM webhook_deliveries \
                 WHERE state = 'pending' AND next_attempt_at <= ?2 ORDER BY next_attempt_at, event_id LIMIT ?4) \
             RETURNING ",
            delivery_columns!(),
            ", payload"
        ))
        .bind(owner.as_str())
        .bind(timestamp(now))
        .bind(timestamp(claim_until))
        .bind(i64::from(limit))
        .fetch_all(tx.conn())
        .await
        .map_err(store_error)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let delivery = Delivery::try_from(row.delivery)?;
            // The subscription's URL and current secret, read in the claim's transaction.
            let (url, secret): (String, Vec<u8>) =
                sqlx::query_as("SELECT url, secret_ciphertext FROM webhooks WHERE id = ?")
                    .bind(delivery.webhook_id.to_string())
                    .fetch_one(tx.conn())
                    .await
                    .map_err(store_error)?;
            claimed.push(ClaimedDelivery {
                delivery,
                url: WebhookUrl::from_stored(&url)?,
                secret_ciphertext: SecretCiphertext::from_bytes(secret),
                payload: row.payload,
            });
        }
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
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET state = ?1, next_attempt_at = ?2, last_status_code = ?3, last_error = ?4, \
             last_attempt_at = ?5, claimed_by = NULL \
             WHERE webhook_id = ?6 AND event_id = ?7 AND state = 'pending' AND claimed_by = ?8 AND attempts = ?9",
        )
        .bind(record.state().as_str())
        .bind(optional_timestamp(record.next_attempt_at()))
        .bind(record.status_code().map(i64::from))
        .bind(record.error_class().map(|c| c.as_str()))
        .bind(timestamp(record.at()))
        .bind(webhook.to_string())
        .bind(event.to_string())
        .bind(owner.as_str())
        .bind(i64::from(attempt))
        .execute(tx.conn())
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
        let rows: Vec<DeliveryRow> = sqlx::query_as(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE webhook_id = ?1 \
             AND (?2 IS NULL OR event_id < ?2) ORDER BY event_id DESC LIMIT ?3"
        ))
        .bind(webhook.to_string())
        .bind(after.map(|c| c.0.to_string()))
        .bind(limit.fetch_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        let deliveries = rows.into_iter().map(Delivery::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(DeliveryPage::from_overfetched(deliveries, limit))
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        // `state = 'pending'` is the due index's predicate: the count walks pending rows only.
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'")
            .fetch_one(&self.reader)
            .await
            .map_err(store_error)?;
        u64::try_from(count).map_err(|e| StoreError::Unexpected(e.into()))
    }

    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT next_attempt_at FROM webhook_deliveries WHERE state = 'pending' \
             ORDER BY next_attempt_at LIMIT 1",
        )
        .fetch_optional(&self.reader)
        .await
        .map_err(store_error)?
        .flatten();
        Ok(next)
    }
}
