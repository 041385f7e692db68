//! Verdict's webhook transport (docs/contract.md#continuous-verification): core's `WebhookTransport` port on reqwest with rustls.
//! Core signs the request; this adapter only carries it, safely:
//!
//! - **No server-side request forgery.** The host is resolved here, every address is checked with
//!   core's `is_public_address`, and the connection goes to exactly the checked addresses
//!   (reqwest's `resolve_to_addrs`), so a DNS answer that changes between check and connect
//!   (rebinding) cannot redirect it. Redirects are never followed and proxies from the
//!   environment are ignored. `allow_private` (development and tests only) skips the address check.
//! - **Bounded.** The whole attempt — resolution, connection, TLS, request, response head — has
//!   10 seconds; the response body is never read.
//!
//! Every outcome is an `AttemptResult`: a status code, or a closed error class safe to store and
//! to use as a metric label. Nothing of the URL, the body or the signature is logged here.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use url::Host;
use verdict_core::domain::{AttemptResult, DeliveryErrorClass};
use verdict_core::ports::{OutboundRequest, WebhookTransport};
use verdict_core::rules::is_public_address;

/// The timeout of one attempt (docs/contract.md#continuous-verification).
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The `User-Agent` of deliveries.
const USER_AGENT: &str = concat!("Verdict-Webhooks/", env!("CARGO_PKG_VERSION"));

/// Sends signed webhook requests over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpTransport {
    allow_private: bool,
    timeout: Duration,
}

impl HttpTransport {
    /// A transport with the 10 s timeout; `allow_private` permits non-public addresses
    /// (`VERDICT_WEBHOOK_ALLOW_PRIVATE`, development and tests only).
    #[must_use]
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private, timeout: DELIVERY_TIMEOUT }
    }

    /// The same transport with another timeout (tests).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn attempt(&self, request: OutboundRequest) -> AttemptResult {
        let url = request.url.as_url();
        let Some(port) = url.port_or_known_default() else {
            return AttemptResult::Error(DeliveryErrorClass::Other);
        };
        let (domain, addresses) = match url.host() {
            Some(Host::Ipv4(ip)) => (None, vec![SocketAddr::new(IpAddr::V4(ip), port)]),
            Some(Host::Ipv6(ip)) => (None, vec![SocketAddr::new(IpAddr::V6(ip), port)]),
            Some(Host::Domain(name)) => match tokio::net::lookup_host((name, port)).await {
                Ok(found) => (Some(name.to_owned()), found.collect::<Vec<_>>()),
                Err(_) => return AttemptResult::Error(DeliveryErrorClass::Dns),
            },
            None => return AttemptResult::Error(DeliveryErrorClass::Other),
        };
        if addresses.is_empty() {
            return AttemptResult::Error(DeliveryErrorClass::Dns);
        }
        if !self.allow_private && addresses.iter().any(|a| !is_public_address(a.ip())) {
            return AttemptResult::Error(DeliveryErrorClass::BlockedAddress);
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.timeout)
            .user_agent(USER_AGENT);
        if let Some(domain) = &domain {
            // Connect to the checked addresses, and only to them.
            builder = builder.resolve_to_addrs(domain, &addresses);
        }
        let Ok(client) = builder.build() else {
            return AttemptResult::Error(DeliveryErrorClass::Other);
        };
        let sent = client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", request.webhook_id)
            .header("webhook-timestamp", request.webhook_timestamp.to_string())
            .header("webhook-signature", request.webhook_signature)
            .body(request.body)
            .send()
            .await;
        match sent {
            Ok(response) => AttemptResult::Status(response.status().as_u16()),
            Err(error) => AttemptResult::Error(classify(&error)),
        }
    }
}

/// The error class of a failed request: its kind, and a TLS failure found in its causes.
fn classify(error: &reqwest::Error) -> DeliveryErrorClass {
    if error.is_timeout() {
        return DeliveryErrorClass::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        let text = cause.to_string().to_ascii_lowercase();
        // rustls reports certificate and handshake failures through io errors of hyper-util; the
        // type is private, so its words are the only way to tell (the class is informational).
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return DeliveryErrorClass::Tls;
        }
        source = cause.source();
    }
    if error.is_connect() { DeliveryErrorClass::Connect } else { DeliveryErrorClass::Other }
}

#[async_trait]
impl WebhookTransport for HttpTransport {
    async fn send(&self, request: OutboundRequest) -> AttemptResult {
        // One deadline over resolution too, which has no timeout of its own.
        match tokio::time::timeout(self.timeout, self.attempt(request)).await {
            Ok(result) => result,
            Err(_) => AttemptResult::Error(DeliveryErrorClass::Timeout),
        }
    }
}

#[cfg(test)]
mod tests;
