//! The [`ScheduleStore`], [`WebhookStore`] and [`DeliveryOutbox`] ports, and the outbox fan-out
//! completions call inside their transaction. Due schedules and deliveries are claimed with
//! `FOR UPDATE SKIP LOCKED`, so any number of processes share them without waiting on each other
//! and none takes a row another holds.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;
use verdict_core::domain::{
    AttemptRecord, ClaimedDelivery, Delivery, DeliveryCursor, DeliveryPage, LeaseOwner, PageLimit, PendingAuditEvent,
    ProviderConnectionId, Schedule, SecretCiphertext, TenantId, Webhook, WebhookEvent, WebhookEventId, WebhookId,
    WebhookUrl, WorkspaceId, to_micros,
};
use verdict_core::ports::{DeliveryOutbox, ScheduleStore, StoreError, WebhookStore};

use verdict_sql::{delivery_columns, schedule_columns};

use crate::PgStore;
use crate::audit::append;
use crate::error::{store_error, unexpected};
use crate::queries::{CLAIM_DELIVERIES, CLAIM_SCHEDULES, ENQUEUE_DELIVERIES};
use crate::rows::{DeliveryRow, ScheduleRow, WebhookRow};

macro_rules! webhook_columns {
    () => {
        "id, workspace_id, url, events::text AS events, description, secret_ciphertext, created_at, updated_at, \
         secret_rotated_at"
    };
}

#[derive(Debug, sqlx::FromRow)]
struct ClaimedRow {
    #[sqlx(flatten)]
    delivery: DeliveryRow,
    payload: String,
    url: String,
    secret_ciphertext: Vec<u8>,
}

/// Fans `events` out to every subscription of their workspace that receives their type, inside
/// the caller's transaction (the completion's).
pub(crate) async fn enqueue(conn: &mut PgConnection, events: &[WebhookEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = events.iter().map(|e| *e.id.as_uuid()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let runs: Vec<Uuid> = events.iter().map(|e| *e.run_id.as_uuid()).collect();
    let payloads: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
    let at: Vec<DateTime<Utc>> = events.iter().map(|e| to_micros(e.occurred_at)).collect();
    let workspaces: Vec<i64> = events.iter().map(|e| e.workspace_id.get()).collect();
    sqlx::query(ENQUEUE_DELIVERIES)
        .bind(ids)
        .bind(types)
        .bind(runs)
        .bind(payloads)
        .bind(at)
        .bind(workspaces)
        .execute(conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl ScheduleStore for PgStore {
    #[tracing::instrument(skip_all, fields(connection_id = %schedule.provider_connection_id))]
    async fn set(&self, schedule: Schedule, event: PendingAuditEvent) -> Result<Schedule, StoreError> {
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        let row: ScheduleRow = sqlx::query_as(concat!(
            "INSERT INTO verification_schedules (",
            schedule_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (provider_connection_id) DO UPDATE SET flow = EXCLUDED.flow, \
             schedule_interval = EXCLUDED.schedule_interval, interval_seconds = EXCLUDED.interval_seconds, \
             next_run_at = EXCLUDED.next_run_at, updated_at = EXCLUDED.updated_at, \
             claimed_by = NULL, claim_expires_at = NULL RETURNING ",
            schedule_columns!()
        ))
        .bind(schedule.provider_connection_id.as_uuid())
        .bind(schedule.workspace_id.get())
        .bind(schedule.tenant_id.get())
        .bind(schedule.flow.as_str())
        .bind(schedule.interval.as_str())
        .bind(schedule.interval.seconds())
        .bind(to_micros(schedule.next_run_at))
        .bind(to_micros(schedule.created_at))
        .bind(to_micros(schedule.updated_at))
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        append(&mut tx, event).await?;
        tx.commit().await.map_err(store_error)?;
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
            " FROM verification_schedules WHERE provider_connection_id = $1 AND workspace_id = $2 AND tenant_id = $3"
        ))
        .bind(connection.as_uuid())
        .bind(workspace.get())
        .bind(tenant.get())
        .fetch_optional(self.pool())
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
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        let deleted = sqlx::query(
            "DELETE FROM verification_schedules \
             WHERE provider_connection_id = $1 AND workspace_id = $2 AND tenant_id = $3",
        )
        .bind(connection.as_uuid())
        .bind(workspace.get())
        .bind(tenant.get())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        if deleted.rows_affected() == 0 {
            tx.rollback().await.map_err(store_error)?;
            return Ok(false);
        }
        append(&mut tx, event).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(owner = %owner))]
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Schedule>, StoreError> {
        let rows: Vec<ScheduleRow> = sqlx::query_as(CLAIM_SCHEDULES)
            .bind(owner.as_str())
            .bind(to_micros(now))
            .bind(to_micros(claim_until))
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(store_error)?;
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
        let updated = sqlx::query(
            "UPDATE verification_schedules SET next_run_at = $1, claimed_by = NULL, claim_expires_at = NULL \
             WHERE provider_connection_id = $2 AND claimed_by = $3",
        )
        .bind(to_micros(next_run_at))
        .bind(connection.as_uuid())
        .bind(owner.as_str())
        .execute(self.pool())
        .await
        .map_err(store_error)?;
        Ok(updated.rows_affected() == 1)
    }
}

#[async_trait]
impl WebhookStore for PgStore {
    #[tracing::instrument(skip_all, fields(webhook_id = %webhook.id))]
    async fn create(&self, webhook: Webhook, event: PendingAuditEvent) -> Result<Webhook, StoreError> {
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        let row: WebhookRow = sqlx::query_as(concat!(
            "INSERT INTO webhooks (id, workspace_id, url, events, description, secret_ciphertext, created_at, \
             updated_at, secret_rotated_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9) RETURNING ",
            webhook_columns!()
        ))
        .bind(webhook.id.as_uuid())
        .bind(webhook.workspace_id.get())
        .bind(webhook.url.as_str())
        .bind(webhook.events_json())
        .bind(webhook.description.as_str())
        .bind(webhook.secret_ciphertext.as_bytes())
        .bind(to_micros(webhook.created_at))
        .bind(to_micros(webhook.updated_at))
        .bind(to_micros(webhook.secret_rotated_at))
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        append(&mut tx, event).await?;
        tx.commit().await.map_err(store_error)?;
        row.try_into()
    }

    async fn get(&self, workspace: WorkspaceId, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        let row: Option<WebhookRow> = sqlx::query_as(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE id = $1 AND workspace_id = $2"
        ))
        .bind(id.as_uuid())
        .bind(workspace.get())
        .fetch_optional(self.pool())
        .await
        .map_err(store_error)?;
        row.map(Webhook::try_from).transpose()
    }

    async fn list(&self, workspace: WorkspaceId) -> Result<Vec<Webhook>, StoreError> {
        let rows: Vec<WebhookRow> = sqlx::query_as(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE workspace_id = $1 ORDER BY created_at, id"
        ))
        .bind(workspace.get())
        .fetch_all(self.pool())
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
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        // The deliveries go with it (ON DELETE CASCADE).
        let deleted = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND workspace_id = $2")
            .bind(id.as_uuid())
            .bind(workspace.get())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        if deleted.rows_affected() == 0 {
            tx.rollback().await.map_err(store_error)?;
            return Ok(false);
        }
        append(&mut tx, event).await?;
        tx.commit().await.map_err(store_error)?;
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
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        let row: Option<WebhookRow> = sqlx::query_as(concat!(
            "UPDATE webhooks SET secret_ciphertext = $1, secret_rotated_at = $2, updated_at = $2 \
             WHERE id = $3 AND workspace_id = $4 RETURNING ",
            webhook_columns!()
        ))
        .bind(ciphertext.as_bytes())
        .bind(to_micros(at))
        .bind(id.as_uuid())
        .bind(workspace.get())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let Some(row) = row else {
            tx.rollback().await.map_err(store_error)?;
            return Ok(None);
        };
        append(&mut tx, event).await?;
        tx.commit().await.map_err(store_error)?;
        Webhook::try_from(row).map(Some)
    }
}

