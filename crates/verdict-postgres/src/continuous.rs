//! The [`ScheduleStore`], [`WebhookStore`] and [`DeliveryOutbox`] ports, expanded from the
//! templates of `verdict_sql::ports` with PostgreSQL's statements, and the outbox fan-out
//! completions call inside their transaction. Due schedules and deliveries are claimed with
//! `FOR UPDATE SKIP LOCKED`, so any number of processes share them without waiting on each other
//! and none takes a row another holds.
//!
//! [`ScheduleStore`]: verdict_core::ports::ScheduleStore
//! [`WebhookStore`]: verdict_core::ports::WebhookStore
//! [`DeliveryOutbox`]: verdict_core::ports::DeliveryOutbox

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use uuid::Uuid;
use verdict_core::domain::{
    ClaimedDelivery, Delivery, LeaseOwner, SecretCiphertext, WebhookEvent, WebhookUrl, to_micros,
};
use verdict_core::ports::StoreError;
use verdict_sql::{Postgres, delivery_columns, delivery_outbox, schedule_store, webhook_store};

use crate::PgStore;
use crate::audit::append;
use crate::error::store_error;
use crate::queries::{CLAIM_DELIVERIES, CLAIM_SCHEDULES, ENQUEUE_DELIVERIES};
use crate::rows::{DeliveryRow, stored_at, stored_id, stored_optional_at};

/// A page of a subscription's deliveries, newest first, before the cursor's event id (`$2`, or
/// from the newest when null: the literal is the greatest `uuid`, so the index range stays one).
const LIST_DELIVERIES: &str = concat!(
    "SELECT ",
    delivery_columns!(),
    " FROM webhook_deliveries WHERE webhook_id = $1 \
     AND event_id < COALESCE($2::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid) \
     ORDER BY event_id DESC LIMIT $3"
);

schedule_store!(PgStore, Postgres);
webhook_store!(PgStore, Postgres);
delivery_outbox!(PgStore, Postgres);

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
    bind_events(sqlx::query(ENQUEUE_DELIVERIES), events).execute(conn).await.map_err(store_error)?;
    Ok(())
}

/// Binds `events` as the six arrays of `enqueue_deliveries!` (`queries.rs`), after the
/// parameters `query` already has.
pub(crate) fn bind_events<'q>(
    query: Query<'q, sqlx::Postgres, PgArguments>,
    events: &'q [WebhookEvent],
) -> Query<'q, sqlx::Postgres, PgArguments> {
    query
        .bind(events.iter().map(|e| *e.id.as_uuid()).collect::<Vec<Uuid>>())
        .bind(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<&str>>())
        .bind(events.iter().map(|e| *e.run_id.as_uuid()).collect::<Vec<Uuid>>())
        .bind(events.iter().map(|e| e.payload.as_str()).collect::<Vec<&str>>())
        .bind(events.iter().map(|e| to_micros(e.occurred_at)).collect::<Vec<DateTime<Utc>>>())
        .bind(events.iter().map(|e| e.workspace_id.get()).collect::<Vec<i64>>())
}

/// Claims up to `limit` due deliveries for `owner` until `claim_until`, with their subscription's
/// URL and current secret, in one statement on `conn` (its own transaction).
async fn claim_deliveries(
    conn: &mut PgConnection,
    owner: &LeaseOwner,
    now: DateTime<Utc>,
    claim_until: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let rows: Vec<ClaimedRow> = sqlx::query_as(CLAIM_DELIVERIES)
        .bind(owner.as_str())
        .bind(stored_at(now))
        .bind(stored_at(claim_until))
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await
        .map_err(store_error)?;
    rows.into_iter()
        .map(|row| {
            Ok(ClaimedDelivery {
                delivery: Delivery::try_from(row.delivery)?,
                url: WebhookUrl::from_stored(&row.url)?,
                secret_ciphertext: SecretCiphertext::from_bytes(row.secret_ciphertext),
                payload: row.payload,
            })
        })
        .collect()
}
