//! The webhook outbox (docs/contract.md#continuous-verification): events written in the completion's transaction, one delivery
//! row per (subscription, event), attempted at least once by a dispatcher until a 2xx answer or
//! the retry schedule runs out.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ParseError, SecretCiphertext, WebhookEventId, WebhookEventType, WebhookId, WebhookUrl, WorkspaceId};
use super::{RunId, to_micros};

/// An event to deliver, as a completion hands it to the store: the store fans it out to every
/// subscription of the workspace that receives its type, in the completion's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The event id (`webhook-id`, payload `id`).
    pub id: WebhookEventId,
    /// Its type.
    pub event_type: WebhookEventType,
    /// The workspace whose subscriptions receive it.
    pub workspace_id: WorkspaceId,
    /// The run it is about.
    pub run_id: RunId,
    /// The exact body sent on every attempt (sanitized JSON, docs/contract.md#continuous-verification payload).
    pub payload: String,
    /// When it happened (the completion).
    pub occurred_at: DateTime<Utc>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Every attempt failed; no more are made.
    Failed,
}

impl DeliveryState {
    /// The stored (and wire) name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    ///
    /// # Errors
    /// [`ParseError`] for anything else.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| ParseError::new("state", "must be pending, delivered or failed"))
    }
}

/// Why an attempt got no HTTP answer: a closed set, safe to show and to use as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryErrorClass {
    /// No answer within the 10 s timeout.
    Timeout,
    /// The host name did not resolve.
    Dns,
    /// The host resolved to (or is) a non-public address and private addresses are not allowed.
    BlockedAddress,
    /// The TCP connection failed.
    Connect,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The secret could not be decrypted with the configured key.
    Secret,
    /// Anything else (a malformed answer, a broken connection).
    Other,
}

impl DeliveryErrorClass {
    /// Every class.
    pub const ALL: [Self; 7] =
        [Self::Timeout, Self::Dns, Self::BlockedAddress, Self::Connect, Self::Tls, Self::Secret, Self::Other];

    /// The stored (and wire) name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Dns => "dns",
            Self::BlockedAddress => "blocked_address",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Secret => "secret",
            Self::Other => "other",
        }
    }

    /// Parses a stored name.
    ///
    /// # Errors
    /// [`ParseError`] for anything else.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == value)
            .ok_or_else(|| ParseError::new("last_error", "is not a known error class"))
    }
}

/// What one attempt got back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// An HTTP answer with this status (2xx is success, anything else a failure).
    Status(u16),
    /// No HTTP answer.
    Error(DeliveryErrorClass),
}

impl AttemptResult {
    /// Whether the attempt delivered the event (any 2xx).
    #[must_use]
    pub const fn is_success(self) -> bool {
        matches!(self, Self::Status(200..=299))
    }
}

/// What an attempt leaves behind: its result, when it ended, and the state it leaves the
/// delivery in. Only [`AttemptRecord::decide`] builds one, so the state always follows the
/// retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptRecord {
    result: AttemptResult,
    at: DateTime<Utc>,
    state: DeliveryState,
    next_attempt_at: Option<DateTime<Utc>>,
}

impl AttemptRecord {
    /// The record of attempt number `attempt` (1-based) that ended at `at` with `result`: any
    /// 2xx delivers; otherwise the delivery waits for the next pause of the retry schedule, or
    /// fails when there is none left.
    #[must_use]
    pub fn decide(attempt: u32, result: AttemptResult, at: DateTime<Utc>) -> Self {
        let at = to_micros(at);
        let (state, next_attempt_at) = if result.is_success() {
            (DeliveryState::Delivered, None)
        } else {
            match crate::rules::next_attempt_after(attempt, at) {
                Some(next) => (DeliveryState::Pending, Some(to_micros(next))),
                None => (DeliveryState::Failed, None),
            }
        };
        Self { result, at, state, next_attempt_at }
    }

    /// The attempt's result.
    #[must_use]
    pub const fn result(&self) -> AttemptResult {
        self.result
    }

    /// When it ended.
    #[must_use]
    pub const fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// The state it leaves the delivery in.
    #[must_use]
    pub const fn state(&self) -> DeliveryState {
        self.state
    }

    /// When the next attempt is due (pending only).
    #[must_use]
    pub const fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.next_attempt_at
    }

    /// The stored `last_status_code`.
    #[must_use]
    pub const fn status_code(&self) -> Option<u16> {
        match self.result {
            AttemptResult::Status(code) => Some(code),
            AttemptResult::Error(_) => None,
        }
    }

    /// The stored `last_error`.
    #[must_use]
    pub const fn error_class(&self) -> Option<DeliveryErrorClass> {
        match self.result {
            AttemptResult::Status(_) => None,
            AttemptResult::Error(class) => Some(class),
        }
    }
}

