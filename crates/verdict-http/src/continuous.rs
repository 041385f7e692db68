//! Request and response bodies of continuous verification (docs/contract.md#continuous-verification): schedules, webhook
//! subscriptions and their deliveries. The signing secret appears only in
//! [`WebhookWithSecretDto`], the answer of create and rotate.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use verdict_core::domain::{
    Delivery, DeliveryPage, EventTypes, RunId, Schedule, ScheduleInterval, Webhook, WebhookDescription, WebhookEventId,
    WebhookId, timestamp_serde,
};
use verdict_core::services::WebhookWithSecret;

fn interval<'de, D: Deserializer<'de>>(d: D) -> Result<ScheduleInterval, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    ScheduleInterval::parse(&text).map_err(|e| serde::de::Error::custom(e.problem))
}

/// `PUT …/provider-connections/{id}/schedule`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetScheduleRequest {
    /// ISO 8601 duration from `PT5M` to `P30D` (weeks, days, hours, minutes, seconds).
    #[serde(deserialize_with = "interval")]
    #[schema(value_type = String, example = "PT6H", min_length = 2, max_length = 64, pattern = "^[Pp]")]
    pub interval: ScheduleInterval,
    /// The first run, at most one interval from now; null or omitted: one interval from now.
    #[serde(default, with = "timestamp_serde::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_run_at: Option<DateTime<Utc>>,
}

/// A connection's schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleDto {
    /// The interval, as an ISO 8601 duration.
    #[schema(value_type = String, example = "PT6H")]
    interval: String,
    /// When the next verification starts (within seconds of it, plus nothing else).
    #[serde(with = "timestamp_serde")]
    #[schema(value_type = String, format = DateTime)]
    next_run_at: DateTime<Utc>,
    #[serde(with = "timestamp_serde")]
    #[schema(value_type = String, format = DateTime)]
    created_at: DateTime<Utc>,
    #[serde(with = "timestamp_serde")]
    #[schema(value_type = String, format = DateTime)]
    updated_at: DateTime<Utc>,
}

impl From<Schedule> for ScheduleDto {
    fn from(s: Schedule) -> Self {
        Self {
            interval: s.interval.as_str().to_owned(),
            next_run_at: s.next_run_at,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// `POST /v1/workspaces/{ws}/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where deliveries are POSTed: an `https://` URL whose host is not a non-public address.
    #[schema(max_length = 2048, pattern = "^[Hh][Tt][Tt][Pp][Ss]?://", example = "https://hooks.example.com/verdict")]
    pub url: String,
    /// The event types to receive, at least one.
    #[schema(value_type = Vec<String>, min_items = 1, example = json!(["verification.regressed"]))]
    pub events: EventTypes,
    /// A note for operators, at most 200 characters.
    #[serde(default)]
    #[schema(value_type = String, max_length = 200)]
    pub description: WebhookDescription,
}

/// A webhook subscription, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDto {
    #[schema(value_type = String, format = Uuid)]
    id: WebhookId,
    workspace_id: i64,
    url: String,
    /// The event types it receives.
    #[schema(value_type = Vec<String>)]
    events: EventTypes,
    description: String,
    #[serde(with = "timestamp_serde")]
    #[schema(value_type = String, format = DateTime)]
    created_at: DateTime<Utc>,
    #[serde(with = "timestamp_serde")]
    #[schema(value_type = String, format = DateTime)]
    updated_at: DateTime<Utc>,
    #[serde(with = "timestamp_serde")]
    #[schema(value_type = String, format = DateTime)]
    secret_rotated_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookDto {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id,
            workspace_id: w.workspace_id.get(),
            url: w.url.as_str().to_owned(),
            events: w.events,
            description: w.description.as_str().to_owned(),
            created_at: w.created_at,
            updated_at: w.updated_at,
            secret_rotated_at: w.secret_rotated_at,
        }
    }
}

/// A subscription with its signing secret: the answer of create and rotate, the only ones that
/// ever show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecretDto {
    /// The subscription.
    webhook: WebhookDto,
    /// The signing secret, `whsec_` + base64 of 32 bytes. Shown once: store it now.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    secret: String,
}

impl From<WebhookWithSecret> for WebhookWithSecretDto {
    fn from(created: WebhookWithSecret) -> Self {
        Self { secret: created.secret.expose_whsec(), webhook: created.webhook.into() }
    }
}

/// One delivery of an event to a subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDto {
    /// The event id (`webhook-id`).
    #[schema(value_type = String, format = Uuid)]
    event_id: WebhookEventId,
    /// The event type.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    event_type: &'static str,
    #[schema(value_type = String, format = Uuid)]
    run_id: RunId,
    /// Attempts made so far.
    attempts: u32,
    /// `pending`, `delivered` or `failed`.
    #[schema(value_type = String)]
    state: &'static str,
    /// The last attempt's HTTP status, if it got one.
    last_status_code: Option<u16>,
    /// The last attempt's error class when it got no HTTP answer: `timeout`, `dns`,
    /// `blocked_address`, `connect`, `tls`, `secret` or `other`.
    #[schema(value_type = Option<String>)]
    last_error: Option<&'static str>,
    /// When the next attempt is due (pending only).
    #[serde(with = "timestamp_serde::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    next_attempt_at: Option<DateTime<Utc>>,
    #[serde(with = "timestamp_serde")]
    #[schema(value_type = String, format = DateTime)]
    created_at: DateTime<Utc>,
    #[serde(with = "timestamp_serde::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    last_attempt_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for DeliveryDto {
    fn from(d: Delivery) -> Self {
        Self {
            event_id: d.event_id,
            event_type: d.event_type.as_str(),
            run_id: d.run_id,
            attempts: d.attempts,
            state: d.state.as_str(),
            last_status_code: d.last_status_code,
            last_error: d.last_error.map(|e| e.as_str()),
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            last_attempt_at: d.last_attempt_at,
        }
    }
}

/// A page of a subscription's deliveries, newest event first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPageDto {
    /// The deliveries.
    deliveries: Vec<DeliveryDto>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

impl From<DeliveryPage> for DeliveryPageDto {
    fn from(page: DeliveryPage) -> Self {
        Self {
            deliveries: page.deliveries.into_iter().map(DeliveryDto::from).collect(),
            next_cursor: page.next.map(|c| c.encode()),
        }
    }
}
