//! What continuous verification needs beyond storage: sending a signed webhook request, waking
//! the dispatcher after a completion, and reporting what the scheduler and the dispatcher did
//! (metrics) without core knowing the metrics library.

use async_trait::async_trait;
use chrono::Duration;

use crate::domain::{AttemptResult, DeliveryState, WebhookEventType, WebhookUrl};

/// One signed webhook request, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    /// Where.
    pub url: WebhookUrl,
    /// `webhook-id`: the event id.
    pub webhook_id: String,
    /// `webhook-timestamp`: unix seconds of this attempt.
    pub webhook_timestamp: i64,
    /// `webhook-signature`: `v1,<base64>`.
    pub webhook_signature: String,
    /// The JSON body, exactly as signed.
    pub body: String,
}

/// Sends webhook requests.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    /// POSTs `request` (`Content-Type: application/json` and the three `webhook-*` headers) and
    /// answers what came back. The implementation must give up after 10 seconds
    /// ([`AttemptResult::Error`] `Timeout`), never follow redirects, and — unless private
    /// addresses are allowed — resolve the host, refuse it when any address is not public
    /// (`BlockedAddress`) and connect only to the addresses it checked. It never fails
    /// otherwise: every problem is an [`AttemptResult`].
    async fn send(&self, request: OutboundRequest) -> AttemptResult;
}

/// Receives "deliveries were enqueued" after a completion committed, so the dispatcher of this
/// process attempts them at once instead of at its next poll. Must be cheap and must not fail.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait DeliveryNotifier: Send + Sync {
    /// A completion enqueued webhook events.
    fn deliveries_enqueued(&self);
}

/// A notifier that tells nobody (the dispatcher's fallback poll finds the deliveries).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDeliveryNotifier;

impl DeliveryNotifier for NoDeliveryNotifier {
    fn deliveries_enqueued(&self) {}
}

/// How a scheduled start went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduledStart {
    /// A new run (queued, or a blocked stub).
    Created,
    /// An existing run of the identity answered (docs/contract.md#idempotent-starts).
    Deduplicated,
    /// The start failed; the schedule fires again when its claim expires.
    Failed,
}

impl ScheduledStart {
    /// The metric label.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Deduplicated => "deduplicated",
            Self::Failed => "failed",
        }
    }
}

/// What the scheduler and the dispatcher report, for metrics. Every method has a no-op default.
pub trait ContinuousObserver: Send + Sync {
    /// A due schedule was started `lag` after it was due.
    fn schedule_fired(&self, lag: Duration, result: ScheduledStart) {
        let _ = (lag, result);
    }

    /// An attempt of an event of type `event_type` ended, leaving the delivery in `state`
    /// (`pending` means it will be retried).
    fn delivery_attempted(&self, event_type: WebhookEventType, result: AttemptResult, state: DeliveryState) {
        let _ = (event_type, result, state);
    }
}

/// An observer that records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl ContinuousObserver for NoObserver {}
