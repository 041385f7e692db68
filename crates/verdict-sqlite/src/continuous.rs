//! The [`ScheduleStore`], [`WebhookStore`] and [`DeliveryOutbox`] ports, expanded from the
//! templates of `verdict_sql::ports` with SQLite's statements, and the outbox fan-out completions
//! call inside their write transaction. Claims are conditional `UPDATE`s in a write transaction:
//! the single writer decides, so two claimers never get the same row.
//!
//! [`ScheduleStore`]: verdict_core::ports::ScheduleStore
//! [`WebhookStore`]: verdict_core::ports::WebhookStore
//! [`DeliveryOutbox`]: verdict_core::ports::DeliveryOutbox

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use verdict_core::domain::{ClaimedDelivery, Delivery, LeaseOwner, SecretCiphertext, WebhookEvent, WebhookUrl};
use verdict_core::ports::StoreError;
use verdict_sql::{delivery_columns, delivery_outbox, schedule_columns, schedule_store, webhook_store};

use crate::SqliteStore;
use crate::audit::append;
use crate::errors::store_error;
use crate::rows::{DeliveryRow, stored_at, stored_id, stored_optional_at};

/// Claims up to `$4` due schedules for `$1` until `$3` (due: next run at or before `$2`, unclaimed
/// or with an expired claim).
const CLAIM_SCHEDULES: &str = concat!(
    "UPDATE verification_schedules SET claimed_by = $1, claim_expires_at = $3 \
     WHERE provider_connection_id IN (SELECT provider_connection_id FROM verification_schedules \
         WHERE next_run_at <= $2 AND (claim_expires_at IS NULL OR claim_expires_at <= $2) \
         ORDER BY next_run_at, provider_connection_id LIMIT $4) \
     RETURNING ",
    schedule_columns!()
);

/// A page of a subscription's deliveries, newest first, before the cursor's event id (`$2`, or
/// from the newest when null).
const LIST_DELIVERIES: &str = concat!(
    "SELECT ",
    delivery_columns!(),
    " FROM webhook_deliveries WHERE webhook_id = $1 AND ($2 IS NULL OR event_id < $2) \
     ORDER BY event_id DESC LIMIT $3"
);

schedule_store!(SqliteStore, verdict_sql::Sqlite);
webhook_store!(SqliteStore, verdict_sql::Sqlite);
delivery_outbox!(SqliteStore, verdict_sql::Sqlite);

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
            .push_bind(stored_at(event.occurred_at))
            .push_bind(event.workspace_id.get());
    });
    insert.push(
        ") AS e JOIN webhooks AS w ON w.workspace_id = e.column6 \
         WHERE EXISTS (SELECT 1 FROM json_each(w.events) WHERE json_each.value = e.column2)",
    );
    insert.build().execute(&mut *tx).await.map_err(store_error)?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
struct ClaimedRow {
    #[sqlx(flatten)]
    delivery: DeliveryRow,
    payload: String,
}

/// Claims up to `limit` due deliveries for `owner` until `claim_until` inside the write
/// transaction `conn`, and reads each one's subscription URL and current secret in it.
async fn claim_deliveries(
    conn: &mut SqliteConnection,
    owner: &LeaseOwner,
    now: DateTime<Utc>,
    claim_until: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let rows: Vec<ClaimedRow> = sqlx::query_as(concat!(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, claimed_by = ?1, next_attempt_at = ?3 \
         WHERE (webhook_id, event_id) IN (SELECT webhook_id, event_id FROM webhook_deliveries \
             WHERE state = 'pending' AND next_attempt_at <= ?2 ORDER BY next_attempt_at, event_id LIMIT ?4) \
         RETURNING ",
        delivery_columns!(),
        ", payload"
    ))
    .bind(owner.as_str())
    .bind(stored_at(now))
    .bind(stored_at(claim_until))
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(store_error)?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let delivery = Delivery::try_from(row.delivery)?;
        let (url, secret): (String, Vec<u8>) =
            sqlx::query_as("SELECT url, secret_ciphertext FROM webhooks WHERE id = ?")
                .bind(stored_id(delivery.webhook_id.as_uuid()))
                .fetch_one(&mut *conn)
                .await
                .map_err(store_error)?;
        claimed.push(ClaimedDelivery {
            delivery,
            url: WebhookUrl::from_stored(&url)?,
            secret_ciphertext: SecretCiphertext::from_bytes(secret),
            payload: row.payload,
        });
    }
    Ok(claimed)
}
