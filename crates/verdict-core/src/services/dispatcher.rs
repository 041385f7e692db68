//! The dispatcher (docs/contract.md#continuous-verification): claims due deliveries from the outbox, signs each with its
//! subscription's current secret (Standard Webhooks), sends them concurrently and records each
//! attempt — delivered on a 2xx, retried on the backoff schedule, `failed` after the last. A
//! delivery whose dispatcher dies mid-attempt becomes due again when its claim expires: at
//! least once, never lost.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::Ports;
use crate::domain::{AttemptRecord, AttemptResult, ClaimedDelivery, DeliveryErrorClass, LeaseOwner};
use crate::ports::{OutboundRequest, StoreError, WebhookTransport};
use crate::rules::sign_webhook;

/// Deliveries claimed per round trip (and sent concurrently).
pub const DELIVERY_BATCH: u32 = 32;

/// How long a dispatcher holds a claimed delivery: well past the 10 s request timeout, so a live
/// dispatcher always records its attempt before another may take the delivery over.
pub const DELIVERY_CLAIM: Duration = Duration::seconds(60);

/// Sends due webhook deliveries.
#[derive(Clone)]
pub struct DispatcherService {
    ports: Ports,
    transport: Arc<dyn WebhookTransport>,
}

impl std::fmt::Debug for DispatcherService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatcherService").finish_non_exhaustive()
    }
}

impl DispatcherService {
    /// Builds the service on `transport`.
    #[must_use]
    pub fn new(ports: Ports, transport: Arc<dyn WebhookTransport>) -> Self {
        Self { ports, transport }
    }

    /// Claims up to [`DELIVERY_BATCH`] due deliveries for `owner` and attempts them all
    /// concurrently. Answers how many it claimed: a full batch means more may be due.
    ///
    /// # Errors
    /// [`StoreError`] when the claim fails. A failure to record an attempt is logged; that
    /// delivery is attempted again when its claim expires.
    pub async fn dispatch_due(&self, owner: &LeaseOwner) -> Result<usize, StoreError> {
        let now = self.ports.clock.now();
        let claimed = self.ports.outbox.claim_due(owner, now, now + DELIVERY_CLAIM, DELIVERY_BATCH).await?;
        let count = claimed.len();
        futures::future::join_all(claimed.into_iter().map(|delivery| self.attempt(owner, delivery))).await;
        Ok(count)
    }

    /// When the earliest pending delivery is due, so an idle dispatcher sleeps just that long.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.ports.outbox.next_due_at().await
    }

    #[tracing::instrument(skip_all, fields(
        webhook_id = %claimed.delivery.webhook_id,
        event_id = %claimed.delivery.event_id,
        attempt = claimed.delivery.attempts,
    ))]
    async fn attempt(&self, owner: &LeaseOwner, claimed: ClaimedDelivery) {
        let delivery = &claimed.delivery;
        let result = match self.ports.cipher.decrypt_signing_secret(delivery.webhook_id, &claimed.secret_ciphertext) {
            Ok(secret) => {
                let timestamp = self.ports.clock.now().timestamp();
                let id = delivery.event_id.to_string();
                let signature = sign_webhook(secret.expose_bytes(), &id, timestamp, &claimed.payload);
                let request = OutboundRequest {
                    url: claimed.url.clone(),
                    webhook_id: id,
                    webhook_timestamp: timestamp,
                    webhook_signature: signature,
                    body: claimed.payload.clone(),
                };
                self.transport.send(request).await
            }
            Err(_) => {
                tracing::error!("the webhook's signing secret cannot be decrypted with the configured key");
                AttemptResult::Error(DeliveryErrorClass::Secret)
            }
        };
        let record = AttemptRecord::decide(delivery.attempts, result, self.ports.clock.now());
        self.ports.observer.delivery_attempted(delivery.event_type, result, record.state());
        tracing::info!(
            event_type = delivery.event_type.as_str(),
            status = record.status_code(),
            error = record.error_class().map(DeliveryErrorClass::as_str),
            state = record.state().as_str(),
            "webhook delivery attempted"
        );
        let recorded = self
            .ports
            .outbox
            .record_attempt(delivery.webhook_id, delivery.event_id, owner, delivery.attempts, record)
            .await;
        match recorded {
            Ok(true) => {}
            Ok(false) => tracing::debug!("the delivery's claim was taken over or its webhook deleted"),
            Err(error) => tracing::warn!(error = %error, "the attempt could not be recorded; it is made again"),
        }
    }
}
