//! Verdict's HTTP adapter: the axum router serving SPEC §9 with the security of §7. Handlers
//! parse input into domain types, call one core service and map its outcome to the stable error
//! table; authentication, limits, request ids, tracing and metrics are layers around them.

pub mod auth;
pub mod dto;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod openapi;
pub mod telemetry;
pub mod ui;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use verdict_core::services::{AcknowledgementService, AuditService, ConnectionService, Ports, VerificationService};

use crate::auth::{Authenticator, HasAuthenticator};
use crate::error::ApiError;
use crate::telemetry::Metrics;

/// Whether the service can do its job: the database answers.
#[async_trait]
pub trait Readiness: Send + Sync {
    /// `Ok` when ready; otherwise a reason for the log (never shown to callers).
    async fn check(&self) -> Result<(), String>;
}

/// Limits of the HTTP layer.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// A request that takes longer is answered 503 (a database that does not answer must never
    /// hang a client).
    pub request_timeout: Duration,
    /// The readiness probe's deadline.
    pub readiness_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self { request_timeout: Duration::from_secs(15), readiness_timeout: Duration::from_secs(2) }
    }
}

/// Everything handlers need.
#[derive(Clone)]
pub struct AppState {
    verifications: VerificationService,
    acknowledgements: AcknowledgementService,
    connections: ConnectionService,
    audit: AuditService,
    authenticator: Authenticator,
    readiness: Arc<dyn Readiness>,
    readiness_timeout: Duration,
    request_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
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
        Self {
            verifications: VerificationService::new(ports.clone()),
            acknowledgements: AcknowledgementService::new(ports.clone()),
            connections: ConnectionService::new(ports.clone()),
            audit: AuditService::new(ports),
            authenticator,
            readiness,
            readiness_timeout: limits.readiness_timeout,
            request_timeout: limits.request_timeout,
            metrics,
        }
    }
}

impl HasAuthenticator for AppState {
    fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    use handlers::{audit, connections, health, runs, verifications};
    let tenant = "/v1/workspaces/{ws}/tenants/{t}";
    let api = Router::new()
        .route(&format!("{tenant}/provider-connections"), post(connections::create).get(connections::list))
        .route(&format!("{tenant}/provider-connections/{{id}}"), get(connections::get))
        .route(&format!("{tenant}/provider-connections/{{id}}/secret"), put(connections::rotate_secret))
        .route(&format!("{tenant}/provider-connections/{{id}}/disable"), post(connections::disable))
        .route(&format!("{tenant}/verifications"), post(verifications::start))
        .route(&format!("{tenant}/verifications/latest"), get(verifications::latest))
        .route(&format!("{tenant}/runs"), get(verifications::list))
        .route("/v1/runs/{id}", get(runs::view))
        .route("/v1/runs/{id}/report", get(runs::report))
        .route("/v1/runs/{id}/acknowledgements", post(runs::acknowledge).get(runs::acknowledgements))
        .route("/v1/workspaces/{ws}/audit-events", get(audit::events))
        .route("/v1/workspaces/{ws}/audit-events/verify", get(audit::verify))
        .route("/v1/openapi.json", get(health::openapi))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(ui::routes())
        .fallback(|| async { ApiError::NotFound });
    telemetry::layers(api.layer(DefaultBodyLimit::max(extract::BODY_LIMIT_BYTES)), state.clone()).with_state(state)
}

#[cfg(test)]
mod tests;