#[async_trait]
impl DeliveryOutbox for PgStore {
    #[tracing::instrument(skip_all, fields(owner = %owner))]
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let rows: Vec<ClaimedRow> = sqlx::query_as(CLAIM_DELIVERIES)
            .bind(owner.as_str())
            .bind(to_micros(now))
            .bind(to_micros(claim_until))
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(store_error)?;
        let mut claimed = rows
            .into_iter()
            .map(|row| {
                Ok(ClaimedDelivery {
                    delivery: Delivery::try_from(row.delivery)?,
                    url: WebhookUrl::from_stored(&row.url)?,
                    secret_ciphertext: SecretCiphertext::from_bytes(row.secret_ciphertext),
                    payload: row.payload,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
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
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, next_attempt_at = $2, last_status_code = $3, last_error = $4, \
             last_attempt_at = $5, claimed_by = NULL \
             WHERE webhook_id = $6 AND event_id = $7 AND state = 'pending' AND claimed_by = $8 AND attempts = $9",
        )
        .bind(record.state().as_str())
        .bind(record.next_attempt_at())
        .bind(record.status_code().map(i32::from))
        .bind(record.error_class().map(|c| c.as_str()))
        .bind(record.at())
        .bind(webhook.as_uuid())
        .bind(event.as_uuid())
        .bind(owner.as_str())
        .bind(i32::try_from(attempt).map_err(unexpected)?)
        .execute(self.pool())
        .await
        .map_err(store_error)?;
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
            " FROM webhook_deliveries WHERE webhook_id = $1 \
             AND event_id < COALESCE($2::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid) \
             ORDER BY event_id DESC LIMIT $3"
        ))
        .bind(webhook.as_uuid())
        .bind(after.map(|c| *c.0.as_uuid()))
        .bind(limit.fetch_limit())
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
        let deliveries = rows.into_iter().map(Delivery::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(DeliveryPage::from_overfetched(deliveries, limit))
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        // `state = 'pending'` is the due index's predicate: the count walks pending rows only.
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'")
            .fetch_one(self.pool())
            .await
            .map_err(store_error)?;
        u64::try_from(count).map_err(unexpected)
    }

    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
            "SELECT next_attempt_at FROM webhook_deliveries WHERE state = 'pending' ORDER BY next_attempt_at LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(store_error)?;
        Ok(next.flatten())
    }
}
