//! Verdict's HTTP adapter: the axum router serving the API of docs/contract.md with its security
//! rules. Handlers authorize, then parse input into domain types, call one core service and map
//! its outcome to the stable error table; authentication is an extractor, request ids, the edge
//! checks, tracing, the deadline and metrics are one layer around them ([`telemetry::layers`]),
//! and [`server::serve`] adds the connection-level limits.

pub mod auth;
pub mod continuous;
pub mod dto;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod openapi;
pub mod params;
pub mod server;
pub mod telemetry;
pub mod ui;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::routing::{get, post, put};
use verdict_core::services::{
    AcknowledgementService, AuditService, ConnectionService, FleetService, Ports, ScheduleService, VerificationService,
    WebhookService,
};

use crate::auth::{Authenticator, HasAuthenticator};
use crate::error::ApiError;
use crate::telemetry::Metrics;

/// Whether the service can do its job: the database answers (and, where that can fail on its
/// own, a write commits).
#[async_trait]
pub trait Readiness: Send + Sync {
    /// `Ok` when ready; otherwise a reason for the log (never shown to callers).
    async fn check(&self) -> Result<(), String>;
}

/// Request-level limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request that takes longer is answered 503 (a database that does not answer must never
    /// hang a client).
    pub request_timeout: Duration,
    /// The readiness probe's deadline.
    pub readiness_timeout: Duration,
    /// How long a request body may take to arrive before the answer is 408.
    pub body_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(15),
            readiness_timeout: Duration::from_secs(2),
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// The longest request target answered with anything but 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header fields answered with anything but 431.
pub const MAX_HEADER_FIELDS: usize = 100;
/// The most header bytes (names and values) answered with anything but 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Everything handlers need, behind one `Arc`: axum clones the state for every request and every
/// `from_fn_with_state` layer, and each service holds its own copy of [`Ports`] (sixteen `Arc`s),
/// so cloning the fields one by one cost over a hundred reference-count updates per request.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

/// The fields of [`AppState`], reached through its `Deref`.
pub struct AppStateInner {
    verifications: VerificationService,
    acknowledgements: AcknowledgementService,
    connections: ConnectionService,
    audit: AuditService,
    fleet: FleetService,
    schedules: ScheduleService,
    webhooks: WebhookService,
    authenticator: Authenticator,
    readiness: Arc<dyn Readiness>,
    limits: HttpLimits,
    metrics: Arc<Metrics>,
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Debug for AppStateInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state from core's ports.
    #[must_use]
    pub fn new(
        ports: Ports,
        authenticator: Authenticator,
        readiness: Arc<dyn Readiness>,
        metrics: Arc<Metrics>,
        limits: HttpLimits,
    ) -> Self {
        Self(Arc::new(AppStateInner {
            verifications: VerificationService::new(ports.clone()),
            acknowledgements: AcknowledgementService::new(ports.clone()),
            connections: ConnectionService::new(ports.clone()),
            schedules: ScheduleService::new(ports.clone()),
            webhooks: WebhookService::new(ports.clone()),
            fleet: FleetService::new(ports.clone()),
            audit: AuditService::new(ports),
            authenticator,
            readiness,
            limits,
            metrics,
        }))
    }
}

impl HasAuthenticator for AppState {
    fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    use handlers::{audit, connections, fleet, health, runs, schedules, verifications, webhooks};
    let tenant = "/v1/workspaces/{ws}/tenants/{t}";
    let api = Router::new()
        .route(&format!("{tenant}/provider-connections"), post(connections::create).get(connections::list))
        .route(&format!("{tenant}/provider-connections/{{id}}"), get(connections::get))
        .route(&format!("{tenant}/provider-connections/{{id}}/secret"), put(connections::rotate_secret))
        .route(&format!("{tenant}/provider-connections/{{id}}/disable"), post(connections::disable))
        .route(
            &format!("{tenant}/provider-connections/{{id}}/schedule"),
            put(schedules::set).get(schedules::get).delete(schedules::remove),
        )
        .route(&format!("{tenant}/verifications"), post(verifications::start))
        .route(&format!("{tenant}/verifications/latest"), get(verifications::latest))
        .route(&format!("{tenant}/runs"), get(verifications::list))
        .route("/v1/runs/{id}", get(runs::view))
        .route("/v1/runs/{id}/report", get(runs::report))
        .route("/v1/runs/{id}/acknowledgements", post(runs::acknowledge).get(runs::acknowledgements))
        .route("/v1/workspaces/{ws}/verification-status", get(fleet::status))
        .route("/v1/workspaces/{ws}/audit-events", get(audit::events))
        .route("/v1/workspaces/{ws}/audit-events/verify", get(audit::verify))
        .route("/v1/workspaces/{ws}/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/v1/workspaces/{ws}/webhooks/{id}", get(webhooks::get).delete(webhooks::delete))
        .route("/v1/workspaces/{ws}/webhooks/{id}/rotate-secret", post(webhooks::rotate_secret))
        .route("/v1/workspaces/{ws}/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/v1/openapi.json", get(health::openapi))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(ui::routes())
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(|| async { ApiError::NotFound });
    telemetry::layers(api, state.clone()).with_state(state)
}

/// The checks that need nothing but the request line and headers, answered before anything
/// else runs: a target over [`MAX_URI_BYTES`] (414), too many or too large header fields (431),
/// and a declared `Content-Length` over the body limit (413 at once, instead of waiting for a
/// body that may never come). The edge layer ([`telemetry::layers`]) asks it first, inside the
/// request's span.
fn refused_at_edge(request: &Request) -> Option<ApiError> {
    let uri_bytes = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return Some(ApiError::UriTooLong);
    }
    let headers = request.headers();
    let header_bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if headers.len() > MAX_HEADER_FIELDS || header_bytes > MAX_HEADER_BYTES {
        return Some(ApiError::HeadersTooLarge);
    }
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(str::parse::<u64>);
    match declared {
        Some(Ok(length)) if length > extract::BODY_LIMIT_BYTES as u64 => Some(ApiError::PayloadTooLarge),
        Some(Err(_)) => Some(ApiError::BadRequest),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