/// One delivery as the deliveries endpoint lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The subscription.
    pub webhook_id: WebhookId,
    /// The event.
    pub event_id: WebhookEventId,
    /// The event's type.
    pub event_type: WebhookEventType,
    /// The run the event is about.
    pub run_id: RunId,
    /// Attempts started so far.
    pub attempts: u32,
    /// Where it stands.
    pub state: DeliveryState,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last attempt's HTTP status, if it got one.
    pub last_status_code: Option<u16>,
    /// The last attempt's error class, if it got no HTTP answer.
    pub last_error: Option<DeliveryErrorClass>,
    /// When the event was enqueued.
    pub created_at: DateTime<Utc>,
    /// When the last attempt ended.
    pub last_attempt_at: Option<DateTime<Utc>>,
}

/// A delivery a dispatcher claimed for one attempt: the row (with `attempts` already counting
/// this one) and what the attempt needs — the subscription's URL and current secret, read at
/// claim time so a rotated secret takes effect at once, and the exact body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The row.
    pub delivery: Delivery,
    /// Where to send it.
    pub url: WebhookUrl,
    /// The subscription's current secret, encrypted.
    pub secret_ciphertext: SecretCiphertext,
    /// The body.
    pub payload: String,
}

/// The columns of `webhook_deliveries` (plus, for a claim, the subscription's URL and secret).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the columns of the table, named as in the schema
pub struct StoredDelivery {
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub run_id: Uuid,
    pub attempts: i64,
    pub state: String,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// Rebuilds a delivery from its stored columns.
    ///
    /// # Errors
    /// [`ParseError`] naming the first column that does not hold a value Verdict writes.
    pub fn from_stored(row: StoredDelivery) -> Result<Self, ParseError> {
        let state = DeliveryState::parse(&row.state)?;
        Ok(Self {
            webhook_id: WebhookId::from_uuid(row.webhook_id),
            event_id: WebhookEventId::from_uuid(row.event_id),
            event_type: WebhookEventType::parse(&row.event_type)?,
            run_id: RunId::from_uuid(row.run_id),
            attempts: u32::try_from(row.attempts).map_err(|_| ParseError::new("attempts", "must not be negative"))?,
            state,
            next_attempt_at: row.next_attempt_at.filter(|_| state == DeliveryState::Pending).map(to_micros),
            last_status_code: row
                .last_status_code
                .map(|code| {
                    u16::try_from(code).map_err(|_| ParseError::new("last_status_code", "is not an HTTP status"))
                })
                .transpose()?,
            last_error: row.last_error.as_deref().map(DeliveryErrorClass::parse).transpose()?,
            created_at: to_micros(row.created_at),
            last_attempt_at: row.last_attempt_at.map(to_micros),
        })
    }
}

/// A keyset position in a subscription's deliveries, newest event first: event ids are UUIDv7,
/// so their order is the order events were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryCursor(pub WebhookEventId);

impl DeliveryCursor {
    /// The opaque text form handed to API callers.
    #[must_use]
    pub fn encode(&self) -> String {
        self.0.to_string()
    }

    /// Parses an opaque cursor.
    ///
    /// # Errors
    /// [`ParseError`] when it was not produced by [`DeliveryCursor::encode`].
    pub fn decode(text: &str) -> Result<Self, ParseError> {
        text.parse().map(Self).map_err(|_| ParseError::new("cursor", "is not a cursor returned by this API"))
    }
}

/// One page of a subscription's deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPage {
    /// Newest event first.
    pub deliveries: Vec<Delivery>,
    /// Where the next page starts, if there may be one.
    pub next: Option<DeliveryCursor>,
}

impl DeliveryPage {
    /// A page from up to `limit + 1` rows in listing order (the extra row only says that another
    /// page follows).
    #[must_use]
    pub fn from_overfetched(mut deliveries: Vec<Delivery>, limit: super::PageLimit) -> Self {
        let limit = limit.get() as usize;
        let more = deliveries.len() > limit;
        deliveries.truncate(limit);
        let next = if more { deliveries.last().map(|d| DeliveryCursor(d.event_id)) } else { None };
        Self { deliveries, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_is_any_2xx() {
        for (result, ok) in [
            (AttemptResult::Status(200), true),
            (AttemptResult::Status(204), true),
            (AttemptResult::Status(299), true),
            (AttemptResult::Status(301), false),
            (AttemptResult::Status(500), false),
            (AttemptResult::Status(199), false),
            (AttemptResult::Error(DeliveryErrorClass::Timeout), false),
        ] {
            assert_eq!(result.is_success(), ok, "{result:?}");
        }
    }

    #[test]
    fn stored_names_round_trip() {
        for class in DeliveryErrorClass::ALL {
            assert_eq!(DeliveryErrorClass::parse(class.as_str()), Ok(class));
        }
        for state in [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed] {
            assert_eq!(DeliveryState::parse(state.as_str()), Ok(state));
        }
        let cursor = DeliveryCursor(WebhookEventId::generate());
        assert_eq!(DeliveryCursor::decode(&cursor.encode()), Ok(cursor));
        assert!(DeliveryCursor::decode("nope").is_err());
    }
}
